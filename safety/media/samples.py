"""Generate small sample media offline with ffmpeg's lavfi sources.

The demo, tests and benchmarks need real, reproducible files (good, scene-cut, audio-only,
damaged, not-a-video) without shipping binaries or touching the network, so they are built on
demand from synthetic sources.
"""

from __future__ import annotations

import functools
import random
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from safety.media import tools
from safety.media.probe import ffmpeg_input_args

__all__ = [
    "SOURCES",
    "drawtext_available",
    "make_audio_only",
    "make_corrupt",
    "make_not_video",
    "make_scene_cut_video",
    "make_video",
]

SOURCES = ("testsrc2", "smptebars", "mandelbrot", "life", "color", "cellauto")
"""lavfi sources accepted as ``source``; ``color`` takes options, e.g. ``color=c=red``."""

_TIMEOUT_S = 120.0
_SAFE_FILTER_PATH = re.compile(r"[A-Za-z0-9_./-]+")
_H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]


def make_video(
    path: Path,
    *,
    source: str = "testsrc2",
    duration_s: float = 3.0,
    width: int = 640,
    height: int = 360,
    fps: int = 24,
    with_audio: bool = False,
    text: str | None = None,
) -> Path:
    """Encode ``duration_s`` of a lavfi ``source`` as H.264 MP4 (plus a sine tone if asked).

    ``text`` is burned in as a caption when drawtext works with the default font, and silently
    skipped otherwise (minimal ffmpeg builds have no fontconfig).
    """
    cmd = [*_ffmpeg_base(), *tools.lavfi_input(_source_spec(source, width, height, fps))]
    if with_audio:
        cmd += tools.lavfi_input("sine=frequency=440:sample_rate=44100")
    with tempfile.TemporaryDirectory(prefix="fg-sample-") as tmp:
        caption = _caption_filter(text, height, Path(tmp)) if text else None
        if caption is not None:
            cmd += ["-vf", caption]
        cmd += ["-t", f"{duration_s:g}", "-map", "0:v"]
        if with_audio:
            cmd += ["-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-shortest"]
        cmd += [*_H264, tools.output(path)]
        _run(cmd)
    return path


def make_scene_cut_video(
    path: Path,
    sources: Sequence[str],
    segment_s: float,
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 24,
) -> Path:
    """Concatenate ``segment_s`` of each source, giving hard cuts at multiples of ``segment_s``.

    Each segment is rounded up to whole frames, so cuts land within one frame of the multiples.
    """
    if not sources:
        raise ValueError("make_scene_cut_video needs at least one source")
    cmd = _ffmpeg_base()
    for source in sources:
        cmd += tools.lavfi_input(_source_spec(source, width, height, fps), "-t", f"{segment_s:g}")
    labels = "".join(f"[v{i}]" for i in range(len(sources)))
    graph = "".join(f"[{i}:v]format=yuv420p,setsar=1[v{i}];" for i in range(len(sources)))
    graph += f"{labels}concat=n={len(sources)}:v=1:a=0[out]"
    cmd += ["-filter_complex", graph, "-map", "[out]", *_H264, tools.output(path)]
    _run(cmd)
    return path


def make_audio_only(path: Path, duration_s: float = 2.0) -> Path:
    """AAC audio with no video track (container from the suffix: ``.m4a`` or ``.mp4``)."""
    sine = f"sine=frequency=440:sample_rate=44100:duration={duration_s:g}"
    cmd = [*_ffmpeg_base(), *tools.lavfi_input(sine)]
    cmd += ["-vn", "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", tools.output(path)]
    _run(cmd)
    return path


