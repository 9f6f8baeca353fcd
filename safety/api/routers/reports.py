"""User reports forwarded by the platform."""

from __future__ import annotations

from fastapi import APIRouter, Response

from safety.api.deps import Platform, SessionDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import ReportIn, ReportOut
from safety.review.intake import IntakeError, file_report
from safety.review.queue import priority_level

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    response_model=ReportOut,
    status_code=201,
    summary="File a user report on a published video (opens or re-prioritises a review item)",
)
def create(body: ReportIn, who: Platform, session: SessionDep, response: Response) -> ReportOut:
    try:
        report, item, created = file_report(
            session, body.video_id, body.reporter_id, body.reason, body.details, who
        )
    except IntakeError as exc:
        session.rollback()
        raise Problem(exc.status, exc.code, str(exc)) from exc
    session.commit()
    if not created:
        response.status_code = 200
    return ReportOut(
        id=report.id,
        video_id=report.video_id,
        reason=report.reason,
        item_id=item.id,
        item_priority=priority_level(item.priority),
        created=created,
    )
