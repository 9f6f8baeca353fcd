"""What moderators do to review items, and the events each action emits (via the outbox)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from policies import Audience
from safety.accounts import Principal
from safety.events import VideoRejected, VideoTakedown
from safety.outbox import enqueue
from safety.review import learning
from safety.review.publish_jobs import ApprovalError, queue_publish
from safety.review.queue import LeaseError, holds_lease
from safety.store import Appeal, DecisionRow, ReviewAction, ReviewItem, Video
from safety.store.audit import audit
from safety.store.models import utcnow
from safety.topics import FEED_TAKEDOWN, VIDEOS_REJECTED

ALLOWED: dict[str, frozenset[str]] = {
    "hold": frozenset({"approve", "reject", "escalate"}),
    "report": frozenset({"remove", "keep", "escalate"}),
    "appeal": frozenset({"uphold", "overturn", "escalate"}),
}


class ActionError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ActionInput:
    action: str
    audience: Audience | None = None
    reasons: list[str] = field(default_factory=list)
    note: str | None = None


def decide(session: Session, item_id: str, who: Principal, inp: ActionInput) -> ReviewAction:
    """Record a moderator's action and what it causes, in the caller's transaction. An approval
    queues a publish job for the reviewed snapshot (safety.review.publish_jobs): no media is read
    or encoded here, under the item's row lock."""
    item = session.get(ReviewItem, item_id, with_for_update=True)
    if item is None:
        raise LeaseError("not_found")
    if item.status == "decided":
        raise LeaseError("decided")
    if item.excluded_moderator == who.user_id:
        raise LeaseError("excluded")
    if not holds_lease(item, who.user_id):
        raise LeaseError("no_lease")
    if inp.action not in ALLOWED[item.kind]:
        raise ActionError(
            "action-not-allowed",
            f"{inp.action!r} is not an action for a {item.kind} item; use {sorted(ALLOWED[item.kind])}",
        )
    video = session.get(Video, item.video_id)
    assert video is not None
    decision = session.get(DecisionRow, item.decision_id) if item.decision_id else None
    action = ReviewAction(
        id=str(uuid.uuid4()),
        item_id=item.id,
        video_id=video.video_id,
        moderator_id=who.user_id,
        action=inp.action,
        audience=inp.audience.value if inp.audience else None,
        reasons=list(inp.reasons),
        note=inp.note,
    )
    policy_version = decision.policy_version if decision else "moderator"
    now = utcnow()

    if inp.action in ("approve", "overturn"):
        if inp.audience is None:
            raise ActionError("audience-required", f"{inp.action} needs an audience")
        if video.creator_age_band == "teen" and inp.audience is Audience.ADULT:
            raise ActionError("teen-adult-audience", "a teen creator's video cannot be published as 18+")
        try:
            queue_publish(session, video, action, decision, who.name)
        except ApprovalError as exc:
            raise ActionError(exc.code, str(exc)) from exc
    elif inp.action in ("reject", "uphold"):
        if inp.action == "reject" and not inp.reasons:
            raise ActionError("reasons-required", "a rejection needs at least one reason code")
        reasons = inp.reasons or (["appeal.upheld"] if inp.action == "uphold" else [])
        enqueue(
            session,
            VIDEOS_REJECTED,
            video.video_id,
            VideoRejected(
                video_id=video.video_id,
                creator_id=video.creator_id,
                reasons=reasons,
                message=inp.note or "A moderator reviewed this video and it can't be published.",
                decision_id=action.id,
                policy_version=policy_version,
            ),
            action.id,
        )
        video.state = "rejected"
    elif inp.action == "remove":
        if not inp.reasons:
            raise ActionError("reasons-required", "a removal needs at least one reason code")
        enqueue(
            session,
            FEED_TAKEDOWN,
            video.video_id,
            VideoTakedown(
                video_id=video.video_id,
                reasons=inp.reasons,
                decision_id=action.id,
                requested_at=datetime.now(UTC),
            ),
            action.id,
        )
        video.state = "taken_down"

    if inp.action == "escalate":
        item.status = "escalated"
        item.priority = min(3999, (item.priority // 1000 + 1) * 1000 + item.priority % 1000)
    else:
        item.status = "decided"
        item.decided_at = now
    item.lease_owner = None
    item.lease_expires_at = None
    item.updated_at = now
    if item.kind == "appeal" and item.appeal_id and inp.action in ("uphold", "overturn"):
        appeal = session.get(Appeal, item.appeal_id)
        if appeal is not None:
            appeal.status = "upheld" if inp.action == "uphold" else "overturned"
            appeal.decided_at = now
    session.add(action)
    learning.on_decision(session, item, action, decision)  # label + exposure (issue 17)
    audit(
        session,
        f"user:{who.user_id}",
        f"review.{inp.action}",
        "video",
        video.video_id,
        item_id=item.id,
        kind=item.kind,
        review_action_id=action.id,
        audience=action.audience,
        reasons=action.reasons,
    )
    return action


def last_rejecting_moderator(session: Session, video_id: str) -> str | None:
    return session.scalar(
        select(ReviewAction.moderator_id)
        .where(ReviewAction.video_id == video_id, ReviewAction.action.in_(("reject", "uphold")))
        .order_by(ReviewAction.created_at.desc())
        .limit(1)
    )
