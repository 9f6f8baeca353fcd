"""Two real worker processes enforce a revocation within seconds (each refreshes its own index)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from fgtest import WorkerProcess, event, produce, wait_for
from sqlalchemy import text

from safety.likeness import registry
from safety.likeness.models import Cameo
from safety.store import Database

pytestmark = pytest.mark.slow


def _events(prefix: str, n: int, clip: Path, creator: str) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for i in range(n):
        ev = event(f"{prefix}-{i:02d}", clip.resolve().as_uri(), "an astronaut waves at the camera")
        ev["creator"]["id"] = creator
        out.append(ev)
    return out


def _owns_partitions(w: WorkerProcess) -> bool:
    """The worker's latest assignment is not empty (both may join in one generation)."""
    lines = [line for line in w.log().splitlines() if " assigned [" in line]
    return bool(lines) and "videos.generated[" in lines[-1]


def _decided(db: Database, prefix: str) -> dict[str, tuple[str, list[str], str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT video_id, outcome, reasons, worker_id FROM decisions WHERE video_id LIKE :p"),
            {"p": f"{prefix}-%"},
        )
        return {r[0]: (r[1], list(r[2]), r[3]) for r in rows}


def test_revocation_is_enforced_by_every_worker_within_seconds(
    broker: str,
    pg_url: str,
    tmp_path: Path,
    faces_media: dict[str, Path],
    db: Database,
    enrol: Callable[..., str],
) -> None:
    cameo_id = enrol("astro", "owner-1", permission="approved", approved=["friend"])
    clip = faces_media["astro"]
    workers = [WorkerProcess(broker, pg_url, tmp_path, clip.parent, group="fg-likeness") for _ in range(2)]
    try:
        wait_for(lambda: all(_owns_partitions(w) for w in workers), 90, what="both workers owning partitions")
        produce(broker, _events("before", 8, clip, "friend"))
        before = wait_for(
            lambda: (d := _decided(db, "before")) and len(d) == 8 and d, 180, what="8 decisions"
        )
        assert {o for o, _, _ in before.values()} == {"published"}, before

        with db.session() as s:
            cameo = s.get(Cameo, cameo_id)
            assert cameo is not None
            registry.revoke(s, cameo, actor="test", creator_id="friend")
        revoked_at = time.monotonic()
        time.sleep(3.0)  # the refresh interval is 1 s: three intervals is "within seconds"

        produce(broker, _events("after", 8, clip, "friend"))
        after = wait_for(lambda: (d := _decided(db, "after")) and len(d) == 8 and d, 180, what="8 decisions")
    finally:
        for w in workers:
            w.stop()
    assert {(o, tuple(r)) for o, r, _ in after.values()} == {("rejected", ("likeness.no_consent",))}, after
    by_worker = Counter(w for _, _, w in after.values())
    assert len(by_worker) == 2, f"one worker decided everything after the revocation: {by_worker}"
    assert time.monotonic() - revoked_at < 180
