"""Normalise prompt text so spelling tricks (l33t, s p a c i n g, accents) don't evade screens."""

from __future__ import annotations

import re
import unicodedata

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
)
# Runs of single characters separated by one non-word char: "n u d e", "n.u.d.e", "n-u-d-e".
_SPACED = re.compile(r"\b(?:\w[\s.\-_*]){2,}\w\b")
_SEPARATORS = re.compile(r"[\s.\-_*]")
_WS = re.compile(r"\s+")
# Ages written as "14yo", "9yrs", "13y" are digits, not leetspeak ("14yo" became "iayo": age screens missed).
_AGE = re.compile(r"\d{1,2}(?:yo|yr|yrs|y)")


def _join_spaced(match: re.Match[str]) -> str:
    """Join a spaced-out word; a leading article ("a n u d e") stays a word of its own."""
    letters = _SEPARATORS.sub("", match.group(0))
    if len(letters) >= 4 and letters[0] in "ai":
        return f"{letters[0]} {letters[1:]}"
    return letters


def normalize(text: str) -> str:
    """Lower-case, strip accents and zero-width chars, undo leetspeak, collapse spaced-out letters."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = text.replace("\u200b", "").replace("\u200c", "").replace("\u200d", "").replace("\ufeff", "")
    text = text.lower()
    # Leet digits only inside words: "4 apples" stays, "h4te" becomes "hate".
    text = re.sub(
        r"\w*[a-z]\w*|\w*\d[a-z]\w*",
        lambda m: m.group(0) if _AGE.fullmatch(m.group(0)) else m.group(0).translate(_LEET),
        text,
    )
    text = re.sub(r"(?<=[a-z])[@$!](?=[a-z])", lambda m: m.group(0).translate(_LEET), text)
    text = _SPACED.sub(_join_spaced, text)
    return _WS.sub(" ", text).strip()
