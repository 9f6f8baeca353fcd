"""Bounds on text that rights holders write and others show: names, descriptions, attributions
and notes reach creator messages, feed attribution and the review page.

Consumers must still escape it for their own context (HTML, shell, CSV ...); these checks only
keep out what escaping does not fix: control characters, bidirectional overrides and invisible
characters that make a string read differently from what it is (e.g. "Trojan Source" reordering).
"""

from __future__ import annotations

import unicodedata

from pydantic import AfterValidator

# Bidi embeddings, overrides and isolates, marks, and invisible separators/joiners that spoof.
_INVISIBLE = frozenset(
    "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_plain(text: str, *, multiline: bool = False) -> str:
    """``text`` in NFC, or ValueError if it has a control, bidi or invisible character
    (newlines and tabs are allowed when ``multiline``)."""
    text = unicodedata.normalize("NFC", text)
    for ch in text:
        if multiline and ch in "\n\t":
            continue
        if ch in _INVISIBLE or unicodedata.category(ch) in _BAD_CATEGORIES:
            raise ValueError(f"character U+{ord(ch):04X} is not allowed (control, bidi or invisible)")
    return text


def _line(text: str) -> str:
    return check_plain(text)


def _lines(text: str) -> str:
    return check_plain(text, multiline=True)


# Metadata for ``Annotated[str, StringConstraints(...), PLAIN_LINE]``.
PLAIN_LINE = AfterValidator(_line)
PLAIN_LINES = AfterValidator(_lines)  # newlines and tabs allowed (notes)
