"""The final encode: ffmpeg decodes to raw yuv420p, Python marks the Y plane, ffmpeg encodes H.264.

Working on raw yuv420p avoids any RGB round trip (colour conversions blur a faint mark and cost
time); only the Y plane is touched. Frames stream through one reusable buffer, so memory does not
grow with video length. Audio is copied when MP4 can carry it, re-encoded to AAC otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO

import numpy as np

from safety.media.probe import ffmpeg_input_args
from safety.provenance.watermark import U8, LumaAccumulator

__all__ = ["EncodeError", "EncodeStats", "SourceFormat", "encode_final", "mean_luma", "probe_source"]

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
_MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


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


@dataclass(frozen=True)
class EncodeStats:
    frames: int
    seconds: float
    mark_seconds: float  # time spent in the per-frame callback (the watermark add)


def probe_source(path: Path, timeout_s: float = 60.0) -> SourceFormat:
    """Display size (after rotation, rounded down to even), frame rate and audio codec."""
    cmd = [FFPROBE, "-v", "error", "-print_format", "json", "-show_streams", "-show_format"]
    cmd += ffmpeg_input_args(path)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise EncodeError(f"ffprobe took longer than {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise EncodeError(f"ffprobe failed: {proc.stderr.decode('utf-8', 'replace')[-500:]}")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise EncodeError("ffprobe returned no JSON") from None
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not (s.get("disposition") or {}).get("attached_pic")), None)
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
    return SourceFormat(w - w % 2, h - h % 2, _rate(video), duration,
                        str(audio.get("codec_name")) if audio else None)


def _rate(video: dict[str, object]) -> Fraction:
    for key in ("avg_frame_rate", "r_frame_rate"):
        with contextlib.suppress(ValueError, ZeroDivisionError):
            value = Fraction(str(video.get(key) or ""))
            if 0 < value <= 240:
                return value.limit_denominator(1001)
    return Fraction(24)


def _decoder(path: Path, fmt: SourceFormat, extra_filters: str = "") -> list[str]:
    graph = f"scale={fmt.width}:{fmt.height},format=yuv420p{extra_filters}"
    return [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", *ffmpeg_input_args(path),
            "-map", "0:V:0", "-an", "-sn", "-dn", "-vf", graph, "-fps_mode", "cfr", "-r", str(fmt.rate),
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]


def _encoder(source: Path, dest: Path, fmt: SourceFormat, crf: int, preset: str, vf: str | None) -> list[str]:
    cmd = [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
           "-s", f"{fmt.width}x{fmt.height}", "-framerate", str(fmt.rate), "-i", "pipe:0"]
    if fmt.audio_codec is not None:
        cmd += [*ffmpeg_input_args(source), "-map", "0:v", "-map", "1:a:0"]
        cmd += ["-c:a", "copy"] if fmt.audio_codec in _MP4_AUDIO else ["-c:a", "aac", "-b:a", "128k"]
    if vf:
        cmd += ["-vf", vf]
    cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-map_metadata", "-1", "-f", "mp4", "file:" + os.fspath(dest)]
    return cmd


class _Proc:
    """A subprocess whose stderr is drained into a short tail (a full pipe would stall ffmpeg)."""

    def __init__(self, cmd: list[str], *, stdin: int | None = None, stdout: int | None = None) -> None:
        self.proc = subprocess.Popen(cmd, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                     stdout=stdout, stderr=subprocess.PIPE)
        self.tail: deque[str] = deque(maxlen=12)
        assert self.proc.stderr is not None
        stderr = self.proc.stderr
        self._reader = threading.Thread(target=self._drain, args=(stderr,), daemon=True)
        self._reader.start()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)

    def _drain(self, stream: IO[bytes]) -> None:
        for line in stream:
            self.tail.append(line.decode("utf-8", "replace").rstrip())

    def log(self) -> str:
        self._reader.join(timeout=2.0)
        return " | ".join(self.tail)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@contextlib.contextmanager
def _deadline(procs: list[_Proc], timeout_s: float) -> Iterator[threading.Event]:
    fired = threading.Event()

    def on_deadline() -> None:
        fired.set()
        for p in procs:
            with contextlib.suppress(OSError):
                p.proc.kill()

    timer = threading.Timer(timeout_s, on_deadline)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def _frames(stdout: IO[bytes], size: int) -> Iterator[bytearray]:
    """Yield one reusable buffer per complete frame; a torn last frame is dropped."""
    buf = bytearray(size)
    view = memoryview(buf)
    while True:
        got = 0
        while got < size:
            n = stdout.readinto(view[got:])  # type: ignore[attr-defined]
            if not n:
                return
            got += n
        yield buf


def encode_final(
    source: Path,
    dest: Path,
    fmt: SourceFormat,
    *,
    mark: Callable[[U8], None] | None,
    crf: int,
    preset: str,
    vf: str | None = None,
    timeout_s: float = 900.0,
) -> EncodeStats:
    """Decode ``source``, call ``mark`` on each frame's Y plane (in place), encode to ``dest`` (MP4)."""
    started = time.monotonic()
    dec = _Proc(_decoder(source, fmt), stdout=subprocess.PIPE)
    enc = _Proc(_encoder(source, dest, fmt, crf, preset, vf), stdin=subprocess.PIPE)
    assert dec.proc.stdout is not None and enc.proc.stdin is not None
    frames, mark_s = 0, 0.0
    y_size = fmt.width * fmt.height
    with _deadline([dec, enc], timeout_s) as fired:
        try:
            for buf in _frames(dec.proc.stdout, fmt.frame_bytes):
                if mark is not None:
                    t0 = time.perf_counter()
                    luma = np.frombuffer(buf, dtype=np.uint8, count=y_size).reshape(fmt.height, fmt.width)
                    mark(luma)
                    mark_s += time.perf_counter() - t0
                enc.proc.stdin.write(buf)
                frames += 1
            enc.proc.stdin.close()
        except BrokenPipeError:
            pass
        finally:
            dec_rc, enc_rc = dec.proc.wait(), enc.proc.wait()
            dec.kill()
            enc.kill()
    if fired.is_set():
        raise EncodeError(f"final encode took longer than {timeout_s:g} s")
    if dec_rc != 0 or enc_rc != 0 or frames == 0:
        raise EncodeError(
            f"final encode failed (decoder {dec_rc}: {dec.log()}; encoder {enc_rc}: {enc.log()})"
        )
    return EncodeStats(frames, time.monotonic() - started, mark_s)


