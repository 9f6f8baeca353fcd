"""Run one pipeline stage with a deadline, without letting a hung stage block the worker."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StageTimeout(TimeoutError):
    """The stage did not finish in time; the video goes to review."""


_stuck: dict[str, threading.Thread] = {}  # stage name -> its abandoned, still running thread
_stuck_lock = threading.Lock()


def run_with_timeout(fn: Callable[[], T], timeout_s: float, name: str) -> T:
    """Call ``fn`` on a daemon thread and wait at most ``timeout_s``.

    Python cannot kill a thread, so a hung stage keeps its thread and the worker moves on. While
    that thread still runs, the same stage is not started again (it would hang, or wait on the
    hung call's locks, and leave one more thread per video): a later call first waits up to
    ``timeout_s`` for it, then fails the same way. So each stage keeps at most one abandoned thread.
    """
    with _stuck_lock:
        stuck = _stuck.get(name)
    if stuck is not None:
        stuck.join(timeout_s)
        if stuck.is_alive():
            raise StageTimeout(f"stage {name} is still stuck on an earlier call (over {timeout_s:g} s)")
        with _stuck_lock:
            if _stuck.get(name) is stuck:
                del _stuck[name]
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    ctx = contextvars.copy_context()  # log lines from the stage keep the video id
    thread = threading.Thread(target=ctx.run, args=(target,), name=f"stage-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        with _stuck_lock:
            _stuck[name] = thread
        raise StageTimeout(f"stage {name} exceeded {timeout_s:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
