"""Tables of the likeness registry: cameos, protected likenesses, per-video matches and face tracks.

Only embeddings and metadata are stored, never verification videos or frames. Every change to
what workers match against bumps ``likeness_registry.version`` in the same transaction, so each
worker's index notices it on its next poll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safety.store.models import Base, BigId, JsonType, UtcDateTime, utcnow

PERMISSIONS = ("only_me", "approved", "everyone")
AGE_BANDS = ("teen", "adult")
LIMITS = ("no_sexual", "no_violent", "no_political")


class Cameo(Base):
    """One per owner (the platform's creator id). Deleted cameos keep the row (audit) but no vectors."""

    __tablename__ = "cameos"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # opaque ref shown in evidence
    owner_id: Mapped[str] = mapped_column(String(128), unique=True)
    owner_user_id: Mapped[str | None] = mapped_column(String(64))
    age_band: Mapped[str] = mapped_column(String(16))  # teen | adult
    permission: Mapped[str] = mapped_column(String(16), default="only_me")
    approved: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # creator ids
    limits: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active|revoked|deleted
    embedding_model: Mapped[str] = mapped_column(String(64))
    enrolment: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # quality figures only
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CameoEmbedding(Base):
    """One face vector of an enrolled owner (L2-normalised float32 bytes)."""

    __tablename__ = "cameo_embeddings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id"), index=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    quality: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ProtectedLikeness(Base):
    """A public figure blocked unless they enrol and consent (then ``cameo_id`` links them)."""

    __tablename__ = "protected_likenesses"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active | removed
    added_by: Mapped[str] = mapped_column(String(64))
    cameo_id: Mapped[str | None] = mapped_column(ForeignKey("cameos.id"), index=True)
    embedding_model: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ProtectedEmbedding(Base):
    __tablename__ = "protected_embeddings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    protected_id: Mapped[str] = mapped_column(ForeignKey("protected_likenesses.id"), index=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LikenessMatch(Base):
    """A known person seen in a video: what revocation takedowns are found from."""

    __tablename__ = "likeness_matches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    cameo_id: Mapped[str | None] = mapped_column(String(40), index=True)
    protected_id: Mapped[str | None] = mapped_column(String(40), index=True)
    track: Mapped[int] = mapped_column(Integer)
    similarity: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(JsonType)  # [{frame_index, t, box: [x, y, w, h]}]
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class VideoFaceTrack(Base):
    """One person's track in a video with its few embeddings, so new protected likenesses can be
    checked against published videos without decoding them again."""

    __tablename__ = "video_face_tracks"
    __table_args__ = (UniqueConstraint("video_id", "decision_id", "track", name="uq_face_tracks_track"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    track: Mapped[int] = mapped_column(Integer)
    vectors: Mapped[bytes] = mapped_column(LargeBinary)  # k x 128 float32, L2-normalised
    evidence: Mapped[list[Any]] = mapped_column(JsonType)
    embedding_model: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LikenessTakedown(Base):
    """A takedown sent for (video, subject): the unique key makes revocations idempotent."""

    __tablename__ = "likeness_takedowns"
    __table_args__ = (UniqueConstraint("video_id", "subject", name="uq_likeness_takedowns_once"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the takedown's decision_id
    video_id: Mapped[str] = mapped_column(String(128), index=True)
    subject: Mapped[str] = mapped_column(String(64))  # cameo:<id> | protected:<id>
    reason: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LinkRequest(Base):
    """A face that matches a protected figure, waiting for an admin (never linked automatically).

    ``kind`` is ``enrolment`` (a refused enrolment: its vectors and requested terms are kept here
    until decided, then erased if refused) or ``existing_cameo`` (a figure protected after a
    matching cameo was enrolled). Linking needs who verified the person's identity, and how.
    """

    __tablename__ = "likeness_link_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # enrolment | existing_cameo
    owner_id: Mapped[str] = mapped_column(String(128), index=True)
    owner_user_id: Mapped[str | None] = mapped_column(String(64))
    cameo_id: Mapped[str | None] = mapped_column(String(40))  # existing_cameo, or the result
    matches: Mapped[list[Any]] = mapped_column(JsonType)  # [{protected_id, similarity}]
    vectors: Mapped[bytes | None] = mapped_column(LargeBinary)  # k x 128 float32 (enrolment)
    quality: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    enrolment: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # quality figures only
    terms: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # permission, approved, limits
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    requested_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    verified_by: Mapped[str | None] = mapped_column(String(200))
    verification: Mapped[str | None] = mapped_column(String(1000))
    note: Mapped[str | None] = mapped_column(String(1000))


class RegistryVersion(Base):
    """A single row; ``version`` grows on every registry change (workers poll it)."""

    __tablename__ = "likeness_registry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
