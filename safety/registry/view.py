"""Each process's view of one registry: a snapshot reloaded when the registry version moves.

A daemon thread polls the version (one tiny query per ``poll_s``). When it moved, the loader builds
the next snapshot from the database, outside any lock readers take, and it is swapped in with one
reference assignment: readers see the old snapshot or the new one, never half of one. A registry
whose matcher state is mutable (the rights reference index) passes ``install``; it runs under the
lock :meth:`RegistryView.reading` holds, so a reader's snapshot and that state always agree.

How stale a view may be, and what corrects decisions made on a stale view, is in README
("Consistency"): the version a decision read is stored with it, and ``safety.registry.reconcile``
re-checks it against every change it missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from safety.registry.versions import RegistrySpec, head
from safety.store import Database

log = logging.getLogger("feedguard.registry")


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


S = TypeVar("S", bound=Versioned)


class RegistryView(Generic[S]):
    """The current snapshot of ``spec``'s registry for this process."""

    def __init__(
        self,
        db: Database,
        spec: RegistrySpec,
        load: Callable[[Session, S | None], S],
        *,
        install: Callable[[S], None] | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.db = db
        self.spec = spec
        self.poll_s = poll_s
        self._load = load
        self._install = install
        self._snapshot: S | None = None
        self._refreshing = threading.Lock()  # one reload at a time
        self._use = threading.Lock()  # install vs. readers, only when there is mutable state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rebuilds = 0

    @property
    def snapshot(self) -> S:
        """The live snapshot (loaded synchronously only the very first time)."""
        snap = self._snapshot
        if snap is None:
            self.refresh(force=True)
            snap = self._snapshot
            assert snap is not None
        return snap

    @contextmanager
    def reading(self) -> Iterator[S]:
        """The snapshot, with any mutable matcher state held at that same version until exit."""
        if self._install is None:
            yield self.snapshot
            return
        snap = self.snapshot
        with self._use:
            yield self._snapshot or snap

    def refresh(self, *, force: bool = False) -> bool:
        """Reload if the version moved; True when a new snapshot was swapped in."""
        with self._refreshing:
            with self.db.session() as s:
                current = self._snapshot
                if not force and current is not None and head(s, self.spec) == current.version:
                    return False
                started = time.perf_counter()
                snap = self._load(s, current)
            if self._install is not None:
                with self._use:
                    self._install(snap)
                    self._snapshot = snap
            else:
                self._snapshot = snap  # atomic swap
            self.rebuilds += 1
            log.info("%s registry v%d loaded in %.0f ms", self.spec.name, snap.version,
                     (time.perf_counter() - started) * 1000)  # fmt: skip
            return True

    def start(self) -> RegistryView[S]:
        """Poll in a daemon thread; errors are logged and retried (the old snapshot keeps serving)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.spec.name}-view", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:
                log.exception("%s registry refresh failed; keeping v%s", self.spec.name, self.version)

    @property
    def version(self) -> int | None:
        snap = self._snapshot
        return snap.version if snap is not None else None

    def wait_for(self, version: int, timeout_s: float = 10.0) -> bool:
        """Block until the served snapshot is at least ``version`` (tests, admin tools)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            current = self.version
            if current is not None and current >= version:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
