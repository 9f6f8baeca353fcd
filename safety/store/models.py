"""Tables. Decisions are unique per (video, policy version); the audit log is append-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

JsonType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every database (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonType, list[Any]: JsonType, dict[str, Any] | None: JsonType}


class Video(Base):
    """One generated video as it arrived (the event), without its media."""

    __tablename__ = "videos"

    video_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    creator_id: Mapped[str] = mapped_column(String(128), index=True)
    creator_age_band: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    uri: Mapped[str] = mapped_column(Text)
    cameos: Mapped[list[Any]] = mapped_column(JsonType)
    remix_of: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    event: Mapped[dict[str, Any]] = mapped_column(JsonType)
    # received | published | held | rejected | taken_down: kept current by every decision.
    state: Mapped[str | None] = mapped_column(String(16), index=True)
    # The bytes every decision on this video read (safety.media.snapshot); None: never fetched.
    media_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    media_bytes: Mapped[int | None] = mapped_column(BigInteger)


class DecisionRow(Base):
    """A pipeline verdict with everything needed to explain or replay it."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("video_id", "policy_version", name="uq_decisions_video_policy"),
        Index("ix_decisions_outcome_created", "outcome", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    policy_version: Mapped[str] = mapped_column(String(128))
    policy_digest: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(JsonType)
    creator_message: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str | None] = mapped_column(String(16))
    labels: Mapped[list[Any]] = mapped_column(JsonType)
    signals: Mapped[list[Any]] = mapped_column(JsonType)
    trace: Mapped[list[Any]] = mapped_column(JsonType)
    shadow: Mapped[list[Any]] = mapped_column(JsonType)
    context: Mapped[dict[str, Any] | None] = mapped_column(JsonType)  # facts the policy saw
    shadow_decision: Mapped[dict[str, Any] | None] = mapped_column(JsonType)  # a shadow policy's verdict
    detectors: Mapped[list[Any]] = mapped_column(JsonType)
    failed_stage: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    stage_ms: Mapped[dict[str, Any]] = mapped_column(JsonType)
    asset_uri: Mapped[str | None] = mapped_column(Text)
    media_sha256: Mapped[str | None] = mapped_column(String(64))  # the snapshot this decision read
    # Duties that travel with a published video (rights holders' attribution, revenue-share tags).
    obligations: Mapped[list[Any] | None] = mapped_column(JsonType)
    worker_id: Mapped[str] = mapped_column(String(128))
    # The registry versions the likeness detector and the rights gate read (None: not run), and
    # up to which version safety.registry's reconciler has re-checked this decision.
    likeness_version: Mapped[int | None] = mapped_column(BigInteger)
    rights_version: Mapped[int | None] = mapped_column(BigInteger)
    likeness_checked: Mapped[int | None] = mapped_column(BigInteger)
    rights_checked: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    emitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    """Append-only: a database trigger refuses UPDATE and DELETE on this table."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(128), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType)


class MediaSnapshot(Base):
    """A content-addressed copy of a creator's media (see safety.media.snapshot) and its lifetime."""

    __tablename__ = "media_snapshots"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # Set by every decision that reads it: retention counts from the last one.
    last_used_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)


class PublishJob(Base):
    """A moderator's approval waiting to be published: the reviewed snapshot, never the URI.

    Its id is the review action's id (the ``decision_id`` of the ``video.published/v1`` it emits).
    """

    __tablename__ = "publish_jobs"
    __table_args__ = (Index("ix_publish_jobs_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    item_id: Mapped[str] = mapped_column(String(36))
    decision_id: Mapped[str | None] = mapped_column(String(36))  # the pipeline decision reviewed
    media_sha256: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(16))
    labels: Mapped[list[Any]] = mapped_column(JsonType)
    obligations: Mapped[list[Any]] = mapped_column(JsonType)
    policy_version: Mapped[str] = mapped_column(String(128))
    reviewed_by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    asset_uri: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
