"""The final encode: decode to yuv420p, add the watermark (scheme 3: U and V; 1 and 2: Y), encode H.264.

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
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from safety.media import tools
from safety.media.probe import ffmpeg_input_args
from safety.provenance.ffproc import (
    MP4_AUDIO,
    TRAILER_FAILED,
    Proc,
    deadline,
    mark_graph,
    raw_frames,
    threads,
    x264_output,
)
from safety.provenance.source import EncodeError, EncodeStats, SourceFormat, check_whole, probe_source
from safety.provenance.watermark import U8, LumaAccumulator
from safety.provenance.watermark import Embedder as EmbedderV1
from safety.provenance.watermark2 import Embedder as EmbedderV2

Embedder = EmbedderV1 | EmbedderV2

__all__ = ["EncodeError", "EncodeStats", "SourceFormat", "encode_final", "mean_luma", "probe_source"]


def _decoder(path: Path, fmt: SourceFormat, extra_filters: str = "") -> list[str]:
    graph = f"scale={fmt.width}:{fmt.height},format=yuv420p{extra_filters}"
    return tools.ffmpeg(
        "-v",
        "error",
        *threads(),
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
        cmd += ["-c:a", "copy"] if fmt.audio_codec in MP4_AUDIO else ["-c:a", "aac", "-b:a", "128k"]
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
        *threads(),
        "-movflags",
        "+faststart",
        "-map_metadata",
        "-1",
        "-f",
        "mp4",
        "file:" + os.fspath(dest),
    ]
    return cmd


def _single_process(
    source: Path, dest: Path, fmt: SourceFormat, grain: Path | None, crf: int, preset: str, vf: str | None
) -> list[str]:
    """One ffmpeg: decode (upright, even size, constant rate from 0 s), add the mark, badge, x264."""
    cmd = tools.ffmpeg("-nostats", "-v", "error", "-y", *threads())
    cmd += ffmpeg_input_args(source)
    inputs, graph = mark_graph(fmt, grain, vf)
    cmd += inputs
    # The graph's work (one saturating add per pixel) is light: slice threads cost more than they save.
    cmd += ["-filter_complex_threads", "1", "-filter_complex", graph]
    return cmd + x264_output(fmt, dest, crf, preset, progress="pipe:1")


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
    if isinstance(mark, EmbedderV1 | EmbedderV2) and not mark.grain_exact:
        mark = mark.apply  # marked from Python, frame by frame (the piped form)
    if isinstance(mark, EmbedderV1 | EmbedderV2) or mark is None:
        stats = _encode_single(source, dest, fmt, mark, crf, preset, vf, timeout_s)
    else:
        stats = _encode_piped(source, dest, fmt, mark, crf, preset, vf, timeout_s)
    check_whole(fmt, stats.frames)
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
        proc = Proc(_single_process(source, dest, fmt, grain, crf, preset, vf), stdout=tools.PIPE)
        assert proc.proc.stdout is not None
        frames = 0
        with deadline([proc], timeout_s) as fired:
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
    log = proc.log()
    if rc != 0 or frames == 0 or TRAILER_FAILED in log or not dest.is_file():
        raise EncodeError(f"final encode failed (ffmpeg {rc}: {log})")
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
    dec = Proc(_decoder(source, fmt), stdout=tools.PIPE)
    enc = Proc(_encoder(source, dest, fmt, crf, preset, vf), stdin=tools.PIPE)
    assert dec.proc.stdout is not None and enc.proc.stdin is not None
    frames, mark_s = 0, 0.0
    y_size = fmt.width * fmt.height
    with deadline([dec, enc], timeout_s) as fired:
        try:
            for buf in raw_frames(dec.proc.stdout, fmt.frame_bytes):
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
    dec = Proc(cmd, stdout=tools.PIPE)
    assert dec.proc.stdout is not None
    y_size = fmt.width * fmt.height
    with deadline([dec], timeout_s) as fired:
        try:
            for buf in raw_frames(dec.proc.stdout, fmt.frame_bytes):
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
