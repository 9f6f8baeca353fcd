"""Run one pipeline stage with a deadline, without letting a hung stage block the worker."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class StageTimeout(TimeoutError):
    """The stage did not finish in time; the video goes to review."""


def run_with_timeout(fn: Callable[[], T], timeout_s: float, name: str) -> T:
    """Call ``fn`` on a daemon thread and wait at most ``timeout_s``.

    Python cannot kill a thread, so a hung detector keeps its thread; the worker moves on and
    the count of abandoned threads is bounded by how many videos hit the timeout.
    """
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
        raise StageTimeout(f"stage {name} exceeded {timeout_s:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