def mean_luma(path: Path, max_frames: int = 240, timeout_s: float = 300.0) -> tuple[np.ndarray, int]:
    """Average Y plane over up to ``max_frames`` frames spread over the whole video."""
    fmt = probe_source(path)
    total = max(1, math.ceil(fmt.duration_s * float(fmt.rate)))
    step = max(1, math.ceil(total / max_frames))
    select = f",select=not(mod(n\\,{step}))" if step > 1 else ""
    cmd = _decoder(path, fmt, select)
    cmd[cmd.index("-fps_mode") + 1] = "passthrough"
    del cmd[cmd.index("-r"):cmd.index("-r") + 2]
    acc = LumaAccumulator()
    dec = _Proc(cmd, stdout=subprocess.PIPE)
    assert dec.proc.stdout is not None
    y_size = fmt.width * fmt.height
    with _deadline([dec], timeout_s) as fired:
        try:
            for buf in _frames(dec.proc.stdout, fmt.frame_bytes):
                acc.add(np.frombuffer(buf, dtype=np.uint8, count=y_size).reshape(fmt.height, fmt.width))
                if acc.count >= max_frames:
                    break
        finally:
            dec.kill()
    if fired.is_set():
        raise EncodeError(f"decoding for watermark detection took longer than {timeout_s:g} s")
    if acc.count == 0:
        raise EncodeError(f"no frames decoded: {dec.log()}")
    return acc.mean(), acc.count


def temp_mp4(directory: Path | None = None) -> Path:
    """A fresh temporary ``.mp4`` path (the caller deletes it)."""
    fd, name = tempfile.mkstemp(suffix=".mp4", prefix="fg-prov-", dir=directory)
    os.close(fd)
    return Path(name)
