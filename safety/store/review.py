"""The human side: review items (holds, reports, appeals), moderator actions, reports, appeals,
and the outbox that carries API-originated events to Kafka."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safety.store.models import Base, BigId, JsonType, UtcDateTime, utcnow


class ReviewItem(Base):
    """One thing a moderator must decide. At most one open item per (video, kind)."""

    __tablename__ = "review_items"
    __table_args__ = (
        Index("ix_review_queue", "status", "priority", "created_at"),
        Index("ix_review_video_kind", "video_id", "kind"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # hold | report | appeal
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | escalated | decided
    priority: Mapped[int] = mapped_column(Integer)  # 0 low .. 3 urgent (+ bumps for reports)
    reasons: Mapped[list[Any]] = mapped_column(JsonType)
    decision_id: Mapped[str | None] = mapped_column(String(36))  # the decision under review
    appeal_id: Mapped[str | None] = mapped_column(String(36))
    creator_age_band: Mapped[str] = mapped_column(String(16))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    excluded_moderator: Mapped[str | None] = mapped_column(String(64))  # who may not decide (appeals)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReviewAction(Base):
    """What a moderator decided on an item; its id is the ``decision_id`` of the event it emits."""

    __tablename__ = "review_actions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"), index=True)
    video_id: Mapped[str] = mapped_column(String(128), index=True)
    moderator_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(
        String(16)
    )  # approve | reject | escalate | remove | uphold | overturn
    audience: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(JsonType)
    note: Mapped[str | None] = mapped_column(Text)
    asset_uri: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Report(Base):
    """A user report forwarded by the platform. Reporter ids never leave moderator routes."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("video_id", "reporter_id", "reason", name="uq_reports_once"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    reporter_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(32))
    details: Mapped[str | None] = mapped_column(Text)
    item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Appeal(Base):
    __tablename__ = "appeals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    creator_id: Mapped[str] = mapped_column(String(128), index=True)
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | upheld | overturned
    rejected_by: Mapped[str | None] = mapped_column(String(64))  # moderator who rejected, if any
    item_id: Mapped[str] = mapped_column(ForeignKey("review_items.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """An event written in the same transaction as the change that caused it; a relay sends it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(128))
    value: Mapped[dict[str, Any]] = mapped_column(JsonType)
    headers: Mapped[dict[str, Any]] = mapped_column(JsonType)
    # relay: the outbox relay sends it; worker: the consuming worker's checkpoint sends it (a
    # pipeline outcome), so the offset that caused it is committed only once it is out.
    channel: Mapped[str] = mapped_column(String(16), default="relay", server_default="relay")
    decision_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
