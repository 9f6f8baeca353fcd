"""A cheap, explainable prompt screen: category lexicons of regular expressions.

The lexicon is data owned by the policy (``policies/files/*.yaml``) and handed in at
construction, so changing a term is a policy change with a version, not a code change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from classifiers.algospeak import decode, join_spaced
from classifiers.base import Detector, DetectorInput, Evidence, Modality, Signal
from classifiers.text_normalize import normalize
from classifiers.text_tricks import readings


def screen_texts(raw: str) -> list[str]:
    """Every reading the lexicon tries. The classifier's normaliser too (look-alike letters, stretched
    letters, "$ex"): the lexicon was evaded by "chiiild" while the classifier read "child". The algospeak
    reading of each ("seggs", "kms", 🍆💦; issue 17). And the text only NFKC-folded and lower-cased: the
    normalisers strip combining marks and map Cyrillic to Latin, which breaks Hindi, Korean and Russian words.
    Spans refer to the text that matched."""
    base = list(dict.fromkeys((normalize(raw), *readings(raw), normalize(join_spaced(raw)))))
    return list(dict.fromkeys((*base, *map(decode, base), unicodedata.normalize("NFKC", raw).lower())))


@dataclass(frozen=True, slots=True)
class LexiconTerm:
    """One pattern and how strongly a match indicates its category (0..1)."""

    pattern: re.Pattern[str]
    weight: float


class PromptScreen(Detector):
    """Scores each lexicon category by the strongest matching term in the normalised prompt."""

    name: ClassVar[str] = "prompt_screen"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.TEXT})
    signal_names: ClassVar[tuple[str, ...]] = ()  # one ``prompt.<category>`` per lexicon category

    def __init__(self, lexicon: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self._terms: dict[str, list[LexiconTerm]] = {}
        for category, terms in lexicon.items():
            compiled = []
            for term in terms:
                try:
                    pattern = re.compile(str(term["pattern"]), re.IGNORECASE)
                except re.error as exc:
                    raise ValueError(f"lexicon {category!r}: bad pattern {term['pattern']!r}: {exc}") from exc
                compiled.append(LexiconTerm(pattern, float(term.get("weight", 1.0))))
            self._terms[category] = compiled

    def produces(self) -> tuple[str, ...]:
        return tuple(f"prompt.{c}" for c in sorted(self._terms))

    def detect(self, data: DetectorInput) -> list[Signal]:
        if data.text is None:
            raise ValueError("prompt_screen needs text input")
        raw = " ".join(t for t in (data.text.prompt, data.text.caption) if t)
        texts = screen_texts(raw)
        signals = []
        for category, terms in sorted(self._terms.items()):
            best = 0.0
            evidence: list[Evidence] = []
            for term, text in ((term, text) for term in terms for text in texts):
                for match in term.pattern.finditer(text):
                    best = max(best, term.weight)
                    if any(e.text == match.group(0) for e in evidence):
                        continue  # the same words matched in both normalised texts
                    evidence.append(
                        Evidence(
                            text_span=match.span(), text=match.group(0), score=term.weight, label=category
                        )
                    )
            signals.append(self._signal(f"prompt.{category}", best, evidence[:10]))
        return signals
