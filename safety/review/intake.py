"""How items enter the queue besides pipeline holds: user reports and creator appeals."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safety.accounts import Principal
from safety.review.actions import last_rejecting_moderator
from safety.review.queue import LEVELS, priority_value
from safety.store import Appeal, DecisionRow, Report, ReviewAction, ReviewItem, Video
from safety.store.audit import audit
from safety.store.models import utcnow

# Harm to a person first (bullying, minors, self-harm), then content, then rights and spam.
REPORT_LEVELS: dict[str, str] = {
    "bullying_harassment": "urgent",
    "minor_safety": "urgent",
    "self_harm": "urgent",
    "sexual_content": "high",
    "violence": "high",
    "hate": "high",
    "impersonation": "high",
    "copyright": "normal",
    "spam": "low",
    "other": "low",
}


class IntakeError(ValueError):
    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def file_report(
    session: Session, video_id: str, reporter_id: str, reason: str, details: str | None, platform: Principal
) -> tuple[Report, ReviewItem, bool]:
    """Record a report and open (or re-prioritise) the video's report item. Returns created?"""
    video = session.get(Video, video_id)
    if video is None:
        raise IntakeError("video-not-found", f"no video {video_id!r}", 404)
    if video.state != "published":
        raise IntakeError(
            "video-not-published",
            f"video {video_id!r} is {video.state}; only published videos can be reported",
        )
    item = session.scalar(
        select(ReviewItem)
        .where(
            ReviewItem.video_id == video_id,
            ReviewItem.kind == "report",
            ReviewItem.status.in_(("open", "escalated")),
        )
        .with_for_update()
    )
    if item is None:
        item = ReviewItem(
            id=str(uuid.uuid4()),
            video_id=video_id,
            kind="report",
            status="open",
            priority=priority_value(REPORT_LEVELS[reason]),
            reasons=[],
            decision_id=None,
            creator_age_band=video.creator_age_band,
        )
        session.add(item)
        session.flush()
    existing = session.scalar(
        select(Report).where(
            Report.video_id == video_id, Report.reporter_id == reporter_id, Report.reason == reason
        )
    )
    if existing is not None:
        return existing, item, False
    report = Report(
        id=str(uuid.uuid4()),
        video_id=video_id,
        reporter_id=reporter_id,
        reason=reason,
        details=details,
        item_id=item.id,
    )
    try:
        with session.begin_nested():
            session.add(report)
    except IntegrityError:
        dup = session.scalar(
            select(Report).where(
                Report.video_id == video_id, Report.reporter_id == reporter_id, Report.reason == reason
            )
        )
        assert dup is not None
        return dup, item, False
    reasons = sorted({*item.reasons, f"report.{reason}"})
    level = max((LEVELS[REPORT_LEVELS[r.removeprefix("report.")]] for r in reasons), default=1)
    reporters = (
        session.scalar(select(func.count(func.distinct(Report.reporter_id))).where(Report.item_id == item.id))
        or 1
    )
    base = level * 1000
    item.reasons = reasons
    item.priority = max(item.priority // 1000 * 1000, base) + min(reporters, 999)
    item.updated_at = utcnow()
    audit(
        session,
        f"user:{platform.user_id}",
        "report.filed",
        "video",
        video_id,
        report_id=report.id,
        reason=reason,
        item_id=item.id,
    )
    return report, item, True


def file_appeal(
    session: Session,
    creator: Principal,
    video_id: str,
    statement: str,
    window: timedelta = timedelta(days=30),
) -> Appeal:
    """Open an appeal of a rejection made within ``window`` (the media snapshot is kept that long)."""
    video = session.get(Video, video_id)
    if video is None or creator.creator_id is None or video.creator_id != creator.creator_id:
        raise IntakeError("video-not-found", f"no video {video_id!r} of yours", 404)
    if video.state != "rejected":
        raise IntakeError("not-rejected", f"only rejected videos can be appealed; this one is {video.state}")
    rejected_at = session.scalar(
        select(func.max(DecisionRow.created_at)).where(DecisionRow.video_id == video_id)
    )
    last_action = session.scalar(
        select(func.max(ReviewAction.created_at)).where(
            ReviewAction.video_id == video_id, ReviewAction.action.in_(("reject", "uphold"))
        )
    )
    latest = max((t for t in (rejected_at, last_action) if t is not None), default=None)
    if latest is not None and latest < utcnow() - window:
        raise IntakeError(
            "appeal-window-closed", f"rejections can be appealed for {window.days} days; this one is older"
        )
    if session.scalar(select(Appeal).where(Appeal.video_id == video_id, Appeal.status == "open")) is not None:
        raise IntakeError("appeal-open", "this video already has an open appeal")
    rejected_by = last_rejecting_moderator(session, video_id)
    item = ReviewItem(
        id=str(uuid.uuid4()),
        video_id=video_id,
        kind="appeal",
        status="open",
        priority=priority_value("high"),
        reasons=["appeal"],
        decision_id=None,
        creator_age_band=video.creator_age_band,
        excluded_moderator=rejected_by,
    )
    session.add(item)
    session.flush()
    appeal = Appeal(
        id=str(uuid.uuid4()),
        video_id=video_id,
        creator_id=creator.creator_id,
        statement=statement,
        status="open",
        rejected_by=rejected_by,
        item_id=item.id,
    )
    item.appeal_id = appeal.id
    session.add(appeal)
    audit(
        session,
        f"user:{creator.user_id}",
        "appeal.filed",
        "video",
        video_id,
        appeal_id=appeal.id,
        item_id=item.id,
    )
    return appeal
