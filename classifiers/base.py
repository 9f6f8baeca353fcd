"""The one small interface every detector implements, and the typed results it returns.

Detectors are pure: they see decoded frames and text, never Kafka, HTTP or the database.
The pipeline decodes once and hands the same :class:`FrameBatch` to every frame detector.
A detector that finds more than scores (matched identities, the registry version it matched
against) also implements the :class:`ReportsArtifacts` capability and returns a :class:`Detection`:
the artifacts travel with the result to whoever stores them, so no state is kept on the instance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

A = TypeVar("A")

Frame = npt.NDArray[np.uint8]
"""One decoded frame, ``H x W x 3`` uint8 in **RGB** order."""


class Modality(StrEnum):
    """What a detector consumes; the pipeline only prepares what some detector needs."""

    FRAMES = "frames"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in the coordinates of the frame the detector saw, normalised to 0..1."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a signal came from: a frame (with time and optional box) or a span of text."""

    frame_index: int | None = None
    t: float | None = None
    box: Box | None = None
    label: str | None = None
    score: float | None = None
    text_span: tuple[int, int] | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """A scored observation. ``score`` is in 0..1 so policy thresholds mean the same across detectors."""

    name: str
    score: float
    detector: str
    detector_version: str
    evidence: tuple[Evidence, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"signal {self.name!r} score {self.score} outside 0..1")


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Frames sampled from one video, shared by all frame detectors.

    ``frames[i]`` was shown at ``timestamps[i]`` seconds; all frames have the same size.
    """

    frames: Sequence[Frame]
    timestamps: Sequence[float]
    source_width: int
    source_height: int

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.timestamps):
            raise ValueError("frames and timestamps differ in length")


@dataclass(frozen=True, slots=True)
class TextInput:
    """Text that belongs to the video: the generation prompt and, when known, a caption."""

    prompt: str
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class DetectorInput:
    """Everything a detector may consume; fields for modalities nobody asked for stay ``None``."""

    frames: FrameBatch | None = None
    text: TextInput | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


class Detector(ABC):
    """A named, versioned producer of :class:`Signal` s.

    Subclasses declare ``name``, ``version``, ``consumes`` and ``signal_names`` as class
    attributes, so the pipeline and the policy loader can check wiring without running anything.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    consumes: ClassVar[frozenset[Modality]]
    signal_names: ClassVar[tuple[str, ...]]

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """A JSON-able card of the detector, recorded with every decision."""
        return {
            "name": cls.name,
            "version": cls.version,
            "consumes": sorted(m.value for m in cls.consumes),
            "signals": list(cls.signal_names),
        }

    def produces(self) -> tuple[str, ...]:
        """Signal names this instance emits; override when options decide them (e.g. a lexicon)."""
        return self.signal_names

    @abstractmethod
    def detect(self, data: DetectorInput) -> list[Signal]:
        """Score the input. Raise on failure: the pipeline turns any exception into a hold."""

    def close(self) -> None:  # noqa: B027 - optional hook, most detectors hold nothing
        """Release sessions or threads; called once when the pipeline shuts down."""

    def _signal(self, name: str, score: float, evidence: Sequence[Evidence] = ()) -> Signal:
        """Build a signal stamped with this detector's identity."""
        return Signal(
            name=name,
            score=float(min(1.0, max(0.0, score))),
            detector=self.name,
            detector_version=self.version,
            evidence=tuple(evidence),
        )


@dataclass(frozen=True, slots=True)
class VersionRead:
    """An artifact: the version of a registry (e.g. ``likeness``) a detector's result is based on."""

    registry: str
    version: int


@dataclass(frozen=True, slots=True)
class Detection:
    """What one ``analyse`` call found: the signals policies read plus typed artifacts for records."""

    signals: list[Signal]
    artifacts: tuple[object, ...] = ()

    def of(self, kind: type[A]) -> list[A]:
        return [a for a in self.artifacts if isinstance(a, kind)]


class ReportsArtifacts(ABC):
    """Capability mixin for a :class:`Detector` whose result carries artifacts besides signals
    (python-threatexchange style: the base interface stays small, extras are opt-in)."""

    @abstractmethod
    def analyse(self, data: DetectorInput) -> Detection:
        """Like ``detect``, plus artifacts; must not keep per-video state on the instance."""

    def detect(self, data: DetectorInput) -> list[Signal]:
        return self.analyse(data).signals


def run_detector(detector: Detector, data: DetectorInput) -> Detection:
    """The :class:`Detection` of any detector (artifacts only from those that report them)."""
    if isinstance(detector, ReportsArtifacts):
        return detector.analyse(data)
    return Detection(detector.detect(data))
