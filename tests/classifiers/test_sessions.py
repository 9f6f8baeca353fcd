"""Shared sessions, per-frame memos and prefetch (issue 8): faster, never different."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import numpy as np
import pytest
from skimage import data

from classifiers.base import DetectorInput, FrameBatch
from classifiers.faces import FaceDetector
from classifiers.minors import MinorLikelyDetector
from classifiers.nsfw import OpenNsfwDetector
from classifiers.sessions import (
    FrameMemo,
    default_threads,
    prefetcher,
    set_model_threads,
    set_worker_threads,
    worker_threads,
)

ASTRONAUT = np.ascontiguousarray(data.astronaut()[:288])
COFFEE = np.ascontiguousarray(data.coffee()[:288, :512])


def frames() -> list[np.ndarray]:
    return [ASTRONAUT.copy(), COFFEE.copy(), ASTRONAUT[:, ::-1].copy()]


def test_thread_budget_is_set_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The budget is what the service sets (no environment variable read or written here)."""
    monkeypatch.setenv("FEEDGUARD_WORKER_THREADS", "1")  # ignored: Settings reads it, not classifiers
    set_worker_threads(None)
    assert worker_threads() is None and default_threads() == 2
    try:
        set_worker_threads(1)
        assert worker_threads() == 1 and default_threads() == 1
        with pytest.raises(ValueError):
            set_worker_threads(0)
    finally:
        set_worker_threads(None)


def test_the_model_budget_comes_before_the_worker_budget() -> None:
    try:
        set_worker_threads(3)
        set_model_threads(1)
        assert default_threads() == 1
        set_model_threads(None)
        assert default_threads() == 3
        with pytest.raises(ValueError):
            set_model_threads(0)
    finally:
        set_model_threads(None)
        set_worker_threads(None)


def test_model_outputs_do_not_depend_on_the_thread_count() -> None:
    """Issue 18 runs model sessions on 1 thread instead of the worker's budget: every signal the
    frame detectors give (scores, faces, ages, evidence) must be bit-identical either way."""
    batch = [*frames(), np.ascontiguousarray(COFFEE[::-1]), np.ascontiguousarray(ASTRONAUT[::-1])]
    stamps = [0.5 * i for i in range(len(batch))]
    results = []
    for threads in (1, 2):
        nsfw = OpenNsfwDetector(intra_op_num_threads=threads)
        faces = FaceDetector(intra_op_num_threads=threads)
        minors = MinorLikelyDetector(intra_op_num_threads=threads)
        assert nsfw._session.get_session_options().intra_op_num_threads == threads
        fresh = [f.copy() for f in batch]  # new frame objects: no memo shared between the two
        data_in = DetectorInput(frames=FrameBatch(fresh, stamps, 512, 288))
        results.append((nsfw.frame_scores(fresh).tolist(), faces.detect(fresh), minors.detect(data_in)))
    assert results[0] == results[1]
    assert any(results[0][1]), "no face found: the comparison would prove little"


def test_memo_forgets_a_frame_when_it_is_collected() -> None:
    memo: FrameMemo[int] = FrameMemo()
    a, b = np.zeros(3), np.ones(3)
    memo.put(a, 1)
    memo.put(b, 2)
    memo.put([1, 2], 3)  # not an array: not remembered
    assert memo.get(a) == 1 and memo.get(b) == 2 and memo.get(a.copy()) is None and len(memo) == 2
    del a
    gc.collect()
    assert len(memo) == 1 and memo.get(b) == 2


def test_face_outputs_are_shared_across_detectors_and_thresholds() -> None:
    """Two detectors on one frame batch: the model runs once, each keeps its own threshold and
    NMS, and the answers equal those of detectors that share nothing."""
    batch = frames()
    loose, strict = FaceDetector(min_score=0.5, max_faces=20), FaceDetector(min_score=0.8, max_faces=1)
    calls = 0
    run = loose._session.run

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return run(*args, **kwargs)

    loose._session = strict._session = SimpleNamespace(run=counting)
    shared = (loose.detect(batch), strict.detect(batch))
    assert calls == 1
    fresh = [f.copy() for f in batch]  # new frame objects: no memo hit
    assert (loose.detect(fresh), strict.detect(fresh)) == shared
    assert calls == 2
    assert len(shared[0][0]) >= 1 and [len(f) for f in shared[1]] == [1, 0, 1]


def test_prefetch_fills_the_memos_and_detect_gives_the_same_signals() -> None:
    nsfw, minors = OpenNsfwDetector(), MinorLikelyDetector()
    batch = frames()
    hook = prefetcher([nsfw, minors, object()])
    assert hook is not None
    hook(batch[:2])
    hook(batch[2:])
    data_in = DetectorInput(frames=FrameBatch(batch, [0.0, 0.5, 1.0], 512, 288))
    fresh = DetectorInput(frames=FrameBatch([f.copy() for f in batch], [0.0, 0.5, 1.0], 512, 288))
    assert nsfw.detect(data_in) == nsfw.detect(fresh)
    assert minors.detect(data_in) == minors.detect(fresh)
    assert prefetcher([object()]) is None


def test_a_failing_prefetch_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def prefetch(self, frames: object) -> None:
            raise RuntimeError("boom")

    hook = prefetcher([Broken()])
    assert hook is not None
    hook(frames())
    assert "prefetch by" in caplog.text and "boom" in caplog.text


def test_a_frame_freed_while_the_memo_is_locked_does_not_deadlock() -> None:
    """A frame can die inside ``put`` (a garbage collection while the lock is held); its weakref
    callback then ran ``forget``, which took the same lock: the suite hung in likeness enrolment."""
    import threading

    import numpy as np

    from classifiers.sessions import FrameMemo

    memo: FrameMemo[int] = FrameMemo()

    def free_under_lock() -> None:
        frame = np.zeros(4)
        memo.put(frame, 1)
        with memo._lock:
            del frame  # the callback runs here, in this thread, with the lock held

    t = threading.Thread(target=free_under_lock, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "deadlocked"
    assert len(memo) == 0
