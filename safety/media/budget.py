"""How many decoded pixels one process may hold at once, so parallel uploads cannot exhaust it.

A compressed image says little about its decoded size (a 128 KB single-colour PNG decodes to
120 MB). Uploads are therefore checked twice: a megapixel limit read from the header before any
decoding, then a reservation of the decode's bytes from a process-wide budget. A reservation
that cannot be granted within ``wait_s`` fails with :class:`DecodeBusy` (the API answers 503 with
Retry-After): waiting in line is bounded, and memory is bounded whatever the concurrency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MB = 1024 * 1024


class DecodeBusy(RuntimeError):
    """The decode budget stayed full for the whole wait: retry later (transient, not the file's fault)."""


class DecodeBudget:
    """A counting semaphore in bytes. A request larger than the whole budget is capped to it, so
    it runs alone rather than never."""

    def __init__(self, total_bytes: int) -> None:
        if total_bytes <= 0:
            raise ValueError("the decode budget must be positive")
        self.total = total_bytes
        self._used = 0
        self._cond = threading.Condition()

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, nbytes: int, wait_s: float) -> Iterator[None]:
        need = min(max(0, nbytes), self.total)
        deadline = time.monotonic() + wait_s
        with self._cond:
            while self._used + need > self.total:
                left = deadline - time.monotonic()
                if (left <= 0 or not self._cond.wait(left)) and self._used + need > self.total:
                    raise DecodeBusy(f"decode budget full ({self._used // MB} of {self.total // MB} MB)")
            self._used += need
        try:
            yield
        finally:
            with self._cond:
                self._used -= need
                self._cond.notify_all()


@dataclass(frozen=True)
class ImageLimits:
    """Upload image limits: ``max_pixels`` before decoding, then ``budget`` while decoding."""

    max_pixels: int = 12_000_000
    budget: DecodeBudget = field(default_factory=lambda: DecodeBudget(192 * MB))
    wait_s: float = 20.0


DEFAULT_IMAGE_LIMITS = ImageLimits()
