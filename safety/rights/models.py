"""Tables of the rights registry: characters, their references, versioned rules, matches, takedowns.

Rules are immutable versions (a change is a new row), so every decision names the exact rule
version it applied. Every change that workers must see bumps ``rights_registry.version`` in the
same transaction; each worker's :class:`~safety.rights.view.RightsView` notices it on its next poll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safety.store.models import Base, BigId, JsonType, UtcDateTime, utcnow

RULE_STATES = ("shadow", "active", "superseded", "withdrawn")
REFERENCE_KINDS = ("image", "clip", "audio")


class RightsCharacter(Base):
    """A protected character or work of one organisation (names and descriptions in several languages)."""

    __tablename__ = "rights_characters"
    __table_args__ = (UniqueConstraint("organisation_id", "slug", name="uq_rights_characters_slug"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    names: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # [{text, lang, kind, ambiguous}]
    descriptions: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # lang -> [text]
    official_clips: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # video ids
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)  # active | removed
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RightsReference(Base):
    """A reference image, clip or audio track: media re-encoded without metadata in the asset store."""

    __tablename__ = "rights_references"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    character_id: Mapped[str] = mapped_column(ForeignKey("rights_characters.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | clip | audio
    asset_key: Mapped[str] = mapped_column(Text)
    frame_keys: Mapped[list[Any]] = mapped_column(JsonType, default=list)  # clip: sampled frames (PNG)
    frame_times: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary)  # audio: Chromaprint uint32 items
    sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    label: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | removed
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RightsRule(Base):
    """One version of a character's rule. At most one ``active`` and one ``shadow`` per character."""

    __tablename__ = "rights_rules"
    __table_args__ = (UniqueConstraint("character_id", "version", name="uq_rights_rules_version"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # <character id>@<version>
    character_id: Mapped[str] = mapped_column(ForeignKey("rights_characters.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonType)  # policies.rights.RuleSpec
    status: Mapped[str] = mapped_column(String(16), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RightsRegistryVersion(Base):
    __tablename__ = "rights_registry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigId, default=0)


class RightsMatch(Base):
    """A character found in a video, what its rule made of it, and the facts the rule read.

    The facts make shadow rules and withdrawals decidable later without re-running detection.
    """

    __tablename__ = "rights_matches"
    __table_args__ = (
        Index("ix_rights_matches_character_at", "character_id", "created_at"),
        UniqueConstraint("decision_id", "character_id", name="uq_rights_matches_decision"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    character_id: Mapped[str] = mapped_column(ForeignKey("rights_characters.id"))
    score: Mapped[float] = mapped_column(Float)
    methods: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    outcome: Mapped[str] = mapped_column(String(16))  # this character's verdict
    decision_outcome: Mapped[str] = mapped_column(String(16))  # the whole video's
    rule_id: Mapped[str | None] = mapped_column(String(64), index=True)
    effect: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    obligations: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    shadow_rule_id: Mapped[str | None] = mapped_column(String(64))
    shadow_outcome: Mapped[str | None] = mapped_column(String(16))
    facts: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    evidence: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RightsAction(Base):
    """A takedown or relabel sent after a rule change: unique per (video, rule), so it happens once."""

    __tablename__ = "rights_actions"
    __table_args__ = (UniqueConstraint("video_id", "rule_id", name="uq_rights_actions_once"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.video_id"), index=True)
    character_id: Mapped[str] = mapped_column(ForeignKey("rights_characters.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))  # the rule version that caused it
    kind: Mapped[str] = mapped_column(String(16))  # takedown | relabel
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
