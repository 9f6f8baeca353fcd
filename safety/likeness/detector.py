"""The likeness detector: who known is in this video, and did they agree to this creator using them.

Faces are detected on every sampled frame, linked into tracks, embedded a few times per track and
matched against this worker's :class:`~safety.likeness.view.IndexView`. Unknown faces are
allowed and produce nothing. The per-video tracks and matches, and the registry version they were
matched at, are returned as artifacts (:class:`LikenessResult`, ``VersionRead``) with the signals;
the decision's recorder stores them (:func:`safety.likeness.records.record_matches`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from classifiers.base import (
    Box,
    Detection,
    Detector,
    DetectorInput,
    Evidence,
    Frame,
    Modality,
    ReportsArtifacts,
    Signal,
    VersionRead,
)
from classifiers.face_identity import FaceEmbedder
from classifiers.faces import FaceDetector
from policies.vocabulary import Fact
from safety.likeness.consent import CameoTerms
from safety.likeness.tracking import Track, embed_tracks, link, refine
from safety.likeness.vectors import F32, MatchThresholds
from safety.likeness.view import IndexView, Subject
from safety.store import Database

NO_CONSENT = "likeness.no_consent"
PROTECTED = "likeness.protected"
UNCERTAIN = "likeness.uncertain"
MINOR_CAMEO = "likeness.minor_cameo"
CAMEO_MISSING = "likeness.cameo_missing"
LIMIT_SIGNALS = {
    "no_sexual": "likeness.limit_no_sexual",
    "no_violent": "likeness.limit_no_violent",
    "no_political": "likeness.limit_no_political",
}
MISSING_SCORE = 0.2  # a named cameo not seen is worth noting, never worth acting on alone


@dataclass(frozen=True)
class TrackRecord:
    track: int
    vectors: F32
    evidence: list[dict[str, Any]]


@dataclass(frozen=True)
class MatchRecord:
    """A known person in one track: ``cameo_id`` is set for enrolled owners (and linked protected)."""

    track: int
    cameo_id: str | None
    protected_id: str | None
    similarity: float
    evidence: list[dict[str, Any]]


@dataclass
class LikenessResult:
    """The artifact: faces of one video and who they matched, at ``registry_version``."""

    registry_version: int
    tracks: list[TrackRecord] = field(default_factory=list)
    matches: list[MatchRecord] = field(default_factory=list)
    small_faces: int = 0


class _Settings(Protocol):
    @property
    def data_dir(self) -> Any: ...


class LikenessDetector(ReportsArtifacts, Detector):
    """``detect`` is thread-safe; models are shared, so calls on one instance run one at a time."""

    name: ClassVar[str] = "likeness"
    version: ClassVar[str] = "1"
    consumes: ClassVar[frozenset[Modality]] = frozenset({Modality.FRAMES})
    signal_names: ClassVar[tuple[str, ...]] = (
        NO_CONSENT, PROTECTED, UNCERTAIN, MINOR_CAMEO, CAMEO_MISSING, *LIMIT_SIGNALS.values(),
    )  # fmt: skip

    def __init__(
        self,
        view: IndexView,
        faces: FaceDetector,
        embedder: FaceEmbedder,
        *,
        min_face_px: int = 40,
        max_tracks: int = 8,
        per_track: int = 3,
        owns_models: bool = False,
    ) -> None:
        self.view = view
        self.faces = faces
        self.embedder = embedder
        self.min_face_px = min_face_px
        self.max_tracks = max_tracks
        self.per_track = per_track
        self._owns = owns_models
        self._lock = threading.Lock()

    @property
    def thresholds(self) -> MatchThresholds:
        return self.view.thresholds

    def analyse(self, data: DetectorInput) -> Detection:
        if data.frames is None:
            raise ValueError("likeness needs frames")
        with self._lock:
            result, signals = self._detect(data)
        return Detection(signals, (result, VersionRead("likeness", result.registry_version)))

    def prefetch(self, frames: Sequence[Frame]) -> None:
        """Find faces in ``frames`` while the video still decodes (the face model's outputs are
        shared with every detector using it; tracking and embedding wait for ``detect``)."""
        self.faces.prefetch(frames)

    def _detect(self, data: DetectorInput) -> tuple[LikenessResult, list[Signal]]:
        assert data.frames is not None
        frames, timestamps = data.frames.frames, data.frames.timestamps
        snap = self.view.snapshot
        result = LikenessResult(registry_version=snap.version)
        if not frames:
            return result, self._missing(data, snap.cameos_by_owner, set())
        height, width = frames[0].shape[:2]
        per_frame = []
        for found in self.faces.detect(frames):
            big = [f for f in found if min(f.box.w * width, f.box.h * height) >= self.min_face_px]
            result.small_faces += len(found) - len(big)
            per_frame.append(big)
        tracks = link(per_frame)
        tracks = sorted(tracks, key=lambda t: -max(f.box.w * f.box.h for _, f in t.detections))[
            : self.max_tracks
        ]
        embed_tracks(tracks, frames, self.embedder, self.per_track)
        tracks = refine(tracks)
        creator = data.context.get(Fact.CREATOR_ID)
        found_subjects: dict[str, tuple[Subject, float, list[Evidence]]] = {}
        seen_cameos: set[str] = set()
        th = self.thresholds
        for t in tracks:
            evidence = t.evidence(timestamps)
            result.tracks.append(TrackRecord(t.index, t.vectors, evidence))
            if snap.index.size == 0:
                continue
            best: dict[int, float] = {}
            for row in snap.match(t.vectors):
                for pos, sim in row.items():
                    best[pos] = max(best.get(pos, -1.0), sim)
            for pos, sim in best.items():
                if sim < th.threshold - th.margin:
                    continue
                subject = snap.subjects[pos]
                terms = subject.terms
                result.matches.append(
                    MatchRecord(
                        t.index,
                        terms.id if terms else None,
                        subject.ref if subject.kind == "protected" else None,
                        round(sim, 5),
                        evidence,
                    )
                )
                if terms is not None and th.is_match(sim):
                    seen_cameos.add(terms.id)
                items = _evidence(t, timestamps, subject.ref, sim)
                key = f"{subject.kind}:{subject.ref}"
                prev = found_subjects.get(key)
                if prev is None or sim > prev[1]:
                    found_subjects[key] = (subject, sim, items + (prev[2] if prev else []))
                else:
                    found_subjects[key] = (prev[0], prev[1], prev[2] + items)
        signals = self._signals(found_subjects.values(), creator)
        signals += self._missing(data, snap.cameos_by_owner, seen_cameos)
        return result, signals

    def _signals(self, found: Any, creator: str | None) -> list[Signal]:
        th = self.thresholds
        buckets: dict[str, tuple[float, list[Evidence]]] = {}

        def emit(name: str, score: float, evidence: list[Evidence]) -> None:
            prev = buckets.get(name, (0.0, []))
            buckets[name] = (max(prev[0], score), prev[1] + evidence)

        for subject, sim, evidence in found:
            terms: CameoTerms | None = subject.terms
            allowed = terms is not None and terms.allows(creator)
            problem = not allowed or (terms is not None and terms.age_band == "teen")
            if th.is_uncertain(sim) and problem:
                emit(UNCERTAIN, 0.5 + 0.5 * (1.0 - abs(sim - th.threshold) / th.margin), evidence)
            if not th.is_match(sim):
                continue
            score = th.confidence(sim)
            if terms is None:
                emit(PROTECTED, score, evidence)
                continue
            if not allowed:
                emit(NO_CONSENT, score, evidence)
            elif creator != terms.owner_id:
                for limit in sorted(terms.limits):
                    if limit in LIMIT_SIGNALS:
                        emit(LIMIT_SIGNALS[limit], score, evidence)
            if terms.age_band == "teen":
                emit(MINOR_CAMEO, score, evidence)
        return [self._signal(name, score, ev[:24]) for name, (score, ev) in sorted(buckets.items())]

    def _missing(self, data: DetectorInput, by_owner: dict[str, CameoTerms], seen: set[str]) -> list[Signal]:
        named = [str(c) for c in data.context.get("cameos") or ()]
        evidence = []
        for owner in named:
            terms = by_owner.get(owner)
            if terms is None or terms.id not in seen:
                evidence.append(Evidence(label=terms.id if terms else "not-enrolled", score=0.0))
        return [self._signal(CAMEO_MISSING, MISSING_SCORE, evidence)] if evidence else []

    def close(self) -> None:
        if self._owns:
            self.view.close()
            self.faces.close()


def _evidence(track: Track, timestamps: Any, label: str, sim: float) -> list[Evidence]:
    return [
        Evidence(frame_index=e["frame_index"], t=e["t"], box=Box(*e["box"]), label=label, score=round(sim, 4))
        for e in track.evidence(timestamps, limit=6)
    ]


def build_likeness_detector(settings: _Settings, db: Database, *, poll_s: float = 1.0) -> LikenessDetector:
    """The worker's detector: an index view polling ``db`` and the face models, owned and closed by it."""
    view = IndexView(db, poll_s=poll_s)
    view.refresh(force=True)
    view.start()
    return LikenessDetector(view, FaceDetector(), FaceEmbedder(), owns_models=True)
