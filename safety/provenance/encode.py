"""The final encode: decode to yuv420p, add the watermark to the Y plane, encode H.264, in one ffmpeg.

Working on yuv420p avoids any RGB round trip (colour conversions blur a faint mark and cost
time); only the Y plane is touched. The mark is constant over a video, so ffmpeg adds it itself
(``blend=all_mode=grainmerge`` with one pattern frame, bit-identical to
:meth:`~safety.provenance.watermark.Embedder.apply`): decode, mark and encode run in one process
and no raw frame crosses a pipe. A Python callback per Y plane (``mark=callable``) still works:
ffmpeg then decodes to a pipe, Python marks each frame in one reusable buffer, a second ffmpeg
encodes. Audio is copied when MP4 can carry it, re-encoded to AAC otherwise.

This decode is the only one that reads every frame at full size, so it is also where a file that
stops short of its declared duration is caught (:class:`~safety.media.MediaRejected`,
``media.corrupt``): a truncated upload is rejected, never published shorter.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
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

from classifiers.sessions import perf_disabled, worker_threads
from safety.media import tools
from safety.media.errors import MediaRejected
from safety.media.probe import VideoInfo, ffmpeg_input_args
from safety.provenance.watermark import U8, LumaAccumulator
from safety.provenance.watermark import Embedder as EmbedderV1
from safety.provenance.watermark2 import Embedder as EmbedderV2

Embedder = EmbedderV1 | EmbedderV2

__all__ = ["EncodeError", "EncodeStats", "SourceFormat", "encode_final", "mean_luma", "probe_source"]

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

    @classmethod
    def from_info(cls, info: VideoInfo) -> SourceFormat | None:
        """The same facts from the pipeline's own probe, when it has them all (no audio to name).

        Saves an ffprobe per published video; ``None`` (probe with :func:`probe_source`) when the
        source has audio (its codec decides copy vs AAC) or an unusual frame rate.
        """
        if info.has_audio or not 0 < info.fps <= 240 or perf_disabled("reuse_probe"):
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


def _decoder(path: Path, fmt: SourceFormat, extra_filters: str = "") -> list[str]:
    graph = f"scale={fmt.width}:{fmt.height},format=yuv420p{extra_filters}"
    return tools.ffmpeg(
        "-v",
        "error",
        *_threads(),
        *ffmpeg_input_args(path),
        "-map",
        "0:V:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        graph,
        "-fps_mode",
        "cfr",
        "-r",
        str(fmt.rate),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
        "pipe:1",
    )


def _encoder(source: Path, dest: Path, fmt: SourceFormat, crf: int, preset: str, vf: str | None) -> list[str]:
    cmd = tools.ffmpeg(
        "-v",
        "error",
        "-y",
        *tools.pipe_input("rawvideo", "-pix_fmt", "yuv420p", "-s", f"{fmt.width}x{fmt.height}",
                          "-framerate", str(fmt.rate)),
    )  # fmt: skip
    if fmt.audio_codec is not None:
        cmd += [*ffmpeg_input_args(source), "-map", "0:v", "-map", "1:a:0"]
        cmd += ["-c:a", "copy"] if fmt.audio_codec in _MP4_AUDIO else ["-c:a", "aac", "-b:a", "128k"]
    if vf:
        cmd += ["-vf", vf]
    cmd += [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        *_threads(),
        "-movflags",
        "+faststart",
        "-map_metadata",
        "-1",
        "-f",
        "mp4",
        "file:" + os.fspath(dest),
    ]
    return cmd


class _Proc:
    """A subprocess whose stderr is drained into a short tail (a full pipe would stall ffmpeg)."""

    def __init__(self, cmd: list[str], *, stdin: int | None = None, stdout: int | None = None) -> None:
        self.proc = tools.popen(cmd, stdin=stdin, stdout=stdout)
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


def _threads() -> list[str]:
    threads = worker_threads()
    return ["-threads", str(threads)] if threads is not None else []


def _single_process(
    source: Path, dest: Path, fmt: SourceFormat, grain: Path | None, crf: int, preset: str, vf: str | None
) -> list[str]:
    """One ffmpeg: decode (upright, even size, constant rate from 0 s), add the mark, badge, x264."""
    rate = str(fmt.rate)
    threads = _threads()
    cmd = tools.ffmpeg("-nostats", "-v", "error", "-y", *threads)
    cmd += ffmpeg_input_args(source)
    graph = f"[0:V:0]scale={fmt.width}:{fmt.height},format=yuv420p,setpts=PTS-STARTPTS,fps={rate}"
    if grain is not None:
        size = f"{fmt.width}x{fmt.height}"
        cmd += tools.raw_file_input(grain, "rawvideo", "-pix_fmt", "yuv420p", "-s", size)
        graph += (
            f"[m];[1:v]loop=loop=-1:size=1,setpts=N/({rate}*TB)[g];[m][g]blend=all_mode=grainmerge:shortest=1"
        )
    if vf:
        graph += f",{vf}"
    graph += "[v]"
    # The graph's work (one saturating add per pixel) is light: slice threads cost more than they save.
    cmd += ["-filter_complex_threads", "1", "-filter_complex", graph, "-map", "[v]"]
    if fmt.audio_codec is not None:
        cmd += ["-map", "0:a:0"]
        cmd += ["-c:a", "copy"] if fmt.audio_codec in _MP4_AUDIO else ["-c:a", "aac", "-b:a", "128k"]
    cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", *threads]
    cmd += ["-movflags", "+faststart", "-map_metadata", "-1", "-progress", "pipe:1"]
    cmd += ["-f", "mp4", "file:" + os.fspath(dest)]
    return cmd


def _check_whole(fmt: SourceFormat, frames: int) -> None:
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


def encode_final(
    source: Path,
    dest: Path,
    fmt: SourceFormat,
    *,
    mark: Embedder | Callable[[U8], None] | None,
    crf: int,
    preset: str,
    vf: str | None = None,
    timeout_s: float = 900.0,
) -> EncodeStats:
    """Decode ``source``, add ``mark`` to every frame's Y plane, encode to ``dest`` (MP4).

    ``mark`` is an :class:`Embedder` (added inside ffmpeg), any callable that marks a Y plane in
    place (called from Python per frame), or ``None``. Raises :class:`EncodeError` when ffmpeg
    fails or times out and :class:`~safety.media.MediaRejected` when the source is truncated.
    """
    piped = perf_disabled("ffmpeg_watermark")  # the two-process form, for before/after benchmarks
    if isinstance(mark, EmbedderV1 | EmbedderV2) and (piped or not mark.grain_exact):
        mark = mark.apply
    if isinstance(mark, EmbedderV1 | EmbedderV2) or (mark is None and not piped):
        stats = _encode_single(source, dest, fmt, mark, crf, preset, vf, timeout_s)
    else:
        stats = _encode_piped(source, dest, fmt, mark, crf, preset, vf, timeout_s)
    _check_whole(fmt, stats.frames)
    return stats


def _encode_single(
    source: Path,
    dest: Path,
    fmt: SourceFormat,
    mark: Embedder | None,
    crf: int,
    preset: str,
    vf: str | None,
    timeout_s: float,
) -> EncodeStats:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fg-grain-", dir=dest.parent) as tmp:
        grain = None
        if mark is not None:
            grain = Path(tmp) / "grain.yuv"
            grain.write_bytes(mark.grain_frame())
        proc = _Proc(_single_process(source, dest, fmt, grain, crf, preset, vf), stdout=tools.PIPE)
        assert proc.proc.stdout is not None
        frames = 0
        with _deadline([proc], timeout_s) as fired:
            try:
                for line in proc.proc.stdout:  # -progress: key=value lines, a block every 0.5 s
                    if line.startswith(b"frame="):
                        with contextlib.suppress(ValueError):
                            frames = int(line[6:])
            finally:
                rc = proc.proc.wait()
                proc.kill()
    if fired.is_set():
        raise EncodeError(f"final encode took longer than {timeout_s:g} s")
    if rc != 0 or frames == 0:
        raise EncodeError(f"final encode failed (ffmpeg {rc}: {proc.log()})")
    return EncodeStats(frames, time.monotonic() - started, 0.0)


def _encode_piped(
    source: Path,
    dest: Path,
    fmt: SourceFormat,
    mark: Callable[[U8], None] | None,
    crf: int,
    preset: str,
    vf: str | None,
    timeout_s: float,
) -> EncodeStats:
    """The two-process form: ffmpeg decodes to a pipe, Python calls ``mark`` per frame, ffmpeg encodes."""
    started = time.monotonic()
    dec = _Proc(_decoder(source, fmt), stdout=tools.PIPE)
    enc = _Proc(_encoder(source, dest, fmt, crf, preset, vf), stdin=tools.PIPE)
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
    del cmd[cmd.index("-r") : cmd.index("-r") + 2]
    acc = LumaAccumulator()
    dec = _Proc(cmd, stdout=tools.PIPE)
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
