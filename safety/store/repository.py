"""Reads and writes the pipeline needs, each one transaction, safe under redelivery."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safety.events import VideoGenerated
from safety.store.audit import audit
from safety.store.db import Database
from safety.store.models import DecisionRow, MediaSnapshot, Video, utcnow
from safety.store.review import OutboxMessage, ReviewItem

# Same scale as safety.review.queue: level * 1000 (+ report bumps).
PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def hold_item(row: DecisionRow, age_band: str) -> ReviewItem:
    """The review-queue entry for a held pipeline decision."""
    return ReviewItem(
        id=str(uuid.uuid4()),
        video_id=row.video_id,
        kind="hold",
        status="open",
        priority=PRIORITY_RANK.get(row.priority or "normal", 1) * 1000,
        reasons=list(row.reasons),
        decision_id=row.id,
        creator_age_band=age_band,
    )


@dataclass(frozen=True)
class StoredDecision:
    """A decision as stored; ``created`` is False when another delivery stored it first.

    ``message`` is the outcome's outbox row (channel ``worker``), written in the same transaction;
    None only for decisions stored before outbox rows existed.
    """

    row: DecisionRow
    created: bool
    message: OutboxMessage | None = None


Extras = Callable[[Session, DecisionRow], None]
Announce = Callable[[DecisionRow], tuple[str, Any]]  # row -> (topic, pydantic event)


def touch_snapshot(session: Session, sha256: str, size: int) -> None:
    """Record that a decision read this snapshot (an upsert: two workers may read the same bytes)."""
    values = {"sha256": sha256, "size": size, "last_used_at": utcnow(), "deleted_at": None}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(MediaSnapshot).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["sha256"], set_={"last_used_at": values["last_used_at"], "deleted_at": None}
        )
    )


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get_decision(self, video_id: str, policy_version: str) -> DecisionRow | None:
        with self.db.session() as s:
            return s.scalar(
                select(DecisionRow).where(
                    DecisionRow.video_id == video_id, DecisionRow.policy_version == policy_version
                )
            )

    def outcome_message(self, decision_id: str) -> OutboxMessage | None:
        """The outbox row that announces a pipeline decision (channel ``worker``)."""
        with self.db.session() as s:
            return s.scalar(
                select(OutboxMessage).where(
                    OutboxMessage.decision_id == decision_id, OutboxMessage.channel == "worker"
                )
            )

    def record_decision(
        self,
        event: VideoGenerated,
        row: DecisionRow,
        also: Extras | None = None,
        *,
        announce: Announce | None = None,
        snapshot: tuple[str, int] | None = None,
    ) -> StoredDecision:
        """The decision's unit of work: the video (first time), the decision, the snapshot it read,
        its review item, what ``also`` stores (likeness and rights records) and the outbox row that
        announces it, in one transaction; or the decision already stored.

        Two workers racing on one video both end up with the first decision stored: the unique
        constraint on (video_id, policy_version) decides, and only the winner writes an audit entry.
        """
        try:
            with self.db.session() as s:
                video = s.get(Video, event.video_id)
                if video is None:
                    video = _video_row(event)
                    s.add(video)
                    s.flush()
                video.state = row.outcome
                if snapshot is not None:
                    touch_snapshot(s, *snapshot)
                    video.media_sha256, video.media_bytes = snapshot
                    row.media_sha256 = snapshot[0]
                s.add(row)
                s.flush()
                if row.outcome == "held":
                    s.add(hold_item(row, event.creator.age_band))
                if also is not None:  # e.g. likeness matches: stored with the decision or not at all
                    also(s, row)
                message = None
                if announce is not None:
                    topic, body = announce(row)
                    message = OutboxMessage(
                        topic=topic,
                        key=event.video_id,
                        value=body.model_dump(mode="json", by_alias=True),
                        headers={"decision_id": row.id, "schema": str(getattr(body, "schema_", ""))},
                        channel="worker",
                        decision_id=row.id,
                    )
                    s.add(message)
                audit(
                    s,
                    f"worker:{row.worker_id}",
                    "decision.recorded",
                    "video",
                    event.video_id,
                    decision_id=row.id,
                    outcome=row.outcome,
                    audience=row.audience,
                    reasons=row.reasons,
                    policy_version=row.policy_version,
                    media_sha256=row.media_sha256,
                )
            return StoredDecision(row, created=True, message=message)
        except IntegrityError:
            existing = self.get_decision(event.video_id, row.policy_version)
            if existing is None:  # the conflict was something else: surface it
                raise
            return StoredDecision(existing, created=False, message=self.outcome_message(existing.id))

    def mark_emitted(self, decision_ids: Iterable[str]) -> None:
        """The worker's checkpoint: these outcomes are on their topics (decision and outbox row)."""
        ids = list(decision_ids)
        if not ids:
            return
        now = utcnow()
        with self.db.session() as s:
            s.execute(
                update(DecisionRow)
                .where(DecisionRow.id.in_(ids), DecisionRow.emitted_at.is_(None))
                .values(emitted_at=now)
            )
            s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.decision_id.in_(ids),
                    OutboxMessage.channel == "worker",
                    OutboxMessage.sent_at.is_(None),
                )
                .values(sent_at=now)
            )

    def append_audit(
        self, actor: str, action: str, subject_type: str, subject_id: str, details: dict[str, Any]
    ) -> None:
        with self.db.session() as s:
            audit(s, actor, action, subject_type, subject_id, **details)


def _video_row(event: VideoGenerated) -> Video:
    return Video(
        video_id=event.video_id,
        creator_id=event.creator.id,
        creator_age_band=event.creator.age_band,
        prompt=event.prompt,
        uri=event.uri,
        cameos=list(event.cameos),
        remix_of=event.remix_of,
        created_at=event.created_at,
        event=event.model_dump(mode="json", by_alias=True),
    )
