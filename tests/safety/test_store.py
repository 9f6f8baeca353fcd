"""Migrations and the repository on PostgreSQL and SQLite."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fgtest import event
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from safety.events import VideoGenerated
from safety.store import AuditEntry, Database, DecisionRow, Repository


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/t.db"
    database = Database(url)
    assert database.upgrade() is True
    assert database.upgrade() is False  # idempotent
    yield database  # type: ignore[misc]
    database.dispose()


def row(video_id: str, decision_id: str, outcome: str = "published") -> DecisionRow:
    return DecisionRow(
        id=decision_id,
        video_id=video_id,
        policy_version="p@1.0.0",
        policy_digest="d",
        outcome=outcome,
        audience="everyone",
        reasons=[],
        creator_message=None,
        priority=None,
        labels=[],
        signals=[],
        trace=[],
        shadow=[],
        detectors=[],
        failed_stage=None,
        error=None,
        stage_ms={},
        asset_uri="file:///a",
        worker_id="w",
    )


def test_schema_is_at_head(db: Database) -> None:
    assert db.current_revision() == db.head_revision()
    assert db.current_revision() is not None


def test_decision_is_stored_once_per_video_and_policy_version(db: Database) -> None:
    repo = Repository(db)
    ev = VideoGenerated.model_validate(event("v1", "file:///x.mp4"))
    first = repo.record_decision(ev, row("v1", "d-1"))
    second = repo.record_decision(ev, row("v1", "d-2", outcome="held"))
    assert first.created and not second.created
    assert second.row.id == "d-1" and second.row.outcome == "published"
    with db.session() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.subject_id == "v1")) is not None
        assert len(s.scalars(select(AuditEntry)).all()) == 1  # only the winner audits


def test_racing_writers_agree_on_one_decision(db: Database) -> None:
    repo = Repository(db)
    ev = VideoGenerated.model_validate(event("race", "file:///x.mp4"))
    results = []

    def write(i: int) -> None:
        results.append(repo.record_decision(ev, row("race", f"d-{i}")))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.created for r in results) == 1
    assert len({r.row.id for r in results}) == 1


def test_audit_log_is_append_only_in_the_database(db: Database) -> None:
    repo = Repository(db)
    repo.append_audit("admin:1", "test.event", "video", "v9", {"k": 1})
    with pytest.raises(DBAPIError, match="append-only"), db.session() as s:
        s.execute(update(AuditEntry).values(actor="someone else"))
    with pytest.raises(DBAPIError, match="append-only"), db.session() as s:
        s.execute(delete(AuditEntry))
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), db.session() as s:
            s.execute(text("TRUNCATE audit_log"))
    with db.session() as s:
        assert s.scalar(select(AuditEntry.actor)) == "admin:1"


def test_mark_emitted_only_sets_once(db: Database) -> None:
    repo = Repository(db)
    ev = VideoGenerated.model_validate(event("v2", "file:///x.mp4"))
    repo.record_decision(ev, row("v2", "d-9"))
    repo.mark_emitted(["d-9"])
    first = repo.get_decision("v2", "p@1.0.0")
    repo.mark_emitted(["d-9"])
    assert first is not None and first.emitted_at is not None
    assert repo.get_decision("v2", "p@1.0.0").emitted_at == first.emitted_at  # type: ignore[union-attr]


def test_concurrent_upgrades_on_postgres_are_serialised(pg_url: str) -> None:
    dbs = [Database(pg_url) for _ in range(3)]
    errors: list[BaseException] = []

    def up(d: Database) -> None:
        try:
            d.upgrade()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=up, args=(d,)) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(d.current_revision() == d.head_revision() for d in dbs)
    for d in dbs:
        d.dispose()
