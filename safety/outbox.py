"""Transactional outbox: events the API causes are written in the same transaction as the change.

``streams.outbox.OutboxRelay`` sends them; a broker blip delays an event, never loses it.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.orm import Session

from safety.store import OutboxMessage


def enqueue(
    session: Session,
    topic: str,
    key: str,
    event: BaseModel,
    decision_id: str | None = None,
    *,
    channel: str = "relay",
) -> OutboxMessage:
    """Add the message to the caller's transaction. ``channel="worker"``: a pipeline outcome, sent by
    the consuming worker's checkpoint (before it commits the offset), not by the relay."""
    message = OutboxMessage(
        topic=topic,
        key=key,
        value=event.model_dump(mode="json", by_alias=True),
        headers={"decision_id": decision_id} if decision_id else {},
        channel=channel,
        decision_id=decision_id,
    )
    session.add(message)
    return message
