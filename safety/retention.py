"""How long media snapshots are kept: while a decision on them can still change, then a retention.

A snapshot is needed while any video that read it is held or being published, has an open review
item or appeal, or is rejected and still inside the appeal window. Past that, it is kept for
``retention`` after the last decision that read it (so a re-submission of the same bytes renews
it), then deleted. Published videos need no snapshot for takedowns or reconciliation (those read
stored embeddings and matches), and their evidence falls back to the published asset.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, or_, select

from safety.media.snapshot import SnapshotStore
from safety.store import Appeal, Database, DecisionRow, MediaSnapshot, PublishJob, ReviewItem, Video
from safety.store.models import utcnow

log = logging.getLogger(__name__)

PENDING_STATES = ("held", "publishing", "received")


@dataclass
class Collected:
    deleted: list[str] = field(default_factory=list)
    kept: int = 0
    bytes_freed: int = 0


def still_needed(sha256: str, now: datetime, appeal_window: timedelta) -> ColumnElement[bool]:
    """SQL: some video that read ``sha256`` may still get a decision that publishes these bytes."""
    video_of = Video.media_sha256 == sha256
    open_item = exists().where(
        ReviewItem.video_id == Video.video_id, ReviewItem.status.in_(("open", "escalated"))
    )
    open_appeal = exists().where(Appeal.video_id == Video.video_id, Appeal.status == "open")
    live_job = exists().where(
        PublishJob.video_id == Video.video_id, PublishJob.status.in_(("queued", "running"))
    )
    recently_rejected = (Video.state == "rejected") & exists().where(
        DecisionRow.video_id == Video.video_id, DecisionRow.created_at > now - appeal_window
    )
    return exists().where(
        video_of, or_(Video.state.in_(PENDING_STATES), open_item, open_appeal, live_job, recently_rejected)
    )


def collect(
    db: Database,
    store: SnapshotStore,
    *,
    retention: timedelta,
    appeal_window: timedelta,
    now: datetime | None = None,
    batch: int = 500,
) -> Collected:
    """Delete snapshots past retention that no pending decision needs (idempotent, safe to race)."""
    now = now or utcnow()
    out = Collected()
    cutoff = now - retention
    with db.session() as s:
        candidates = s.execute(
            select(MediaSnapshot.sha256, MediaSnapshot.size)
            .where(MediaSnapshot.deleted_at.is_(None), MediaSnapshot.last_used_at < cutoff)
            .order_by(MediaSnapshot.last_used_at)
            .limit(batch)
        ).all()
    for sha, size in candidates:
        with db.session() as s:
            row = s.get(MediaSnapshot, sha, with_for_update=True)
            if row is None or row.deleted_at is not None or row.last_used_at >= cutoff:
                continue  # a decision read it again meanwhile
            if s.scalar(select(still_needed(sha, now, appeal_window))):
                out.kept += 1
                continue
            path = store.path_of(sha)
            if path.is_file() and path.stat().st_mtime >= cutoff.timestamp():
                out.kept += 1  # re-ingested moments ago: its decision has not committed yet
                continue
            row.deleted_at = now
        if store.delete(sha):
            out.bytes_freed += size
        out.deleted.append(sha)
    if out.deleted:
        log.info("snapshots: deleted %d (%d bytes), kept %d", len(out.deleted), out.bytes_freed, out.kept)
    return out


def stored_bytes(db: Database) -> int:
    with db.session() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(MediaSnapshot.size), 0)).where(
                    MediaSnapshot.deleted_at.is_(None)
                )
            )
            or 0
        )


class SnapshotJanitor:
    """Runs :func:`collect` every ``interval_s`` in a daemon thread (the API process owns it)."""

    def __init__(
        self,
        db: Database,
        store: SnapshotStore,
        retention: timedelta,
        appeal_window: timedelta,
        interval_s: float = 3600.0,
    ) -> None:
        self.db, self.store = db, store
        self.retention, self.appeal_window = retention, appeal_window
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_run: float | None = None

    def start(self) -> SnapshotJanitor:
        self._thread = threading.Thread(target=self._run, name="snapshot-janitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(min(60.0, self.interval_s) if self.last_run is None else self.interval_s):
            try:
                collect(self.db, self.store, retention=self.retention, appeal_window=self.appeal_window)
            except Exception:
                log.exception("snapshot janitor: pass failed, will retry")
            self.last_run = time.monotonic()
