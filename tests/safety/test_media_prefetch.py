"""sample_frames hands frames to the detectors' prefetch while decoding (issue 8); never a verdict change."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from classifiers.sessions import set_worker_threads
from safety.media import MediaLimits, MediaRejected, probe, sample_frames
from safety.media.frames import _command

LIMITS = MediaLimits()


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.chunks: list[list[object]] = []
        self.threads: set[str] = set()
        self.fail = fail

    def prefetch(self, frames: Sequence[object]) -> None:
        self.threads.add(threading.current_thread().name)
        self.chunks.append(list(frames))
        if self.fail:
            raise RuntimeError("model fell over")


def test_every_frame_reaches_prefetch_in_order_off_the_main_thread(tiny_video: Path) -> None:
    rec = Recorder()
    batch = sample_frames(
        probe(tiny_video, LIMITS), fps=24.0, scene_threshold=None, limits=LIMITS, prefetch=[rec]
    )
    seen = [f for chunk in rec.chunks for f in chunk]
    assert len(seen) == len(batch.frames) == 48
    assert all(a is b for a, b in zip(seen, batch.frames, strict=True))  # the very objects detect() gets
    assert rec.threads == {"frame-prefetch"} and max(len(c) for c in rec.chunks) <= 4


def test_a_failing_prefetch_changes_nothing(tiny_video: Path, caplog: pytest.LogCaptureFixture) -> None:
    info = probe(tiny_video, LIMITS)
    plain = sample_frames(info, limits=LIMITS)
    failing = sample_frames(info, limits=LIMITS, prefetch=[Recorder(fail=True), object()])
    assert list(failing.timestamps) == list(plain.timestamps)
    assert all((a == b).all() for a, b in zip(failing.frames, plain.frames, strict=True))
    assert "model fell over" in caplog.text


def test_corrupt_file_is_still_rejected_with_prefetch(tiny_video: Path, corrupt_video: Path) -> None:
    import dataclasses

    info = dataclasses.replace(probe(tiny_video, LIMITS), path=corrupt_video)
    with pytest.raises(MediaRejected):
        sample_frames(info, limits=LIMITS, prefetch=[Recorder()])


def test_thread_budget_and_lean_showinfo(tiny_video: Path) -> None:
    info = probe(tiny_video, LIMITS)
    try:
        set_worker_threads(1)
        cmd = _command(info, 2.0, 0.3, 160, 90, 10)
        assert cmd[cmd.index("-threads") + 1] == "1" and cmd.index("-threads") < cmd.index("-i")
        assert "showinfo=checksum=0" in cmd[cmd.index("-vf") + 1]
    finally:
        set_worker_threads(None)
    assert "-threads" not in _command(info, 2.0, 0.3, 160, 90, 10)  # ffmpeg's own default
