"""Progress and ETA for long CLI work (replay, verify of many files, scan DIR, the demo).

A tqdm bar on stderr, only when both stdout and stderr are terminals: piped or redirected output
(``--json`` into a file or ``jq``) stays exactly what it was, and nothing extra is printed.
``FEEDGUARD_NO_PROGRESS=1`` turns it off on a terminal too.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any


def wanted() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty() and not os.environ.get("FEEDGUARD_NO_PROGRESS")


class Progress:
    """``with Progress(total, "scanning") as bar: ...; bar.update(); bar.write(line)``."""

    def __init__(self, total: int | None, desc: str, unit: str = "video") -> None:
        self._bar: Any = None
        if wanted():
            from tqdm import tqdm

            # leave=True: the finished bar (count, total time, rate) stays on screen as a record of
            # the run; the last update is always drawn even when it came within tqdm's mininterval.
            self._bar = tqdm(
                total=total, desc=desc, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True
            )

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def set_total(self, total: int) -> None:
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def write(self, line: str) -> None:
        """Print a result line on stdout without tearing the bar."""
        if self._bar is not None:
            self._bar.clear()
            print(line, flush=True)
            self._bar.refresh()
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.refresh()
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
