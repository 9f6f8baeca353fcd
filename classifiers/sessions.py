"""ONNX Runtime sessions for the frame detectors: thread budget, no spinning, one session per model.

A worker process runs its detectors one after the other, and several workers usually share the
machine (``cores / workers`` threads each). Three things follow, measured in
``benchmarks/pipeline_bench.py``:

* threads per session: what the service sets (:func:`set_model_threads`, ``Settings.model_threads``,
  1 by default), else the worker's share of the cores (:func:`set_worker_threads`), else 2. Frames
  reach the models while ffmpeg encodes on every core of the worker's share, so a second intra-op
  thread mostly waits for a core and synchronises: it cost 6-8 % more model CPU per video
  (benchmarks/README.md, issue 18). Outputs do not depend on the thread count
  (tests/classifiers/test_sessions.py);
* intra-op threads do not spin-wait between operators (``allow_spinning=0``): spinning threads
  burn the CPU that ffmpeg or the other worker on the same cores needs;
* detectors that load the same model file with the same thread count share one session
  (sessions are thread-safe; its weights and arena are held once per process, not per detector);
* frames go through a session 8 at a time (:func:`default_batch`), which bounds the arena;
* per-frame model outputs are remembered for as long as the frame lives (:class:`FrameMemo`), so
  work done on frames while the video is still decoding (:func:`prefetcher`) is not redone.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]

__all__ = [
    "FrameMemo",
    "default_batch",
    "default_threads",
    "prefetcher",
    "set_model_threads",
    "set_worker_threads",
    "shared_session",
    "worker_threads",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

_DEFAULT_THREADS = 2
_worker_threads: int | None = None  # set by the service's composition root, before models load
_model_threads: int | None = None  # likewise; None: the worker's budget

_lock = threading.Lock()
_sessions: weakref.WeakValueDictionary[tuple[str, int], Any] = weakref.WeakValueDictionary()


def set_worker_threads(threads: int | None) -> None:
    """Set the cores this worker process may keep busy (``cores // workers per host`` when several
    workers share a machine); None: every ffmpeg uses its own default (all cores) and every model
    session 2 threads. Called once, explicitly, by whoever builds the runtime, before models load
    (sessions already made keep their thread count)."""
    global _worker_threads
    if threads is not None and threads < 1:
        raise ValueError(f"worker threads must be >= 1, got {threads}")
    _worker_threads = threads


def worker_threads() -> int | None:
    """The thread budget set by :func:`set_worker_threads`, if any."""
    return _worker_threads


def set_model_threads(threads: int | None) -> None:
    """Set the intra-op threads of model sessions made from now on; None: the worker's budget (see
    :func:`default_threads`). Called by whoever builds the runtime, before models load."""
    global _model_threads
    if threads is not None and threads < 1:
        raise ValueError(f"model threads must be >= 1, got {threads}")
    _model_threads = threads


def default_threads() -> int:
    """Threads one model session may use: the model budget, else the worker's budget, else 2."""
    return _model_threads or worker_threads() or _DEFAULT_THREADS


def default_batch() -> int:
    """Frames per session call: 8. Larger batches were no faster on CPU (measured 20 frames, 2 threads)
    but made onnxruntime's arena hold ~100 MB more per model at peak."""
    return 8


def _options(threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # converted graphs warn about harmless initializer layouts
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def shared_session(model: str | Path | bytes, *, key: str, intra_op_num_threads: int) -> Any:
    """A CPU-provider session for ``model``, shared with every other caller of the same ``key``.

    ``key`` names the model (e.g. its file name); the session lives as long as some detector
    holds it.
    """
    if intra_op_num_threads < 1:
        raise ValueError(f"intra_op_num_threads must be >= 1, got {intra_op_num_threads}")
    cache_key = (key, int(intra_op_num_threads))
    with _lock:
        session = _sessions.get(cache_key)
        if session is None:
            source = model if isinstance(model, bytes) else str(model)
            session = ort.InferenceSession(
                source, sess_options=_options(intra_op_num_threads), providers=["CPUExecutionProvider"]
            )
            _sessions[cache_key] = session
        return session


class FrameMemo(Generic[T]):
    """A value per frame *object*, forgotten when the frame is garbage-collected.

    Frames are numpy arrays (unhashable), so entries are keyed by ``id`` and guarded by a weak
    reference whose callback drops the entry before the id can be reused. Thread-safe.
    """

    def __init__(self) -> None:
        self._items: dict[int, tuple[weakref.ref[Any], T]] = {}
        self._lock = threading.Lock()
        # Weakref callbacks only record what died: a callback can run inside a garbage collection
        # triggered while this thread holds the lock (e.g. in ``put``), and taking it there deadlocked.
        self._dead: list[tuple[int, weakref.ref[Any]]] = []

    def _purge(self) -> None:
        """Drop entries whose frame died; caller holds the lock."""
        while self._dead:
            key, ref = self._dead.pop()
            item = self._items.get(key)
            if item is not None and item[0] is ref:
                del self._items[key]

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._items)

    def get(self, frame: object) -> T | None:
        with self._lock:
            self._purge()
            item = self._items.get(id(frame))
        return item[1] if item is not None and item[0]() is frame else None

    def put(self, frame: object, value: T) -> None:
        if not isinstance(frame, np.ndarray):
            return  # not weak-referenceable in general: just not remembered
        key = id(frame)
        dead = self._dead

        def forget(ref: weakref.ref[Any]) -> None:
            dead.append((key, ref))  # list.append is atomic; no lock here (see __init__)

        with self._lock:
            self._purge()
            self._items[key] = (weakref.ref(frame, forget), value)


def prefetcher(detectors: Iterable[object]) -> Callable[[Sequence[Any]], None] | None:
    """A callback that starts the detectors' per-frame work on frames as they are decoded.

    Detectors opt in with a ``prefetch(frames)`` method that fills their :class:`FrameMemo`;
    their ``detect`` then reuses those results. A failing prefetch is logged and ignored: detect
    computes whatever is missing, so results never depend on it. ``None`` when no detector opts
    in.
    """
    hooks = [h for d in detectors if callable(h := getattr(d, "prefetch", None))]
    if not hooks:
        return None

    def run(frames: Sequence[Any]) -> None:
        for hook in hooks:
            try:
                hook(frames)
            except Exception:  # never fatal: detect() recomputes what is missing
                log.warning("prefetch by %s failed", getattr(hook, "__self__", hook), exc_info=True)

    return run
