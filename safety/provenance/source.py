"""What the final encode needs to know about a source video, and how it reports failure.

Split out of :mod:`safety.provenance.encode` so the two-pass encode (publish after the verdict)
and the one-pass decode+encode (:mod:`safety.provenance.onepass`) share one definition.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from safety.media import tools
from safety.media.errors import MediaRejected
from safety.media.probe import VideoInfo, ffmpeg_input_args

__all__ = ["EncodeError", "EncodeStats", "SourceFormat", "check_whole", "probe_source"]


class EncodeError(RuntimeError):
    """ffmpeg failed or timed out; the message carries the tail of its log."""


@dataclass(frozen=True)
class SourceFormat:
    """What the encode needs to know about the source: even display size, frame rate, audio."""

    width: int
    height: int
    rate: Fraction
    duration_s: float
    audio_codec: str | None

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3 // 2

    @classmethod
    def from_info(cls, info: VideoInfo) -> SourceFormat | None:
        """The same facts from the pipeline's own probe, when it has them all (no audio to name).

        Saves an ffprobe per published video; ``None`` (probe with :func:`probe_source`) when the
        source has audio (its codec decides copy vs AAC) or an unusual frame rate.
        """
        if info.has_audio or not 0 < info.fps <= 240:
            return None
        w, h = info.display_width, info.display_height
        rate = Fraction(info.fps).limit_denominator(1001)
        return cls(w - w % 2, h - h % 2, rate, info.duration_s, None)


@dataclass(frozen=True)
class EncodeStats:
    frames: int
    seconds: float
    mark_seconds: float  # time spent in the per-frame callback (the watermark add)


def probe_source(path: Path, timeout_s: float = 60.0) -> SourceFormat:
    """Display size (after rotation, rounded down to even), frame rate and audio codec."""
    cmd = tools.ffprobe("-v", "error", "-print_format", "json", "-show_streams", "-show_format")
    cmd += ffmpeg_input_args(path)
    try:
        proc = tools.run(cmd, timeout_s=timeout_s)
    except tools.TimeoutExpired:
        raise EncodeError(f"ffprobe took longer than {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise EncodeError(f"ffprobe failed: {proc.stderr.decode('utf-8', 'replace')[-500:]}")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise EncodeError("ffprobe returned no JSON") from None
    streams = data.get("streams", [])
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
        ),
        None,
    )
    if video is None:
        raise EncodeError("no video stream")
    w, h = int(video["width"]), int(video["height"])
    rotation = 0
    for side in video.get("side_data_list") or []:
        with contextlib.suppress(TypeError, ValueError):
            rotation = round(float(side.get("rotation", 0))) % 180
    if rotation == 90:
        w, h = h, w
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    duration = float(data.get("format", {}).get("duration") or video.get("duration") or 0.0)
    return SourceFormat(
        w - w % 2, h - h % 2, _rate(video), duration, str(audio.get("codec_name")) if audio else None
    )


def _rate(video: dict[str, object]) -> Fraction:
    for key in ("avg_frame_rate", "r_frame_rate"):
        with contextlib.suppress(ValueError, ZeroDivisionError):
            value = Fraction(str(video.get(key) or ""))
            if 0 < value <= 240:
                return value.limit_denominator(1001)
    return Fraction(24)


def check_whole(fmt: SourceFormat, frames: int) -> None:
    """Refuse a source whose frames end well before its declared duration (as sampling does)."""
    if fmt.duration_s <= 0 or frames <= 0:
        return
    reached = frames / float(fmt.rate)
    if reached + max(1.0, 0.1 * fmt.duration_s) < fmt.duration_s:
        raise MediaRejected(
            "media.corrupt",
            f"Only the first {reached:.1f} s of the declared {fmt.duration_s:.1f} s could be decoded; "
            "the file looks truncated or damaged.",
        )