def make_corrupt(path: Path, from_video: Path) -> Path:
    """Copy ``from_video`` truncated to 40 % with the ``moov`` header and mid-file bytes garbled.

    The result is checked: ffprobe must fail or find no video, or a strict decode must fail;
    otherwise ``RuntimeError`` (a "corrupt" sample that plays would make tests lie).
    """
    data = bytearray(from_video.read_bytes())
    data = data[: max(16, len(data) * 2 // 5)]
    rng = random.Random(0x5EED)
    moov = data.find(b"moov")
    if moov >= 4:
        _garble(data, moov - 4, 64, rng)
    _garble(data, len(data) // 2, 256, rng)
    path.write_bytes(bytes(data))
    if not (_probe_fails(path) or _decode_fails(path)):
        raise RuntimeError(f"make_corrupt: {path.name} still probes and decodes cleanly")
    return path


def make_not_video(path: Path) -> Path:
    """A plain text file, typically named ``.mp4``: what a confused or hostile client uploads."""
    path.write_text("This is not a video. It is a text file with a video extension.\n" * 20, encoding="utf-8")
    return path


@functools.cache
def drawtext_available() -> bool:
    """Whether this ffmpeg has drawtext *and* can render with its default font (checked once)."""
    try:
        listing = tools.run(tools.ffmpeg("-filters"), timeout_s=_TIMEOUT_S)
        if re.search(rb"^\s*\S+\s+drawtext\s", listing.stdout, re.MULTILINE) is None:
            return False
        render = tools.run(
            [
                *_ffmpeg_base(),
                *tools.lavfi_input("color=c=black:s=64x36:d=0.1"),
                *("-vf", "drawtext=text=ok:fontcolor=white", "-frames:v", "1", "-f", "null", "-"),
            ],
            timeout_s=_TIMEOUT_S,
        )
    except (OSError, tools.TimeoutExpired):
        return False
    return render.returncode == 0


def _caption_filter(text: str, height: int, tmp: Path) -> str | None:
    """A drawtext filter reading ``text`` from a file, so no filter-graph escaping is needed."""
    if not drawtext_available():
        return None
    textfile = tmp / "caption.txt"
    textfile.write_text(text, encoding="utf-8")
    if _SAFE_FILTER_PATH.fullmatch(str(textfile)) is None:
        return None
    size = max(10, height // 12)
    return (
        f"drawtext=textfile={textfile}:expansion=none:fontcolor=white:fontsize={size}"
        ":x=(w-text_w)/2:y=h-text_h-8:box=1:boxcolor=black@0.6:boxborderw=4"
    )


def _source_spec(source: str, width: int, height: int, fps: int) -> str:
    name, sep, _ = source.partition("=")
    if name not in SOURCES:
        raise ValueError(f"unknown sample source {source!r}; use one of {', '.join(SOURCES)}")
    size = f"s={width}x{height}:r={fps}"
    return f"{source}:{size}" if sep else f"{source}={size}"


def _garble(data: bytearray, start: int, length: int, rng: random.Random) -> None:
    start = max(0, min(start, len(data) - 1))
    end = min(len(data), start + length)
    data[start:end] = bytes(rng.randrange(256) for _ in range(end - start))


def _probe_fails(path: Path) -> bool:
    cmd = tools.ffprobe("-v", "error", "-select_streams", "V", "-show_entries", "stream=codec_type")
    cmd += ["-of", "csv=p=0", *ffmpeg_input_args(path)]
    proc = tools.run(cmd, timeout_s=_TIMEOUT_S)
    return proc.returncode != 0 or b"video" not in proc.stdout


def _decode_fails(path: Path) -> bool:
    cmd = [*_ffmpeg_base(), "-xerror", *ffmpeg_input_args(path), "-f", "null", "-"]
    proc = tools.run(cmd, timeout_s=_TIMEOUT_S)
    return proc.returncode != 0


def _ffmpeg_base() -> list[str]:
    return tools.ffmpeg("-v", "error", "-y")


def _run(cmd: list[str]) -> None:
    try:
        proc = tools.run(cmd, timeout_s=_TIMEOUT_S)
    except tools.TimeoutExpired as exc:
        raise RuntimeError(f"ffmpeg timed out after {_TIMEOUT_S:g} s: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-15:])
        raise RuntimeError(f"ffmpeg exited {proc.returncode}: {tail}")


ASSETS = Path(__file__).parent / "assets"


def make_face_video(
    path: Path, *, duration_s: float = 4.0, width: int = 640, height: int = 360, fps: int = 24
) -> Path:
    """A slow push-in on a real portrait (the shipped NASA astronaut photo): a face for the face,
    minor and likeness detectors to find, moving a little so frames differ."""
    image = ASSETS / "astronaut.jpg"
    frames = max(1, int(duration_s * fps))
    zoom = (
        "zoompan=z='min(1+0.0015*on,1.3)':x='iw/2-(iw/zoom/2)':y='ih/3-(ih/zoom/3)'"
        f":d={frames}:s={width}x{height}:fps={fps}"
    )
    pad = f"scale=-2:{height},pad={width}:{height}:(ow-iw)/2:0:color=0x202530"
    cmd = [
        *_ffmpeg_base(),
        "-loop",
        "1",
        *tools.file_input(image, tools.IMAGE_DEMUXERS),
        "-vf",
        f"{zoom},{pad}",
        "-t",
        f"{duration_s:g}",
        *_H264,
        tools.output(path),
    ]
    _run(cmd)
    return path
