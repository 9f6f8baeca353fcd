"""How the pipeline reads a video's pixels: the strategy behind its ``sample`` stage.

* :class:`DecodeOnce` (``encode_mode="speculative"``, the default): one ffmpeg decodes the
  snapshot once, samples the detectors' frames and encodes the watermarked asset at the same time
  (:mod:`safety.provenance.onepass`); the publish step then only signs and stores. When the
  verdict is not publish, the encode is wasted work and is deleted with the temporary directory.
* :class:`SampleThenEncode` (``encode_mode="after_verdict"``): sample only; the publish step
  decodes the snapshot again to encode (two passes; no wasted encode on held or rejected videos).

Either way the detectors get the same frames (tests/safety/test_onepass.py proves it).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from classifiers.base import FrameBatch
from safety.config import Settings
from safety.events import VideoGenerated
from safety.media import VideoInfo, sample_frames, tools
from safety.provenance.onepass import EncodePlan, Sampling, sample_and_encode
from safety.publishing import PreparedAsset, Publisher

__all__ = [
    "DecodeOnce",
    "EncodePlanner",
    "PassCancelled",
    "PassJob",
    "PixelPass",
    "SampleThenEncode",
    "discarded",
    "pixel_pass",
]

log = logging.getLogger(__name__)


class PassCancelled(RuntimeError):
    """The pipeline gave up on this pass (its stage timed out): start no more ffmpeg for it."""


@dataclass
class PassJob:
    """One video's pass: what it reads, where it may write, and a way to stop its ffmpeg."""

    event: VideoGenerated
    info: VideoInfo
    source: Path  # the snapshot
    decision_id: str
    workdir: Path  # removed by the pipeline when the video is done, published or not
    prefetch: Sequence[object] = ()
    _procs: list[tools.Process] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cancelled: bool = False

    def attach(self, proc: tools.Process) -> None:
        """Track an ffmpeg of this pass; refuse it (raise) once the pass is cancelled."""
        with self._lock:
            if self._cancelled:
                raise PassCancelled(f"the pass over {self.event.video_id} was cancelled (stage deadline)")
            self._procs.append(proc)

    def cancel(self) -> None:
        """Kill any ffmpeg of this pass still running (its stage timed out or the video is done)."""
        with self._lock:
            self._cancelled = True
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(tools.TimeoutExpired):
                proc.wait(timeout=5.0)  # dead before its directory is removed


class PixelPass(Protocol):
    def timeout_s(self) -> float: ...

    def run(self, job: PassJob) -> tuple[FrameBatch, PreparedAsset | None]: ...


@runtime_checkable
class EncodePlanner(Protocol):
    """A publisher that can fix its final encode before the verdict (``ProvenancePublisher``)."""

    def plan_encode(
        self, source: Path, info: VideoInfo, event: VideoGenerated, decision_id: str, workdir: Path
    ) -> EncodePlan | None: ...


class SampleThenEncode:
    """Sample only; the publisher encodes after the verdict (today's two-pass path)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def timeout_s(self) -> float:
        return self.settings.stage_timeout_s

    def run(self, job: PassJob) -> tuple[FrameBatch, PreparedAsset | None]:
        s = self.settings
        batch = sample_frames(
            job.info,
            fps=s.sample_fps,
            scene_threshold=s.scene_threshold,
            max_side=s.detector_max_side,
            limits=s.media_limits,
            prefetch=job.prefetch,  # frame models start while the video decodes
            on_start=job.attach,
        )
        return batch, None


class DecodeOnce(SampleThenEncode):
    """One decode: sampled frames and the speculative watermarked encode together."""

    def __init__(self, settings: Settings, planner: EncodePlanner) -> None:
        super().__init__(settings)
        self.planner = planner

    def timeout_s(self) -> float:
        # The one decode is also the final encode, so it has the publish step's deadline.
        return max(self.settings.stage_timeout_s, self.settings.publish_timeout_s)

    def run(self, job: PassJob) -> tuple[FrameBatch, PreparedAsset | None]:
        plan = self.planner.plan_encode(job.source, job.info, job.event, job.decision_id, job.workdir)
        if plan is None:  # provenance off, or a mark only Python can add: encode after the verdict
            return super().run(job)
        s = self.settings
        return sample_and_encode(
            job.info,
            plan,
            sampling=Sampling(s.sample_fps, s.scene_threshold, s.detector_max_side),
            limits=s.media_limits,
            prefetch=job.prefetch,
            on_start=job.attach,
        )


def discarded(video_id: str, prepared: PreparedAsset) -> None:
    """The speculative encode of a video that is not published: deleted with the temporary
    directory; logged so operators can see what ``encode_mode="speculative"`` costs them."""
    log.info(
        "discarded the speculative encode of %s (%d frames, one-pass decode %.2f s)",
        video_id,
        prepared.frames,
        prepared.seconds,
        extra={"speculative_discarded_ms": round(prepared.seconds * 1000, 1)},
    )


def pixel_pass(settings: Settings, publisher: Publisher) -> PixelPass:
    """The strategy ``settings.encode_mode`` asks for, if the publisher can plan its encode early."""
    if settings.encode_mode == "speculative" and isinstance(publisher, EncodePlanner):
        return DecodeOnce(settings, publisher)
    return SampleThenEncode(settings)
