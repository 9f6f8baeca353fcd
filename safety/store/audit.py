"""The one way to write an audit entry (append-only: the database refuses UPDATE and DELETE)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from safety.store.models import AuditEntry


def audit(
    session: Session, actor: str, action: str, subject_type: str, subject_id: str, **details: Any
) -> None:
    """Add an entry to ``session``: it commits (or rolls back) with the change it describes."""
    session.add(
        AuditEntry(
            actor=actor, action=action, subject_type=subject_type, subject_id=subject_id, details=details
        )
    )
