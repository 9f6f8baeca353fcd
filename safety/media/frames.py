"""Decode a probed video once into a small batch of RGB frames that every detector shares.

One ffmpeg process does selection, scaling and colour conversion, so Python only ever holds the
frames we keep. Frames are picked on a regular time grid plus at scene cuts (a cut is where a
spliced-in shot would hide), capped by ``limits.max_sampled_frames`` and a wall-clock deadline.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import io
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, cast

import numpy as np

from classifiers.base import Frame, FrameBatch
from classifiers.sessions import prefetcher, worker_threads
from safety.media import tools
from safety.media.errors import MediaRejected, MediaUnavailable
from safety.media.limits import MediaLimits
from safety.media.probe import MAX_PIXELS_EXCEEDED, VideoInfo, ffmpeg_input_args

__all__ = [
    "Decoded",
    "batch_of",
    "decoder_threads",
    "frame_size",
    "read_frames",
    "sample_frames",
    "select_graph",
]

log = logging.getLogger(__name__)

# ``-loglevel level+info`` prefixes every line with its level, so only genuine showinfo lines
# (which start with the filter instance name) can match; metadata dumps are indented.
_SHOWINFO = re.compile(
    rb"^\[Parsed_showinfo_\d+ @ 0x[0-9a-fA-F]+\] \[info\] n:\s*\d+ "
    rb".*?\bpts_time:\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"
)
_PIXELS_MARKER = MAX_PIXELS_EXCEEDED.encode()
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_GRID_SLACK_S = 1e-4  # tolerate float error in t - prev_selected_t on non-integer time bases


def decoder_threads() -> list[str]:
    """``-threads N`` (an input option) when the worker has a thread budget, else ffmpeg's default.

    ffmpeg's default is one thread per core (plus one) per process: two workers on two cores would
    each run three decoding threads. The budget is ``Settings.worker_threads`` (cores / workers).
    """
    threads = worker_threads()
    return ["-threads", str(threads)] if threads is not None else []


def frame_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Output size: long side at most ``max_side``, never upscaled, both sides even (>= 2)."""
    long_side = max(width, height)
    if long_side > max_side:
        width, height = width * max_side // long_side, height * max_side // long_side
    return max(2, width - width % 2), max(2, height - height % 2)


def _check_complete(info: VideoInfo, timestamps: Sequence[float], fps: float, limits: MediaLimits) -> None:
    """Refuse a file whose decodable part ends well before its declared duration.

    ffmpeg conceals damage and exits 0 on a truncated file whose header is intact, so without
    this check a video could be moderated on its first seconds and published whole.
    """
    if not timestamps or len(timestamps) >= limits.max_sampled_frames:
        return  # nothing to compare, or we stopped at the cap on purpose
    reached = timestamps[-1] + 1.0 / fps
    slack = max(1.0, 0.1 * info.duration_s)
    if reached + slack < info.duration_s:
        raise MediaRejected(
            "media.corrupt",
            f"Only the first {reached:.1f} s of the declared {info.duration_s:.1f} s could be decoded; "
            "the file looks truncated or damaged.",
        )


def _check_not_longer(info: VideoInfo, timestamps: Sequence[float], limits: MediaLimits) -> None:
    """Refuse a file that plays on well past the duration its container declares.

    The duration limit was checked against the declaration; a container can claim 10 s and
    hold hours. Such a video would be sampled only as far as the frame cap reaches and then
    published whole, so it is refused: as too long when it plays past the limit itself.
    """
    if not timestamps:
        return
    last = max(timestamps)
    slack = max(1.0, 0.1 * info.duration_s)
    if last > limits.max_duration_s:
        raise MediaRejected(
            "media.too_long",
            f"The video plays for more than {last:.1f} s although it declares {info.duration_s:.1f} s; "
            f"the limit is {limits.max_duration_s:g} s.",
        )
    if last > info.duration_s + slack:
        raise MediaRejected(
            "media.corrupt",
            f"The video plays for more than {last:.1f} s although it declares {info.duration_s:.1f} s; "
            "the file looks damaged.",
        )


