"""In-process worker runner for the broker tests that don't need separate processes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safety.config import Settings
from safety.runtime import Runtime, build_runtime
from streams import Worker, WorkerConfig, WorkerStats

RunWorker = Callable[..., tuple[WorkerStats, Runtime]]


@pytest.fixture
def run_worker(broker: str, pg_url: str, tmp_path: Path, video_root: Path) -> Iterator[RunWorker]:
    """Run one worker to idle exit in this process; returns its stats and runtime (db open)."""
    runtimes: list[Runtime] = []

    def run(idle_exit_s: float = 4.0, group: str = "fg-test", **settings: Any) -> tuple[WorkerStats, Runtime]:
        cfg = Settings(
            kafka_bootstrap=broker,
            database_url=pg_url,
            data_dir=tmp_path,
            media_roots=[video_root],
            session_timeout_ms=2000,
            **settings,
        )
        runtime = build_runtime(cfg, worker_id="in-process")
        runtimes.append(runtime)
        worker = Worker(
            WorkerConfig(
                bootstrap=broker,
                group_id=group,
                session_timeout_ms=2000,
                idle_exit_s=idle_exit_s,
                max_attempts=cfg.max_attempts,
                backoff_s=(0.1,),
            ),
            runtime.moderator,
        )
        box: dict[str, WorkerStats] = {}
        thread = threading.Thread(target=lambda: box.setdefault("stats", worker.run()), daemon=True)
        thread.start()
        thread.join(120)
        assert not thread.is_alive(), "worker did not reach idle exit"
        return box["stats"], runtime

    yield run
    for r in runtimes:
        r.close()
