"""``CharacterDetector``: protected characters in a video's prompt, caption and frames.

Four cues, each its own signal so the policy (and a moderator) can see which one fired:
``rights.prompt_name`` (name or alias, normalised against spelling tricks), ``rights.prompt_semantic``
(the prompt paraphrases a registered description), ``rights.image_near_duplicate`` (PDQ reuse of a
reference image or clip) and ``rights.image_local_features`` (the reference appears inside a scene).
``rights.character`` is the strongest character over all cues, combined by noisy-or, so a
character that is both named and seen scores higher than either cue alone.

Score bands are shared by all cues: >= ``CONFIDENT`` is a match, ``REVIEW``..``CONFIDENT`` is
ambiguous (an everyday word that is also a name, a loose paraphrase, a heavily edited copy, few
keypoints) and meant to be held for a person, below ``REVIEW`` is noise. Evidence labels read
``<character_id>/<method>[/<detail>]``; the bands are recorded in each label as ``ambiguous`` when they apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from classifiers.base import Detector, DetectorInput, Evidence, Modality, Signal
from classifiers.rights.audio import AudioMatch, AudioMatcher
from classifiers.rights.hashes import HashMatch, HashMatcher
from classifiers.rights.image_features import FeatureMatch, ImageFeatureMatcher
from classifiers.rights.local_features import LocalFeatureMatcher, LocalMatch
from classifiers.rights.names import NameMatcher, TextMatch
from classifiers.rights.references import ReferenceIndex
from classifiers.text_embed import SentenceEmbedder

CONFIDENT, REVIEW, FLOOR = 0.8, 0.4, 0.2
FEATURE_SIGNAL = "rights.image_features"  # optional weak cue (off by default: model licence unknown)
MAX_EVIDENCE = 24
METHOD_SIGNALS = {
    "prompt_name": "rights.prompt_name",
    "prompt_semantic": "rights.prompt_semantic",
    "image_near_duplicate": "rights.image_near_duplicate",
    "image_local_features": "rights.image_local_features",
}


def _label(cid: str, method: str, score: float, detail: str = "") -> str:
    band = "/ambiguous" if REVIEW <= score < CONFIDENT else ""
    return f"{cid}/{method}{'/' + detail if detail else ''}{band}"


def noisy_or(scores: Sequence[float]) -> float:
    """Combine independent cues: 1 - prod(1 - s), ignoring noise below FLOOR."""
    miss = 1.0
    for s in scores:
        if s >= FLOOR:
            miss *= 1.0 - s
    return min(0.99, 1.0 - miss) if miss < 1.0 else max(scores, default=0.0)


class CharacterDetector(Detector):
    """Protected characters by name, description, reused image and local appearance.

    Built in code around a :class:`ReferenceIndex` (see :func:`build_character_detector`), not from
    policy options: the registry is data from the database. Index updates are picked up on the next
    :meth:`detect` (each matcher re-indexes only the characters that changed).
    """

    name: ClassVar[str] = "characters"
    version: ClassVar[str] = "1.0.0"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES, Modality.TEXT})
    signal_names: ClassVar[tuple[str, ...]] = ("rights.character", *METHOD_SIGNALS.values())

    def __init__(
        self,
        references: ReferenceIndex,
        names: NameMatcher,
        hashes: HashMatcher | None = None,
        local: LocalFeatureMatcher | None = None,
        features: ImageFeatureMatcher | None = None,
    ) -> None:
        self.references, self.names, self.hashes, self.local = references, names, hashes, local
        self.features = features

    def produces(self) -> tuple[str, ...]:
        """The class's signals, plus ``rights.image_features`` when that optional cue is on."""
        return self.signal_names + ((FEATURE_SIGNAL,) if self.features is not None else ())

    def detect(self, data: DetectorInput) -> list[Signal]:
        per_method: dict[str, dict[str, tuple[float, list[Evidence]]]] = {m: {} for m in METHOD_SIGNALS}
        if self.features is not None:
            per_method["image_features"] = {}
        if data.text is not None:
            self.names.sync()
            texts = [("prompt", data.text.prompt)] + (
                [("caption", data.text.caption)] if data.text.caption else []
            )
            for source, text in texts:
                self._add_text(per_method["prompt_name"], self.names.match_names(text, source), "prompt_name")
                sem = self.names.match_semantic(text, source)
                self._add_text(per_method["prompt_semantic"], sem, "prompt_semantic")
        if data.frames is not None and len(data.frames.frames):
            frames, times = list(data.frames.frames), list(data.frames.timestamps)
            if self.hashes is not None:
                self.hashes.sync()
                self._add_hashes(per_method["image_near_duplicate"], self.hashes.match(frames), times)
            if self.local is not None:
                self.local.sync()
                self._add_local(per_method["image_local_features"], self.local.match(frames), times)
            if self.features is not None:
                self.features.sync()
                self._add_features(per_method["image_features"], self.features.match(frames), times)
        return self._signals(per_method)

    @staticmethod
    def _add_text(
        out: dict[str, tuple[float, list[Evidence]]], matches: list[TextMatch], method: str
    ) -> None:
        for m in matches:
            ev = Evidence(
                label=_label(m.character_id, method, m.score, f"{m.source}:{m.method}"),
                score=m.score,
                text_span=m.span,
                text=f"{m.text} ~ {m.matched}",
            )
            best, evs = out.get(m.character_id, (0.0, []))
            out[m.character_id] = (max(best, m.score), [*evs, ev])

    @staticmethod
    def _add_hashes(
        out: dict[str, tuple[float, list[Evidence]]], matches: list[HashMatch], times: list[float]
    ) -> None:
        for m in matches:
            detail = f"{m.source}:pdq={m.distance}" + (
                f":coverage={m.coverage:.2f}" if m.source.startswith("clip") else ""
            )
            evs = [
                Evidence(
                    frame_index=i,
                    t=times[i],
                    label=_label(m.character_id, "image_near_duplicate", m.score, detail),
                    score=m.score,
                )
                for i in m.frame_indices
            ]
            best, old = out.get(m.character_id, (0.0, []))
            out[m.character_id] = (max(best, m.score), old + evs)

    @staticmethod
    def _add_local(
        out: dict[str, tuple[float, list[Evidence]]], matches: list[LocalMatch], times: list[float]
    ) -> None:
        for m in matches:
            detail = f"image:{m.image}{':mirrored' if m.mirrored else ''}:inliers={m.inliers}"
            ev = Evidence(
                frame_index=m.frame_index,
                t=times[m.frame_index],
                box=m.box,
                score=m.score,
                label=_label(m.character_id, "image_local_features", m.score, detail),
            )
            best, old = out.get(m.character_id, (0.0, []))
            out[m.character_id] = (max(best, m.score), [*old, ev])

    @staticmethod
    def _add_features(
        out: dict[str, tuple[float, list[Evidence]]], matches: list[FeatureMatch], times: list[float]
    ) -> None:
        for m in matches:
            label = _label(
                m.character_id, "image_features", m.score, f"image:{m.image}:cosine={m.cosine:.2f}"
            )
            ev = Evidence(frame_index=m.frame_index, t=times[m.frame_index], box=ImageFeatureMatcher.box(m),
                          score=m.score, label=label)  # fmt: skip
            best, old = out.get(m.character_id, (0.0, []))
            out[m.character_id] = (max(best, m.score), [*old, ev])

    def _signals(self, per_method: dict[str, dict[str, tuple[float, list[Evidence]]]]) -> list[Signal]:
        signals = []
        combined: dict[str, list[float]] = defaultdict(list)
        evidence: dict[str, list[Evidence]] = defaultdict(list)
        for method, found in per_method.items():
            top = max((s for s, _ in found.values()), default=0.0)
            evs = sorted((e for s, es in found.values() for e in es), key=lambda e: -(e.score or 0.0))
            name = METHOD_SIGNALS.get(method, FEATURE_SIGNAL)
            signals.append(self._signal(name, top, evs[:MAX_EVIDENCE]))
            for cid, (score, es) in found.items():
                combined[cid].append(score)
                evidence[cid].extend(es)
        scores = {cid: noisy_or(s) for cid, s in combined.items()}
        ranked = sorted(scores, key=lambda c: -scores[c])
        evs = [Evidence(label=_label(cid, "combined", scores[cid]), score=scores[cid]) for cid in ranked]
        for cid in ranked:
            evs.extend(sorted(evidence[cid], key=lambda e: -(e.score or 0.0))[:4])
        signals.insert(
            0, self._signal("rights.character", scores[ranked[0]] if ranked else 0.0, evs[:MAX_EVIDENCE])
        )
        return signals

    def close(self) -> None:
        if self.names.embedder is not None:
            self.names.embedder.close()


