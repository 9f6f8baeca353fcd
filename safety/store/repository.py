"""Reads and writes the pipeline needs, each one transaction, safe under redelivery."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from policies.vocabulary import priority_rank
from safety.events import VideoGenerated
from safety.store.audit import audit
from safety.store.db import Database
from safety.store.models import DecisionRow, Video, utcnow
from safety.store.review import ReviewItem


def hold_item(row: DecisionRow, age_band: str) -> ReviewItem:
    """The review-queue entry for a held pipeline decision."""
    return ReviewItem(
        id=str(uuid.uuid4()),
        video_id=row.video_id,
        kind="hold",
        status="open",
        priority=priority_rank(row.priority) * 1000,  # same scale as safety.review.queue (+ report bumps)
        reasons=list(row.reasons),
        decision_id=row.id,
        creator_age_band=age_band,
    )


@dataclass(frozen=True)
class StoredDecision:
    """A decision as stored; ``created`` is False when another delivery stored it first."""

    row: DecisionRow
    created: bool


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

    def record_decision(
        self,
        event: VideoGenerated,
        row: DecisionRow,
        also: Callable[[Session, DecisionRow], None] | None = None,
    ) -> StoredDecision:
        """Insert the video (first time) and the decision, or return the one already stored.

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
                s.add(row)
                s.flush()
                if row.outcome == "held":
                    s.add(hold_item(row, event.creator.age_band))
                if also is not None:  # e.g. likeness matches: stored with the decision or not at all
                    also(s, row)
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
                )
            return StoredDecision(row, created=True)
        except IntegrityError:
            existing = self.get_decision(event.video_id, row.policy_version)
            if existing is None:  # the conflict was something else: surface it
                raise
            return StoredDecision(existing, created=False)

    def mark_emitted(self, decision_ids: Iterable[str]) -> None:
        ids = list(decision_ids)
        if not ids:
            return
        with self.db.session() as s:
            s.execute(
                update(DecisionRow)
                .where(DecisionRow.id.in_(ids), DecisionRow.emitted_at.is_(None))
                .values(emitted_at=utcnow())
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
