"""The review queue: listing with filters and cursors, and leases that never double-book.

Priority is one integer: ``level * 1000 + bump`` where level is 0 (low) .. 3 (urgent) and bump
counts distinct reporters, so a report many people filed outranks one filed once at the same level.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, and_, func, or_, select, update
from sqlalchemy.orm import Session

from safety.store import DecisionRow, ReviewItem
from safety.store.models import utcnow

LEVELS = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}


def priority_value(level: str, bump: int = 0) -> int:
    return LEVELS[level] * 1000 + max(0, min(bump, 999))


def priority_level(value: int) -> str:
    return LEVEL_NAMES.get(min(3, max(0, value // 1000)), "normal")


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = "open"
    kind: str | None = None
    reason: str | None = None
    priority: str | None = None
    age_band: str | None = None


def _encode_cursor(item: ReviewItem) -> str:
    raw = json.dumps([item.priority, item.created_at.isoformat(), item.id])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    try:
        priority, created, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(priority), datetime.fromisoformat(created), str(item_id)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc


def list_items(
    session: Session, f: QueueFilter, cursor: str | None, limit: int
) -> tuple[list[ReviewItem], str | None]:
    """Highest priority first, then oldest; keyset pagination so pages never skip or repeat."""
    q = select(ReviewItem)
    if f.status:
        q = q.where(ReviewItem.status == f.status)
    if f.kind:
        q = q.where(ReviewItem.kind == f.kind)
    if f.age_band:
        q = q.where(ReviewItem.creator_age_band == f.age_band)
    if f.priority:
        level = LEVELS[f.priority]
        q = q.where(ReviewItem.priority >= level * 1000, ReviewItem.priority < (level + 1) * 1000)
    if f.reason:
        # Reason codes are a small JSON list; a LIKE on the serialised form works on both databases.
        q = q.where(func.cast(ReviewItem.reasons, Text()).like(f'%"{_escape_like(f.reason)}"%', escape="\\"))
    if cursor:
        p, created, item_id = _decode_cursor(cursor)
        q = q.where(
            or_(
                ReviewItem.priority < p,
                and_(ReviewItem.priority == p, ReviewItem.created_at > created),
                and_(ReviewItem.priority == p, ReviewItem.created_at == created, ReviewItem.id > item_id),
            )
        )
    q = q.order_by(ReviewItem.priority.desc(), ReviewItem.created_at.asc(), ReviewItem.id.asc()).limit(
        limit + 1
    )
    rows = list(session.scalars(q))
    nxt = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], nxt


def counts(session: Session) -> dict[str, Any]:
    """Open items by kind and priority level, for the queue page and /metrics."""
    rows = session.execute(
        select(ReviewItem.kind, ReviewItem.priority, func.count())
        .where(ReviewItem.status.in_(("open", "escalated")))
        .group_by(ReviewItem.kind, ReviewItem.priority)
    ).all()
    out: dict[str, Any] = {"total": 0, "by_kind": {}, "by_priority": {}}
    for kind, priority, n in rows:
        out["total"] += n
        out["by_kind"][kind] = out["by_kind"].get(kind, 0) + n
        name = priority_level(int(priority))
        out["by_priority"][name] = out["by_priority"].get(name, 0) + n
    return out


class LeaseError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def claim(
    session: Session, item_id: str, moderator_id: str, ttl: timedelta, exposure_cap: int | None = None
) -> ReviewItem:
    """Lease an item to one moderator. One conditional UPDATE: under any number of concurrent
    claimers exactly one wins (row lock on PostgreSQL, database lock on SQLite).

    With ``exposure_cap``, a moderator who already decided that many graphic (or sexual) items today
    cannot claim another such item: it stays in the queue for someone else (``exposure_cap`` error).
    """
    from safety.review.learning import item_kinds, over_cap  # learning imports the store, not this module

    if exposure_cap:
        current = session.get(ReviewItem, item_id)
        if current is not None and current.lease_owner != moderator_id:
            decision = session.get(DecisionRow, current.decision_id) if current.decision_id else None
            if over_cap(session, moderator_id, item_kinds(current, decision), exposure_cap):
                raise LeaseError("exposure_cap")
    now = utcnow()
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == item_id,
            ReviewItem.status.in_(("open", "escalated")),
            or_(ReviewItem.excluded_moderator.is_(None), ReviewItem.excluded_moderator != moderator_id),
            or_(
                ReviewItem.lease_owner.is_(None),
                ReviewItem.lease_expires_at < now,
                ReviewItem.lease_owner == moderator_id,
            ),
        )
        .values(lease_owner=moderator_id, lease_expires_at=now + ttl, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        item = session.get(ReviewItem, item_id)
        if item is None:
            raise LeaseError("not_found")
        if item.status == "decided":
            raise LeaseError("decided")
        if item.excluded_moderator == moderator_id:
            raise LeaseError("excluded")
        raise LeaseError("held_by_other")
    item = session.get(ReviewItem, item_id, populate_existing=True)
    assert item is not None
    return item


def holds_lease(item: ReviewItem, moderator_id: str) -> bool:
    return (
        item.lease_owner == moderator_id
        and item.lease_expires_at is not None
        and item.lease_expires_at > utcnow()
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace('"', "")
