"""Failpoints: named places where a fault test makes this process die, to prove crash recovery.

``FEEDGUARD_FAILPOINTS`` lists the armed points, comma-separated; ``name`` fires on the first hit,
``name:N`` on the N-th. Firing writes one line to stderr and SIGKILLs the process (no clean-up,
no flush, no ``finally``: what a power cut or the OOM killer does). ``name:N=pause`` instead
stops the calling thread there: it creates ``<FEEDGUARD_FAILPOINT_DIR>/<name>.reached`` and waits
until the test creates ``<name>.go`` (so a test can, say, stop the database at that exact point).
Unarmed, ``failpoint()`` costs one dict lookup. The variable is read at import; ``arm()`` re-reads
it (in-process tests).

Points in the code (the reliability tests, ``tests/reliability/``, kill at each):

- ``worker.before_moderate``: an event polled, nothing decided yet;
- ``worker.after_produce``: outcomes acknowledged by the broker, not yet marked emitted;
- ``worker.before_commit``: outcomes marked emitted, offsets not yet committed;
- ``provenance.sign``: inside the publish step, the signed file open, before the C2PA signature;
- ``outbox.after_send``: outbox rows acknowledged by the broker, not yet marked sent;
- ``publish_job.before_done``: an approval's snapshot published, the job not yet recorded done.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Literal

ENV = "FEEDGUARD_FAILPOINTS"
DIR_ENV = "FEEDGUARD_FAILPOINT_DIR"
PAUSE_LIMIT_S = 300.0  # a paused point gives up waiting (and carries on) after this long

Action = Literal["kill", "pause"]


def parse(spec: str) -> dict[str, tuple[int, Action]]:
    """``"a, b:3, c:2=pause"`` -> ``{"a": (1, "kill"), "b": (3, "kill"), "c": (2, "pause")}``."""
    armed: dict[str, tuple[int, Action]] = {}
    for item in spec.split(","):
        entry, _, action = item.strip().partition("=")
        name, _, nth = entry.partition(":")
        if not name:
            continue
        count = int(nth) if nth else 1
        if count < 1:
            raise ValueError(f"{ENV}: {item.strip()!r}: the hit number must be at least 1")
        if action not in ("", "kill", "pause"):
            raise ValueError(f"{ENV}: {item.strip()!r}: the action is kill (default) or pause")
        armed[name.strip()] = (count, "pause" if action == "pause" else "kill")
    return armed


_armed: dict[str, tuple[int, Action]] = parse(os.environ.get(ENV, ""))
_hits: dict[str, int] = {}
_lock = threading.Lock()


def failpoint(name: str) -> None:
    """Fire ``name`` if it is armed and this is its N-th hit; otherwise nothing."""
    armed = _armed.get(name)
    if armed is None:
        return
    with _lock:
        hits = _hits[name] = _hits.get(name, 0) + 1
    nth, action = armed
    if hits != nth:
        return
    if action == "pause":
        _pause(name)
        return
    os.write(2, f"failpoint {name} fired (hit {hits}): SIGKILL pid {os.getpid()}\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)


def _pause(name: str) -> None:
    folder = Path(os.environ.get(DIR_ENV) or ".")
    go = folder / f"{name}.go"
    os.write(2, f"failpoint {name} paused: waiting for {go}\n".encode())
    (folder / f"{name}.reached").touch()
    deadline = time.monotonic() + PAUSE_LIMIT_S
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.write(2, f"failpoint {name} resumed\n".encode())


def arm(spec: str | None = None) -> dict[str, tuple[int, Action]]:
    """(Re-)arm from ``spec``, or from the environment when None; resets the hit counts."""
    global _armed
    armed = parse(os.environ.get(ENV, "") if spec is None else spec)
    with _lock:
        _armed = armed
        _hits.clear()
    return dict(armed)
