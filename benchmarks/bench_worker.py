"""``feedguard worker`` with timing probes, for ``pipeline_bench.py`` (not for production).

Runs exactly the CLI's worker (same arguments) after wrapping two calls so that the benchmark
can split what happens around the pipeline, per video:

* ``Moderator.handle``: ``moderate`` (its own stage timings go to ``decisions.stage_ms``) plus
  recording the decision and its extras in the database;
* the worker's checkpoint (``Worker._commit``): flush the produced outcome, mark it emitted in
  the database, commit the offset.

Each becomes one JSON log line ``{"msg": "bench.timing", "bench": {...}}``. If a wrapped method
disappears (the worker is refactored), the probe is skipped and the benchmark reports "-".
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger("feedguard.bench")
_last: dict[str, Any] = {"video_id": None}


def _install() -> None:
    from safety import service
    from streams import worker as worker_module

    handle = getattr(service.Moderator, "handle", None)
    if handle is not None:

        def timed_handle(self: Any, event: Any) -> Any:
            started = time.perf_counter()
            try:
                return handle(self, event)
            finally:
                _last["video_id"] = event.video_id
                ms = (time.perf_counter() - started) * 1000
                log.info(
                    "bench.timing", extra={"bench": {"video_id": event.video_id, "handle_ms": round(ms, 2)}}
                )

        service.Moderator.handle = timed_handle  # type: ignore[method-assign]

    commit = getattr(worker_module.Worker, "_commit", None)
    if commit is not None:

        def timed_commit(self: Any) -> Any:
            started = time.perf_counter()
            try:
                return commit(self)
            finally:
                ms = (time.perf_counter() - started) * 1000
                if _last["video_id"] is not None:
                    log.info(
                        "bench.timing",
                        extra={"bench": {"video_id": _last["video_id"], "commit_ms": round(ms, 2)}},
                    )
                    _last["video_id"] = None

        worker_module.Worker._commit = timed_commit  # type: ignore[method-assign]


def main() -> int:
    _install()
    from safety.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