def build_character_detector(
    references: ReferenceIndex,
    *,
    embedder: SentenceEmbedder | None = None,
    semantic: bool = True,
    near_duplicates: bool = True,
    local_features: bool = True,
    max_frames: int = 8,
    threads: int = 1,
    image_features_model: str | Path | None = None,
) -> CharacterDetector:
    """The detector with every default method on; ``embedder`` may be shared with other text detectors.

    ``image_features_model`` (the ONNX from scripts/export_mobilenet_features.py) turns on the optional
    ``rights.image_features`` cue; it is off unless given because the weights' licence is unknown.
    """
    if semantic and embedder is None:
        embedder = SentenceEmbedder(threads=threads)
    names = NameMatcher(references, embedder if semantic else None)
    hashes = HashMatcher(references) if near_duplicates else None
    local = LocalFeatureMatcher(references, max_frames=max_frames) if local_features else None
    features = (
        ImageFeatureMatcher(references, image_features_model, threads=threads)
        if image_features_model is not None
        else None
    )
    return CharacterDetector(references, names, hashes, local, features)


def audio_signal(detector: Detector, matches: Sequence[AudioMatch]) -> Signal:
    """``rights.audio`` from :meth:`AudioMatcher.match`, stamped by ``detector``, for the pipeline to
    add when it has the media path (frames carry no audio); evidence holds the matched time ranges."""
    evs = [
        Evidence(
            t=m.start,
            score=m.score,
            label=_label(m.character_id, "audio", m.score, m.label),
            text=f"{m.start:.1f}-{m.end:.1f}s (reference at {m.reference_start:.1f}s, "
            f"bit error rate {m.bit_error_rate:.2f})",
        )
        for m in matches
    ]
    return Signal(
        "rights.audio",
        max((m.score for m in matches), default=0.0),
        detector.name,
        detector.version,
        tuple(evs[:MAX_EVIDENCE]),
    )


__all__ = ["AudioMatcher", "CharacterDetector", "audio_signal", "build_character_detector"]
