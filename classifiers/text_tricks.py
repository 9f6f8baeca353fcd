"""Undo more evasion tricks than :func:`classifiers.text_normalize.normalize`, then call it.

Kept separate so the regex screen's behaviour (and its tests) stay exactly as they are, while the
embedding classifier sees text closer to what the evader meant: invisible format characters,
look-alike letters from other scripts, stretched letters ("kiiiill"), more separators ("n/u/d/e")
and spaced-out phrases whose words are split by wider gaps ("s e x y  v i d e o").
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from classifiers.text_normalize import normalize

# Cyrillic and Greek letters that render like Latin ones (lower case; NFKC runs first).
_CONFUSABLES = str.maketrans(
    "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0456\u0458\u0455"
    "\u04bb\u0501\u03b1\u03b2\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7\u0475\u0261\u0131",
    "abeekmhopctyxijshdabeikvoptuxvgi",
)
_STRETCHED = re.compile(r"([a-vx-z])\1{2,}")  # not "www"
_RUN = re.compile(r"(\w)\1{2,}")  # any run of three or more
_TOKENS = re.compile(r"(\W+)")  # words and the separators between them (kept, so joining restores the text)
MAX_STRETCHED_WORDS = 4
# Three or more single characters split by one separator; two or more spaces end a word.
_CHAR = r"[a-z0-9$@!]"
_SEP = r"(?:[.\-_*/|~+]| (?! ))"
_SPACED_WORD = rf"{_CHAR}(?:{_SEP}{_CHAR}){{2,}}"
_SPACED_PHRASE = re.compile(rf"(?<![\w$@]){_SPACED_WORD}(?:\s{{2,}}{_SPACED_WORD})*(?![\w$@])")
_SEP_CHARS = re.compile(r"[.\-_*/|~+ ]")
_MARKS = re.compile(r"[a-z0-9$@!][.\-_*/|~+][a-z0-9$@!]")
_EDGE_DOLLAR = re.compile(r"(?<![\w$@])\$(?=[a-z]{2})")  # "$ex"; "@home" is a handle


def _visible(text: str) -> str:
    """Drop format characters (zero-width, soft hyphen, bidi marks) that split words invisibly."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _join_phrase(match: re.Match[str]) -> str:
    """Join each spaced word; only the phrase's first word may keep a leading article ("a n u d e").

    When letters are joined by a mark ("k-i-l-l t-h-e m-a-n"), any space is a word break.
    """
    phrase = match.group(0)
    gap = r"\s+" if _MARKS.search(phrase) else r"\s{2,}"
    words = [_SEP_CHARS.sub("", w) for w in re.split(gap, phrase)]
    if sum(ch.isalpha() for ch in "".join(words)) < 2:
        return match.group(0)  # "1 2 3": digits are not an evasion; leave them to normalize()
    first = words[0]
    if len(words) == 1 and len(first) >= 5 and first[0] in "ai" and phrase[1] == " ":
        words[0] = f"{first[0]} {first[1:]}"
    return " ".join(words)


def normalize_prompt(text: str) -> str:
    """Normalise ``text`` for the embedding classifier: extra tricks first, then :func:`normalize`."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _visible(text).translate(_CONFUSABLES)
    text = _STRETCHED.sub(r"\1", text)
    text = _EDGE_DOLLAR.sub("s", text)
    text = _SPACED_PHRASE.sub(_join_phrase, text)
    return normalize(text)


def readings(text: str) -> tuple[str, ...]:
    """The normalised readings a word list should try: a stretched run may stand for one letter
    ("chiiild") or two ("teeeenager", "killll"), and each word needs its own ("killll myseeeelf" is
    "kill myself": neither every run as one letter nor every run as two). Every choice is tried for the
    first :data:`MAX_STRETCHED_WORDS` stretched words (at most 16 readings; only evasive text has runs, and
    64 readings cost the screen 18 ms), later ones read as one letter, plus the all-doubled reading."""
    tokens = _TOKENS.split(text)
    stretched = [i for i, t in enumerate(tokens) if _RUN.search(t)]
    if not stretched:
        return (normalize_prompt(text),)
    out = [normalize_prompt(text)]
    for choice in itertools.product((False, True), repeat=min(len(stretched), MAX_STRETCHED_WORDS)):
        words = list(tokens)
        for i, double in zip(stretched, choice, strict=False):
            if double:
                words[i] = _RUN.sub(r"\1\1", words[i])
        out.append(normalize_prompt("".join(words)))
    out.append(normalize_prompt(_RUN.sub(r"\1\1", text)))
    return tuple(dict.fromkeys(out))
