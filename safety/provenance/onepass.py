"""One decode per video: the sampled frames for the detectors and the watermarked encode, together.

The decision id and the watermark id depend only on the video id, the policy version and the key,
so the final encode need not wait for the verdict. One ffmpeg reads the snapshot once and splits
the decoded stream: one branch is exactly the sampling chain of :mod:`safety.media.frames`
(time grid + scene cuts, showinfo, scale to RGB on stdout: the same frames, bit for bit), the
other is exactly the publish step's chain (upright, even size, constant rate, the mark added by
ffmpeg, x264 to an MP4 in the pipeline's temporary directory). The MP4 is unsigned: it is signed
and stored only if the verdict is publish, and deleted with the temporary directory otherwise.

ffmpeg 5.1 runs one transcoding loop, so frames reach the detectors at the encoder's pace; the
detectors that prefetch (frame models) work while x264 does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from classifiers.base import FrameBatch
from classifiers.sessions import prefetcher
from safety.media import tools
from safety.media.errors import MediaRejected
from safety.media.frames import (
    batch_of,
    check_sampling,
    decoder_threads,
    frame_size,
    read_frames,
    sample_frames,
    select_graph,
)
from safety.media.limits import MediaLimits
from safety.media.probe import VideoInfo, ffmpeg_input_args
from safety.provenance.ffproc import TRAILER_FAILED, mark_graph, x264_output
from safety.provenance.source import SourceFormat, check_whole
from safety.publishing import PreparedAsset

__all__ = ["EncodePlan", "Sampling", "onepass_command", "sample_and_encode"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sampling:
    """The detectors' sampling parameters (``Settings.sample_fps`` and friends)."""

    fps: float = 2.0
    scene_threshold: float | None = 0.3
    max_side: int = 512


@dataclass(frozen=True)
class EncodePlan:
    """The publish step's encode of one decision, fixed before detection (the publisher makes it)."""

    decision_id: str
    watermark_id: str
    fmt: SourceFormat
    dest: Path  # where the unsigned MP4 goes (a temporary directory the caller removes)
    grain: Path | None  # the watermark pattern frame (raw yuv420p), None = unmarked
    crf: int
    preset: str
    vf: str | None  # the visible badge, if any
    timeout_s: float


def onepass_command(
    info: VideoInfo, plan: EncodePlan, sampling: Sampling, limits: MediaLimits, size: tuple[int, int]
) -> list[str]:
    """The ffmpeg: output 0 is the MP4 (its frame count on ``-progress pipe:2``), output 1 the
    sampled RGB frames on stdout."""
    width, height = size
    extra_inputs, encode_chain = mark_graph(plan.fmt, plan.grain, plan.vf, source="[e]")
    graph = (
        f"[0:V:0]split=2[e][s];[s]{select_graph(sampling.fps, sampling.scene_threshold, width, height)}[sv];"
        + encode_chain
    )
    cmd = tools.ffmpeg("-nostats", "-loglevel", "level+info", "-y", *decoder_threads())
    cmd += ffmpeg_input_args(info.path, max_pixels=limits.max_pixels)
    cmd += extra_inputs
    # The graph's work (select, one saturating add per pixel, one downscale) is light.
    cmd += ["-filter_complex_threads", "1", "-filter_complex", graph]
    cmd += x264_output(plan.fmt, plan.dest, plan.crf, plan.preset, progress="pipe:2")
    cmd += ["-map", "[sv]", "-frames:v", str(limits.max_sampled_frames), "-f", "rawvideo"]
    return [*cmd, "-pix_fmt", "rgb24", "-fps_mode", "vfr", "pipe:1"]


def sample_and_encode(
    info: VideoInfo,
    plan: EncodePlan,
    *,
    sampling: Sampling,
    limits: MediaLimits,
    prefetch: Iterable[object] = (),
    on_start: Callable[[tools.Process], None] | None = None,
) -> tuple[FrameBatch, PreparedAsset]:
    """Decode ``info.path`` once: the sampled frames (as :func:`~safety.media.sample_frames`
    returns them) and the watermarked MP4 at ``plan.dest``.

    Media errors are the sampling's (:class:`~safety.media.MediaRejected`,
    :class:`~safety.media.MediaUnavailable` at the deadline). A failed encode does not fail the
    sampling (the detectors still run, as when the two passes were separate): the asset carries
    the error and publishing it raises, so the video is held.
    """
    check_sampling(sampling.fps, sampling.scene_threshold, sampling.max_side, limits)
    size = frame_size(info.display_width, info.display_height, sampling.max_side)
    cmd = onepass_command(info, plan, sampling, limits, size)
    started = time.monotonic()
    try:
        decoded = read_frames(
            cmd,
            *size,
            limits,
            prefetcher(prefetch),
            stop_at_cap=False,  # the encode needs the whole stream
            timeout_s=max(limits.decode_timeout_s, plan.timeout_s),
            on_start=on_start,
        )
    except MediaRejected as exc:
        if exc.code != "media.corrupt":
            raise
        # No frame came out: a damaged file, or an encoder that failed before the first frame.
        # Only the sampling decode alone can tell; if it decodes, the video is held, not rejected.
        batch = sample_frames(
            info,
            fps=sampling.fps,
            scene_threshold=sampling.scene_threshold,
            max_side=sampling.max_side,
            limits=limits,
            prefetch=prefetch,
            on_start=on_start,
        )
        failed = "one-pass decode+encode produced no frame although the video decodes (encoder failed)"
        log.warning("%s: %s", failed, info.path.name)
        return batch, PreparedAsset(plan.decision_id, plan.watermark_id, None, failed)
    seconds = time.monotonic() - started
    batch = batch_of(info, decoded.frames, decoded.timestamps, sampling.fps, limits)
    check_whole(plan.fmt, decoded.progress_frames)
    error: str | None = None
    if decoded.returncode != 0:
        error = f"one-pass encode failed (ffmpeg {decoded.returncode}: {decoded.log})"
    elif TRAILER_FAILED in decoded.log:  # ffmpeg 5.1 still exits 0: the MP4 has no index
        error = f"one-pass encode could not finish the MP4 ({decoded.log})"
    elif not plan.dest.is_file() or plan.dest.stat().st_size == 0:
        error = f"one-pass encode wrote no file ({decoded.log})"
    if error is not None:
        log.warning("%s; the frames are kept for the detectors, the video cannot be published", error)
    prepared = PreparedAsset(
        decision_id=plan.decision_id,
        watermark_id=plan.watermark_id,
        path=None if error else plan.dest,
        error=error,
        frames=decoded.progress_frames,
        seconds=seconds,
    )
    return batch, prepared
