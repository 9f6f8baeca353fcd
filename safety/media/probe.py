"""Read a video's container facts with ffprobe and enforce the limits before anything decodes.

Probing is cheap and reads only headers, so every limit that the container declares (length,
resolution, frame count) is checked here; decoding a hostile 8K or hour-long file is the thing
we avoid. ffprobe runs with a demuxer allow-list and only the ``file`` protocol, so a file that
is secretly a playlist (HLS, concat) cannot make ffmpeg open other files or URLs.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safety.media import tools
from safety.media.errors import MediaRejected, MediaUnavailable
from safety.media.limits import MediaLimits, format_bytes

__all__ = [
    "ALLOWED_DEMUXERS",
    "IMAGE_CODECS",
    "MAX_PIXELS_EXCEEDED",
    "VideoInfo",
    "ffmpeg_input_args",
    "probe",
]

ALLOWED_DEMUXERS = tools.VIDEO_DEMUXERS
"""Container formats we accept; anything else (images, text, playlists) is not a video to us."""

IMAGE_CODECS = frozenset({"png", "mjpeg", "jpeg2000", "bmp", "tiff", "webp", "gif", "apng", "jpegls", "qoi"})
"""Still-image codecs: with no positive duration they are a picture, not a video."""


MAX_PIXELS_EXCEEDED = "exceeds specified max pixel count"
_PICTURE_SIZE = re.compile(r"Picture size (\d+)x(\d+) exceeds")
"""What libavcodec logs when a frame is over ``-max_pixels`` (the decoder refuses to allocate it)."""


def ffmpeg_input_args(path: Path, *, max_pixels: int | None = None) -> list[str]:
    """Input options shared by ffprobe and ffmpeg for a video: see :func:`tools.file_input`."""
    return tools.file_input(path, tools.VIDEO_DEMUXERS, max_pixels=max_pixels)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container says about the first real video stream (cover art is skipped).

    ``width``/``height`` are the coded size; ``rotation`` is ffprobe's display-matrix angle
    normalised to 0..359, and ffmpeg applies it when decoding, hence ``display_*``.
    ``nb_frames`` is the declared frame count when the container states one.
    """

    path: Path
    size_bytes: int
    duration_s: float
    width: int
    height: int
    fps: float
    codec: str
    nb_frames: int | None
    has_audio: bool
    rotation: int

    @property
    def _quarter_turn(self) -> bool:
        return self.rotation % 180 == 90

    @property
    def display_width(self) -> int:
        """Width as shown to viewers (and as decoded frames come out), after rotation."""
        return self.height if self._quarter_turn else self.width

    @property
    def display_height(self) -> int:
        """Height as shown to viewers, after rotation."""
        return self.width if self._quarter_turn else self.height

    @property
    def declared_frames(self) -> int:
        """Frame count to check against limits: ``nb_frames`` or, failing that, duration x fps."""
        if self.nb_frames is not None:
            return self.nb_frames
        return math.ceil(self.duration_s * self.fps) if self.fps > 0 else 0


def probe(path: Path, limits: MediaLimits) -> VideoInfo:
    """Probe ``path`` and enforce ``limits``; raise :class:`MediaRejected` on the first breach.

    Checks run cheapest first: file size, then (after ffprobe) presence of video, duration,
    resolution and declared frame count. A hung ffprobe is killed after
    ``limits.probe_timeout_s`` and reported as :class:`MediaUnavailable` (``media.timeout``).
    """
    try:
        size = os.stat(path).st_size
    except OSError:
        raise MediaRejected("media.not_found", "The media file does not exist or cannot be read.") from None
    if size == 0:
        raise MediaRejected("media.empty", "The media file is empty.")
    if size > limits.max_bytes:
        raise MediaRejected(
            "media.too_large",
            f"The media file is {format_bytes(size)}; the limit is {format_bytes(limits.max_bytes)}.",
        )

    data, refused = _run_ffprobe(path, limits)
    streams = [s for s in data.get("streams", []) if isinstance(s, dict)]
    fmt_raw = data.get("format")
    fmt: dict[str, Any] = fmt_raw if isinstance(fmt_raw, dict) else {}
    video = _first_video_stream(streams)
    if video is None:
        raise MediaRejected("media.no_video", "The file has no video track.")

    codec = str(video.get("codec_name") or "unknown")
    duration = _positive_float(fmt.get("duration")) or _positive_float(video.get("duration"))
    if codec in IMAGE_CODECS and (duration is None or _int(video.get("nb_frames")) == 1):
        raise MediaRejected("media.no_video", "The file is a still image, not a video.")
    if duration is None:
        raise MediaRejected("media.corrupt", "The video's duration cannot be read; the file may be damaged.")

    width = _int(video.get("width")) or 0
    height = _int(video.get("height")) or 0
    if (width <= 0 or height <= 0) and refused is not None:
        width, height = refused  # the decoder refused a frame this big: the limits below say so
    if width <= 0 or height <= 0:
        raise MediaRejected(
            "media.corrupt", "The video's frame size cannot be read; the file may be damaged."
        )

    info = VideoInfo(
        path=path,
        size_bytes=size,
        duration_s=duration,
        width=width,
        height=height,
        fps=_fps(video),
        codec=codec,
        nb_frames=_positive_int(video.get("nb_frames")),
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        rotation=_rotation(video),
    )
    _check_limits(info, limits)
    return info