def sample_frames(
    info: VideoInfo,
    *,
    fps: float = 2.0,
    scene_threshold: float | None = 0.3,
    max_side: int = 512,
    limits: MediaLimits,
    prefetch: Iterable[object] = (),
    on_start: Callable[[tools.Process], None] | None = None,
) -> FrameBatch:
    """Decode ``info.path`` into frames about every ``1/fps`` s plus at scene cuts.

    ``prefetch``: detectors whose ``prefetch(frames)`` should get the frames while the rest of the
    video still decodes (a background thread, a few frames at a time; see
    :func:`classifiers.sessions.prefetcher`), so their model work overlaps ffmpeg's. Their results
    are only a cache: a failed or unfinished prefetch changes nothing but time. ``on_start`` gets the
    ffmpeg process (so a caller can kill it) and may raise to refuse it.

    ``scene_threshold`` (0..1, ffmpeg's ``scene`` score) adds frames where the picture changes
    abruptly; ``None`` samples the time grid only. Raises :class:`MediaRejected`
    (``media.corrupt``) when nothing decodes and :class:`MediaUnavailable` (``media.timeout``)
    when ffmpeg is still running after ``limits.decode_timeout_s``. A file that decodes partly
    (damaged tail) yields the frames before the damage.
    """
    check_sampling(fps, scene_threshold, max_side, limits)
    width, height = frame_size(info.display_width, info.display_height, max_side)
    cmd = _command(info, fps, scene_threshold, width, height, limits.max_sampled_frames, limits.max_pixels)
    decoded = read_frames(cmd, width, height, limits, prefetcher(prefetch), on_start=on_start)
    if decoded.returncode != 0 and not decoded.stopped_early:
        log.warning(
            "ffmpeg exited %s after %d frames; keeping them: %s",
            decoded.returncode,
            len(decoded.frames),
            decoded.log,
        )
    return batch_of(info, decoded.frames, decoded.timestamps, fps, limits)


def batch_of(
    info: VideoInfo, frames: list[Frame], timestamps: list[float], fps: float, limits: MediaLimits
) -> FrameBatch:
    """The sampled frames as a batch, after refusing a file that is truncated or plays on too long."""
    if len(timestamps) < len(frames):
        timestamps = [i / fps for i in range(len(frames))]
    _check_complete(info, timestamps, fps, limits)
    _check_not_longer(info, timestamps, limits)
    return FrameBatch(
        frames=frames,
        timestamps=timestamps[: len(frames)],
        source_width=info.display_width,
        source_height=info.display_height,
    )


def check_sampling(fps: float, scene_threshold: float | None, max_side: int, limits: MediaLimits) -> None:
    """Refuse sampling parameters that make no sense (a configuration error, not the creator's)."""
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    if scene_threshold is not None and not 0.0 <= scene_threshold <= 1.0:
        raise ValueError(f"scene_threshold must be in 0..1, got {scene_threshold}")
    if max_side < 2:
        raise ValueError(f"max_side must be at least 2, got {max_side}")
    if limits.max_sampled_frames < 1:
        raise ValueError("limits.max_sampled_frames must be at least 1")


def select_graph(fps: float, scene_threshold: float | None, width: int, height: int) -> str:
    """The filter chain that picks the sampled frames (time grid + scene cuts), logs their times
    (showinfo) and scales them: shared by this decode and the one-pass decode+encode, so both
    hand the detectors the very same frames."""
    interval = max(1.0 / fps - _GRID_SLACK_S, 0.0)
    expr = rf"isnan(prev_selected_t)+gte(t-prev_selected_t\,{interval:.9g})"
    if scene_threshold is not None:
        expr += rf"+gt(scene\,{scene_threshold:.9g})"
    # checksum=0: showinfo would otherwise hash and take statistics of every kept full-size frame.
    return f"select='{expr}',showinfo=checksum=0,scale={width}:{height}"


def _command(
    info: VideoInfo,
    fps: float,
    scene_threshold: float | None,
    width: int,
    height: int,
    max_frames: int,
    max_pixels: int | None = None,
) -> list[str]:
    graph = select_graph(fps, scene_threshold, width, height)
    return tools.ffmpeg(
        "-nostats",
        # showinfo logs at info level, so "-v error" would hide the timestamps we need.
        "-loglevel",
        "level+info",
        *decoder_threads(),
        *ffmpeg_input_args(info.path, max_pixels=max_pixels),
        "-map",
        "0:V:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        graph,
        "-frames:v",
        str(max_frames),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-vsync",
        "vfr",
        "pipe:1",
    )


