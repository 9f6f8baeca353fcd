"""The audit log, read-only and for admins. No route can change or delete an entry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from safety.api.deps import AdminUser, SessionDep
from safety.api.problems import PROBLEM_RESPONSES
from safety.api.schemas import AuditOut, AuditPage
from safety.store import AuditEntry

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=AuditPage)
def list_audit(
    _: AdminUser,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    subject_id: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, description="cursor: entries older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    q = select(AuditEntry)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action == action)
    if subject_id:
        q = q.where(AuditEntry.subject_id == subject_id)
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    if before_id:
        q = q.where(AuditEntry.id < before_id)
    rows = list(session.scalars(q.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    entries = [
        AuditOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            subject_type=r.subject_type,
            subject_id=r.subject_id,
            details=r.details,
        )
        for r in rows[:limit]
    ]
    return AuditPage(entries=entries, next_cursor=entries[-1].id if len(rows) > limit else None)
