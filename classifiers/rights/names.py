"""Protected characters named or described in a prompt or caption.

Two cues. **Names**: each token of the original text is normalised on its own (case, accents,
look-alike letters, leetspeak, stretched letters; :func:`classifiers.text_tricks.normalize_prompt`),
and runs of consecutive tokens are walked through a trie of compacted names, so "Sp0nge B0b",
"s p o n g e b o b" and "sponge-bob" all match "SpongeBob" while "spongebobcat" does not (a match
must end on a token boundary) and spans still point into the original text. One edit is tolerated
for long names. **Descriptions**: the prompt and its clauses are embedded with MiniLM and compared
with each registered description (with and without the character's names in it), so a paraphrase
that never names the character is still found.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from classifiers.rights.references import Arrays, Character, ReferenceIndex
from classifiers.text_embed import SentenceEmbedder
from classifiers.text_tricks import normalize_prompt

METHOD = "minilm/1"
_QUOTES = "\u00b4\u2018\u2019\u201c\u201d\u00bf\u00a1"  # typographic quotes, inverted marks
_TOKEN = re.compile(r"[^\s.,;:()\[\]{}\"'`?<>=#&/\\|~+*_\-" + _QUOTES + "]+")
_NON_WORD = re.compile(r"[\W_]+")
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "đ": "d", "ł": "l", "ħ": "h", "þ": "th"}
)
_CLAUSE = re.compile(r"[,.;:!?()\[\]]+|\s(?:and|while|with|who|that|but)\s")
WINDOW, STRIDE, MAX_SPAN_TOKENS = 12, 6, 48  # spaced-out names take one token per letter
# Semantic calibration: logistic in cosine, fitted on classifiers/rights/data/character_prompts.jsonl
# (see benchmarks/CHARACTER_DETECTION.md): 0.5 at the cosine where precision and recall balance.
SEMANTIC_MID, SEMANTIC_SLOPE = 0.68, 0.04
SCORES = {"name": 0.97, "alias": 0.93, "fuzzy": 0.72, "ambiguous": 0.5}


@dataclass(frozen=True, slots=True)
class TextMatch:
    """One character found in text: where, how, and what it matched."""

    character_id: str
    method: str  # "name", "alias", "fuzzy", "ambiguous" (prompt_name) or "semantic" (prompt_semantic)
    score: float
    span: tuple[int, int]  # in the original text
    text: str  # the matched part of the text
    matched: str  # the registered name or description
    source: str = "prompt"  # "prompt" or "caption"


def compact(text: str) -> str:
    """The normalised letters and digits of ``text`` ("Sp0nge-B0b!" -> "spongebob")."""
    return _NON_WORD.sub("", normalize_prompt(text.lower().translate(_UNDECOMPOSED)))


def _tokens(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        c = compact(m.group(0))
        if c:
            out.append((m.start(), m.end(), c))
    return out


def _osa_le1(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        swapped = i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
        return a[i + 1 :] == b[i + 1 :] or swapped
    return a[i + 1 :] == b[i:] if len(a) > len(b) else a[i:] == b[i + 1 :]


@dataclass(frozen=True, slots=True)
class _Entry:
    character_id: str
    text: str
    kind: str  # the SCORES key when it matches exactly


class NameMatcher:
    """Name/alias and description matching over a :class:`ReferenceIndex`; :meth:`sync` after updates."""

    def __init__(
        self, references: ReferenceIndex, embedder: SentenceEmbedder | None = None, min_semantic: float = 0.2
    ) -> None:
        self.references = references
        self.embedder = embedder
        self.min_semantic = min_semantic
        self._revision = -1
        self.sync()

    def sync(self) -> None:
        """Rebuild the name trie and the description matrix (cheap: embeddings are cached per character)."""
        if self._revision == self.references.revision:
            return
        self._trie: dict[str, object] = {}
        self._deletes: dict[str, list[tuple[str, _Entry]]] = defaultdict(list)
        vectors: list[npt.NDArray[np.float32]] = []
        self._desc_owner: list[tuple[str, str]] = []
        for char in self.references:
            for name in char.names:
                key = compact(name.text)
                if not key:
                    continue
                kind = "ambiguous" if name.ambiguous or len(key) <= 3 else name.kind
                node = self._trie
                for ch in key:
                    node = node.setdefault(ch, {})  # type: ignore[assignment]
                node.setdefault("$", []).append(_Entry(char.character_id, name.text, kind))  # type: ignore[attr-defined]
                if kind != "ambiguous" and len(key) >= 7:  # "holmes" vs "homes": short names too risky
                    for variant in {key, *(key[:i] + key[i + 1 :] for i in range(len(key)))}:
                        self._deletes[variant].append((key, _Entry(char.character_id, name.text, "fuzzy")))
            if self.embedder is not None and char.descriptions:
                feats = self.references.features(METHOD, char.character_id, self._embed_descriptions)
                vectors.append(feats["vectors"])
                texts = [t for _, t in char.all_descriptions()]
                self._desc_owner += [(char.character_id, texts[int(i)]) for i in feats["description"]]
        self._matrix = np.concatenate(vectors) if vectors else np.zeros((0, 384), dtype=np.float32)
        self._revision = self.references.revision

    def _embed_descriptions(self, char: Character) -> Arrays:
        """Each description, and the same text with the character's names removed (paraphrases lack them)."""
        assert self.embedder is not None
        names = sorted((n.text for n in char.names), key=len, reverse=True)
        texts, owner = [], []
        for i, (_, text) in enumerate(char.all_descriptions()):
            stripped = text
            for name in names:
                stripped = re.sub(rf"(?i)\b{re.escape(name)}\b[,:]?", " ", stripped)
            for variant in dict.fromkeys([text, " ".join(stripped.split())]):
                if variant:
                    texts.append(normalize_prompt(variant))
                    owner.append(i)
        return {"vectors": self.embedder.embed(texts), "description": np.asarray(owner, dtype=np.int64)}

    def match_names(self, text: str, source: str = "prompt") -> list[TextMatch]:
        """Registered names and aliases in ``text``, best per character first."""
        toks = _tokens(text)
        found: dict[tuple[str, int, int], TextMatch] = {}
        for i in range(len(toks)):
            node: dict[str, object] | None = self._trie
            for j in range(i, min(len(toks), i + MAX_SPAN_TOKENS)):
                for ch in toks[j][2]:
                    node = node.get(ch) if node is not None else None  # type: ignore[assignment]
                    if node is None:
                        break
                if node is None:
                    break
                for entry in node.get("$", []):  # type: ignore[attr-defined]
                    self._add(found, entry, SCORES[entry.kind], text, toks[i][0], toks[j][1], source)
        if self._deletes:
            for i in range(len(toks)):
                joined = ""
                for j in range(i, min(len(toks), i + MAX_SPAN_TOKENS)):
                    joined += toks[j][2]
                    if len(joined) > 40:
                        break
                    if len(joined) < 6:
                        continue
                    for variant in {joined, *(joined[:k] + joined[k + 1 :] for k in range(len(joined)))}:
                        for key, entry in self._deletes.get(variant, ()):
                            if _osa_le1(joined, key):
                                self._add(found, entry, SCORES["fuzzy"], text, toks[i][0], toks[j][1], source)
        return _best_per_character(found.values())

    @staticmethod
    def _add(
        found: dict[tuple[str, int, int], TextMatch],
        entry: _Entry,
        score: float,
        text: str,
        a: int,
        b: int,
        source: str,
    ) -> None:
        key = (entry.character_id, a, b)
        if key not in found or found[key].score < score:
            found[key] = TextMatch(
                entry.character_id, entry.kind, score, (a, b), text[a:b], entry.text, source
            )

    def match_semantic(self, text: str, source: str = "prompt") -> list[TextMatch]:
        """Characters whose description the text paraphrases, with a calibrated score, best first."""
        if self.embedder is None or not len(self._matrix) or not text.strip():
            return []
        units = _units(text)
        sims = self.embedder.embed([normalize_prompt(u[2]) for u in units]) @ self._matrix.T  # units x descs
        best: dict[str, TextMatch] = {}
        for d, (cid, desc) in enumerate(self._desc_owner):
            u = int(np.argmax(sims[:, d]))
            score = semantic_score(float(sims[u, d]))
            if score >= self.min_semantic and (cid not in best or best[cid].score < score):
                a, b, part = units[u]
                best[cid] = TextMatch(cid, "semantic", score, (a, b), part, desc, source)
        return sorted(best.values(), key=lambda m: -m.score)