class _StderrReader(threading.Thread):
    """Drains ffmpeg's stderr (a full pipe would stall ffmpeg) and collects showinfo times."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(name="ffmpeg-stderr", daemon=True)
        self._stream = stream
        self.timestamps: list[float] = []
        self.tail: collections.deque[str] = collections.deque(maxlen=20)
        self.too_many_pixels = False  # a decoder refused a frame over -max_pixels
        self.progress_frames = 0

    def run(self) -> None:
        for line in self._stream:
            match = _SHOWINFO.match(line)
            if match is not None:
                self.timestamps.append(float(match.group(1)))
            elif line.startswith(b"frame="):  # -progress pipe:2 (the one-pass encode)
                with contextlib.suppress(ValueError):
                    self.progress_frames = int(line[6:])
            elif line.startswith(b"[") and b"[info]" not in line[:64]:
                self.too_many_pixels = self.too_many_pixels or _PIXELS_MARKER in line
                self.tail.append(line.decode("utf-8", "replace").rstrip())


class _Prefetch:
    """Hands frames to ``fn`` in a background thread, ``chunk`` at a time, in decoding order."""

    def __init__(self, fn: Callable[[Sequence[Frame]], None], chunk: int = 4) -> None:
        self._fn = fn
        self._chunk = chunk
        self._pending: list[Frame] = []
        self._queue: queue.SimpleQueue[list[Frame] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="frame-prefetch", daemon=True)
        self._thread.start()

    def add(self, frame: Frame) -> None:
        self._pending.append(frame)
        if len(self._pending) >= self._chunk:
            self._queue.put(self._pending)
            self._pending = []

    def close(self, wait_s: float) -> None:
        """Send what is left and wait (at most ``wait_s``) for the thread to finish it."""
        if self._pending:
            self._queue.put(self._pending)
            self._pending = []
        self._queue.put(None)
        self._thread.join(timeout=max(0.0, wait_s))

    def _loop(self) -> None:
        while (frames := self._queue.get()) is not None:
            self._fn(frames)  # prefetcher() already logs and swallows detector errors


@dataclass
class Decoded:
    """What one sampling decode produced, and how its ffmpeg ended."""

    frames: list[Frame]
    timestamps: list[float]
    returncode: int | None
    stopped_early: bool  # killed on purpose at the frame cap
    log: str  # the tail of ffmpeg's error lines
    progress_frames: int = 0  # last ``frame=`` of ``-progress pipe:2`` (the first output's frames)


def read_frames(
    cmd: list[str],
    width: int,
    height: int,
    limits: MediaLimits,
    on_frames: Callable[[Sequence[Frame]], None] | None = None,
    *,
    stop_at_cap: bool = True,
    timeout_s: float | None = None,
    on_start: Callable[[tools.Process], None] | None = None,
) -> Decoded:
    """Run ``cmd`` and read its raw RGB frames from stdout (at most ``limits.max_sampled_frames``).

    ``stop_at_cap`` kills ffmpeg at the cap (nothing else needs the rest of the video); the
    one-pass decode keeps it running because its other output still encodes. ``timeout_s``
    (default ``limits.decode_timeout_s``) kills it at the deadline; ``on_start`` receives the
    process so a caller can kill it on cancellation.
    """
    frame_bytes = width * height * 3
    deadline_s = limits.decode_timeout_s if timeout_s is None else timeout_s
    started = time.monotonic()
    early = _Prefetch(on_frames) if on_frames is not None else None
    proc = tools.popen(cmd, stdout=tools.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    if on_start is not None:
        try:
            on_start(proc)  # may refuse (the caller was cancelled meanwhile): stop ffmpeg at once
        except BaseException:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
            raise
    with contextlib.suppress(OSError):  # room for whole frames: ffmpeg (and, in one pass, its encode)
        fcntl.fcntl(proc.stdout.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)  # waits less on this reader
    stdout = cast(io.BufferedIOBase, proc.stdout)
    reader = _StderrReader(proc.stderr)
    reader.start()
    timed_out = threading.Event()

    def on_deadline() -> None:
        if proc.poll() is None:
            timed_out.set()
            proc.kill()

    timer = threading.Timer(deadline_s, on_deadline)
    timer.daemon = True
    timer.start()
    frames: list[Frame] = []
    stopped_early = False
    try:
        while True:
            buf = _read_exact(stdout, frame_bytes)
            if buf is None:
                break
            if len(frames) < limits.max_sampled_frames:
                frames.append(np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3))
                if early is not None:
                    early.add(frames[-1])
            if len(frames) >= limits.max_sampled_frames and stop_at_cap:
                break
        if len(frames) >= limits.max_sampled_frames and stop_at_cap and proc.poll() is None:
            stopped_early = True
            proc.kill()
        proc.wait()  # bounded: the timer kills ffmpeg at the deadline
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        reader.join(timeout=5.0)
        proc.stderr.close()
        if early is not None:  # let the last frames' detector work finish within the decode deadline
            early.close(deadline_s - (time.monotonic() - started))

    if timed_out.is_set():
        raise MediaUnavailable(
            "media.timeout", f"decoding took longer than {deadline_s:g} s ({len(frames)} frames read)"
        )
    if reader.too_many_pixels:
        # The header passed the probe, but a later frame is bigger than the limit (a tiny file
        # that decodes to huge frames): the decoder refused it before allocating it.
        raise MediaRejected(
            "media.resolution_too_high",
            f"A frame of the video has more than {limits.max_pixels} pixels, the limit.",
        )
    tail = " | ".join(reader.tail)
    if not frames:
        log.info("ffmpeg decoded no frames (exit %s): %s", proc.returncode, tail)
        raise MediaRejected("media.corrupt", "No frames could be decoded from the video; it may be damaged.")
    return Decoded(
        frames, reader.timestamps[: len(frames)], proc.returncode, stopped_early, tail, reader.progress_frames
    )


def _read_exact(stream: io.BufferedIOBase, n: int) -> bytearray | None:
    """Read exactly ``n`` bytes (one frame); ``None`` at EOF, dropping a torn last frame."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        count = stream.readinto(view[got:])
        if not count:
            return None
        got += count
    return buf