def _check_limits(info: VideoInfo, limits: MediaLimits) -> None:
    if info.duration_s > limits.max_duration_s:
        # One decimal, unless that would print the limit itself (180.04 s -> "180.0 s").
        shown = f"{info.duration_s:.1f}"
        if float(shown) <= limits.max_duration_s:
            shown = f"{info.duration_s:.3f}"
        raise MediaRejected(
            "media.too_long", f"The video is {shown} s long; the limit is {limits.max_duration_s:g} s."
        )
    w, h = info.display_width, info.display_height
    if w > limits.max_width or h > limits.max_height:
        raise MediaRejected(
            "media.resolution_too_high",
            f"The video is {w}x{h}; the limit is {limits.max_width}x{limits.max_height}.",
        )
    if w * h > limits.max_pixels:
        raise MediaRejected(
            "media.resolution_too_high",
            f"The video is {w}x{h} ({w * h} pixels per frame); the limit is {limits.max_pixels} pixels.",
        )
    if info.declared_frames > limits.max_frames:
        raise MediaRejected(
            "media.too_many_frames",
            f"The video has {info.declared_frames} frames; the limit is {limits.max_frames}.",
        )


def _run_ffprobe(path: Path, limits: MediaLimits) -> tuple[dict[str, Any], tuple[int, int] | None]:
    """ffprobe's JSON, and the frame size a decoder refused for being over ``max_pixels``.

    ffprobe decodes a frame to learn the size of some codecs; over the limit the decoder refuses
    to allocate it and the size reads as 0x0, which must not look like damage.
    """
    timeout_s = limits.probe_timeout_s
    cmd = tools.ffprobe("-v", "error", "-print_format", "json", "-show_format", "-show_streams")
    cmd += ffmpeg_input_args(path, max_pixels=limits.max_pixels)
    try:
        proc = tools.run(cmd, timeout_s=timeout_s)
    except tools.TimeoutExpired:
        raise MediaUnavailable("media.timeout", f"ffprobe took longer than {timeout_s:g} s") from None
    stderr = proc.stderr.decode("utf-8", "replace")
    refused: tuple[int, int] | None = None
    if MAX_PIXELS_EXCEEDED in stderr:
        size = _PICTURE_SIZE.search(stderr)
        refused = (int(size[1]), int(size[2])) if size else (limits.max_pixels + 1, 1)
    if proc.returncode != 0:
        if refused is not None:
            w, h = refused
            raise MediaRejected(
                "media.resolution_too_high",
                f"The video is {w}x{h} ({w * h} pixels per frame); the limit is {limits.max_pixels} pixels.",
            )
        if "not on whitelist" in stderr:
            raise MediaRejected("media.no_video", "The file is not in a supported video format.")
        raise MediaRejected("media.corrupt", "The file cannot be read as a video; it may be damaged.")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise MediaRejected(
            "media.corrupt", "The file cannot be read as a video; it may be damaged."
        ) from None
    if not isinstance(data, dict):
        raise MediaRejected("media.corrupt", "The file cannot be read as a video; it may be damaged.")
    return data, refused


def _first_video_stream(streams: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first video stream that is not cover art; ``-map 0:V:0`` picks the same one."""
    for stream in streams:
        disposition = stream.get("disposition") or {}
        if stream.get("codec_type") == "video" and not disposition.get("attached_pic"):
            return stream
    return None


def _positive_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _positive_int(value: Any) -> int | None:
    """A declared count; ``0`` means "unknown" in some containers, so treat it as absent."""
    number = _int(value)
    return number if number is not None and number > 0 else None


def _fps(stream: dict[str, Any]) -> float:
    """Average frame rate, falling back to the nominal rate; 0.0 when neither is known."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key) or "").partition("/")
        try:
            value = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if math.isfinite(value) and value > 0:
            return value
    return 0.0


def _rotation(stream: dict[str, Any]) -> int:
    """Display-matrix rotation (ffprobe >= 5) or the legacy ``rotate`` tag, as 0..359."""
    candidates = [
        side.get("rotation") for side in stream.get("side_data_list") or [] if isinstance(side, dict)
    ]
    candidates.append((stream.get("tags") or {}).get("rotate"))
    for value in candidates:
        if value is not None and _is_number(value):
            return round(float(value)) % 360
    return 0


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
