"""Tables of the learning loop and moderator wellness: a label per moderator decision, exposure counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from safety.store.models import Base, JsonType, UtcDateTime, utcnow


class ModeratorLabel(Base):
    """A moderator's decision on a held item, kept next to the signals and rules that caused the hold.

    ``verdict`` is what the decision says about the content: ``benign`` (approved for everyone),
    ``restrict`` (approved for 13+ or 18+), ``harmful`` (rejected), ``escalated`` (no verdict yet).
    ``feedguard calibrate`` re-fits thresholds from these rows.
    """

    __tablename__ = "moderator_labels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # = review_actions.id
    item_id: Mapped[str] = mapped_column(String(36), index=True)
    video_id: Mapped[str] = mapped_column(String(128), index=True)
    decision_id: Mapped[str | None] = mapped_column(String(36))
    policy_version: Mapped[str | None] = mapped_column(String(128))
    moderator_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    audience: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(JsonType)  # the moderator's reason codes
    hold_reasons: Mapped[list[Any]] = mapped_column(JsonType)  # why the item was held
    rules: Mapped[list[Any]] = mapped_column(JsonType)  # enforced rule ids of the held decision
    signals: Mapped[dict[str, Any]] = mapped_column(JsonType)  # max score per signal name
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class ModeratorExposure(Base):
    """How many sensitive items (``graphic`` or ``sexual``) one moderator decided on one UTC day."""

    __tablename__ = "moderator_exposure"
    __table_args__ = (PrimaryKeyConstraint("moderator_id", "day", "kind", name="pk_moderator_exposure"),)

    moderator_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD, UTC
    kind: Mapped[str] = mapped_column(String(16))  # graphic | sexual
    count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
