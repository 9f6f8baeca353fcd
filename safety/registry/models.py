"""Tables of the registry mechanism: the change log and the queue of late decisions to re-check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from safety.store.models import Base, BigId, JsonType, UtcDateTime, utcnow


class RegistryChange(Base):
    """A change that can forbid published videos: its registry version, kind and the parties it
    touches (``cameo:<id>``, ``protected:<id>``, ``character:<id>``). ``swept_at`` is set once a
    reconciler re-checked the published decisions of those parties; ``acted`` lists the videos it
    took down or relabelled."""

    __tablename__ = "registry_changes"
    __table_args__ = (
        UniqueConstraint("registry_name", "version", name="uq_registry_changes_version"),
        Index("ix_registry_changes_unswept", "swept_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    registry_name: Mapped[str] = mapped_column(String(16))  # likeness | rights
    version: Mapped[int] = mapped_column(BigInteger)  # as migration 0008 made it (BIGINT on SQLite too)
    kind: Mapped[str] = mapped_column(String(32))
    parties: Mapped[list[Any]] = mapped_column(JsonType)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    swept_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acted: Mapped[list[Any] | None] = mapped_column(JsonType)


class RegistryRecheck(Base):
    """A published decision stored at a registry version below the head: the changes in
    (``decision's checked version``, ``upto``] may have been swept before it existed."""

    __tablename__ = "registry_rechecks"
    __table_args__ = (UniqueConstraint("decision_id", "registry_name", name="uq_registry_rechecks_once"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(36))
    registry_name: Mapped[str] = mapped_column(String(16))
    upto: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