def semantic_score(cosine: float) -> float:
    """Cosine similarity -> a probability-like score (logistic; see SEMANTIC_MID)."""
    return 1.0 / (1.0 + math.exp(-(cosine - SEMANTIC_MID) / SEMANTIC_SLOPE))


def _units(text: str) -> list[tuple[int, int, str]]:
    """The whole text, its clauses, and word windows: a long prompt cannot dilute a described character."""
    units = [(0, len(text), text)]
    cuts = [0, *(p for m in _CLAUSE.finditer(text) for p in (m.start(), m.end())), len(text)]
    starts = [0] + [m.start() for m in _CLAUSE.finditer(text)]
    for a in sorted(set(starts)):  # a clause plus what follows it up to the next two cuts
        nexts = [c for c in cuts if c > a + 1][:4]
        for b in nexts[1::2] if len(nexts) > 1 else nexts:
            part = text[a:b].strip(" ,.;:")
            if len(part.split()) >= 3:
                units.append((a, b, part))
    words = [m.span() for m in re.finditer(r"\S+", text)]
    if len(words) > WINDOW:
        for s in range(0, len(words) - STRIDE, STRIDE):
            a, b = words[s][0], words[min(s + WINDOW, len(words)) - 1][1]
            units.append((a, b, text[a:b]))
    return list(dict.fromkeys(units))[:32]


def _best_per_character(matches: Iterable[TextMatch]) -> list[TextMatch]:
    best: dict[str, TextMatch] = {}
    for m in matches:
        if m.character_id not in best or (m.score, m.span[1] - m.span[0]) > (
            best[m.character_id].score,
            best[m.character_id].span[1] - best[m.character_id].span[0],
        ):
            best[m.character_id] = m
    return sorted(best.values(), key=lambda m: -m.score)
