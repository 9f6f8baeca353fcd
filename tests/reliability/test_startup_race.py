"""Issue 13: an API and a worker started together on a fresh SQLite file both migrate it.

Before the file lock one of them died in the migration (``table alembic_version already
exists``): SQLite has no advisory lock, so both ran the first migration at once. Real processes,
a fresh database file per round; 8 rounds in the suite (the race failed in round 2 before the
fix), `FEEDGUARD_STARTUP_ROUNDS=20` for the longer check (20/20 passed three times, 2026-12-02).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fgtest import wait_for
from relhelp import ApiProcess, light_worker

from safety.store import Database

ROUNDS = int(os.environ.get("FEEDGUARD_STARTUP_ROUNDS", "8"))


MIGRATED = "database schema at head"  # logged by Database.upgrade once the schema is at head
FAILURES = ("already exists", "OperationalError", "IntegrityError", "database is locked")


@pytest.mark.slow
@pytest.mark.longest
@pytest.mark.timeout(1200)
def test_api_and_worker_start_together_on_a_fresh_sqlite_file(
    broker: str, tmp_path: Path, tiny_video: Path
) -> None:
    """Each round ends once both are past the migration: the API answers, the worker logged that its
    schema is at head (or has already exited 0)."""
    for n in range(ROUNDS):
        data = tmp_path / f"round-{n}"
        data.mkdir()
        url = f"sqlite:///{data / 'feedguard.db'}"
        api = ApiProcess(broker, url, data, tiny_video.parent)
        worker = light_worker(broker, url, data, tiny_video.parent, idle_exit=0.5, group=f"race-{n}")
        try:
            wait_for(
                lambda: worker.proc.poll() is not None or MIGRATED in worker.log(),  # noqa: B023
                180, 0.1, "the worker to get past its migration",
            )  # fmt: skip
            rc = worker.proc.poll()
            assert rc in (None, 0), f"round {n}: worker exited {rc}\n{worker.log()}"
            api.wait_ready(120)
        finally:
            api.stop()
            worker.stop()
        for name, log in (("api", api.log()), ("worker", worker.log())):
            assert not [f for f in FAILURES if f in log], f"round {n}: {name} failed\n{log}"
        db = Database(url)
        try:
            assert db.current_revisions() == db.head_revisions()
        finally:
            db.dispose()


def test_concurrent_upgrades_in_threads_of_one_file(tmp_path: Path) -> None:
    """The lock is per file, not per process: two engines in one process also wait for each other."""
    import threading

    url = f"sqlite:///{tmp_path / 'one.db'}"
    errors: list[BaseException] = []
    ran: list[bool] = []

    def up() -> None:
        db = Database(url)
        try:
            ran.append(db.upgrade())
        except BaseException as exc:  # recorded for the assertion below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=up) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(ran) == [False, False, True]
