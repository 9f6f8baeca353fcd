"""ffmpeg processes of the final encode: stderr drained, a deadline, raw frames, thread budget,
and the pieces of the mark + x264 command shared by the two-pass and one-pass encodes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from classifiers.sessions import worker_threads
from safety.media import tools
from safety.provenance.source import SourceFormat

__all__ = [
    "MP4_AUDIO",
    "TRAILER_FAILED",
    "Proc",
    "deadline",
    "mark_graph",
    "raw_frames",
    "threads",
    "x264_output",
]

# ffmpeg 5.1 exits 0 when the MP4's trailer (its index, moved to the front by +faststart) cannot
# be written, e.g. the file vanished or the disk filled: the file is then unplayable or gone.
TRAILER_FAILED = "Error writing trailer"
MP4_AUDIO = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Proc:
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
def deadline(procs: list[Proc], timeout_s: float) -> Iterator[threading.Event]:
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


def raw_frames(stdout: IO[bytes], size: int) -> Iterator[bytearray]:
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


def threads() -> list[str]:
    threads = worker_threads()
    return ["-threads", str(threads)] if threads is not None else []


def mark_graph(
    fmt: SourceFormat, grain: Path | None, vf: str | None, source: str = "[0:V:0]"
) -> tuple[list[str], str]:
    """Extra inputs and the filter chain from ``source`` to ``[v]``: upright, even size, constant
    rate from 0 s, the watermark added by ffmpeg (one ``grainmerge`` pattern frame), the badge."""
    rate = str(fmt.rate)
    inputs: list[str] = []
    graph = f"{source}scale={fmt.width}:{fmt.height},format=yuv420p,setpts=PTS-STARTPTS,fps={rate}"
    if grain is not None:
        size = f"{fmt.width}x{fmt.height}"
        inputs = tools.raw_file_input(grain, "rawvideo", "-pix_fmt", "yuv420p", "-s", size)
        graph += (
            f"[m];[1:v]loop=loop=-1:size=1,setpts=N/({rate}*TB)[g];[m][g]blend=all_mode=grainmerge:shortest=1"
        )
    if vf:
        graph += f",{vf}"
    return inputs, graph + "[v]"


def x264_output(
    fmt: SourceFormat, dest: Path, crf: int, preset: str, progress: str | None = None
) -> list[str]:
    """Output options of the published MP4: ``[v]``, the audio (copied when MP4 carries it), x264."""
    cmd = ["-map", "[v]"]
    if fmt.audio_codec is not None:
        cmd += ["-map", "0:a:0"]
        cmd += ["-c:a", "copy"] if fmt.audio_codec in MP4_AUDIO else ["-c:a", "aac", "-b:a", "128k"]
    cmd += ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", *threads()]
    cmd += ["-movflags", "+faststart", "-map_metadata", "-1"]
    if progress is not None:  # key=value lines (frame=N) on this pipe, a block every 0.5 s
        cmd += ["-progress", progress]
    return [*cmd, "-f", "mp4", "file:" + os.fspath(dest)]
