"""Creators appeal rejections; moderators see all appeals, creators only their own."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import select

from safety.api.deps import CurrentUser, SessionDep, StateDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import AppealIn, AppealOut
from safety.review.intake import IntakeError, file_appeal
from safety.store import Appeal

router = APIRouter(prefix="/v1/appeals", tags=["appeals"], responses=PROBLEM_RESPONSES)


def _out(a: Appeal) -> AppealOut:
    return AppealOut(
        id=a.id,
        video_id=a.video_id,
        status=a.status,
        statement=a.statement,
        created_at=a.created_at,
        decided_at=a.decided_at,
    )


@router.post("", response_model=AppealOut, status_code=201)
def create(body: AppealIn, who: CurrentUser, session: SessionDep, state: StateDep) -> AppealOut:
    if who.role != "creator":
        raise Problem(403, "forbidden", "Only the creator of a video can appeal it")
    try:
        appeal = file_appeal(
            session, who, body.video_id, body.statement, timedelta(days=state.settings.appeal_window_days)
        )
    except IntakeError as exc:
        session.rollback()
        raise Problem(exc.status, exc.code, str(exc)) from exc
    session.commit()
    return _out(appeal)


@router.get("", response_model=list[AppealOut])
def list_appeals(who: CurrentUser, session: SessionDep) -> list[AppealOut]:
    q = select(Appeal).order_by(Appeal.created_at.desc()).limit(500)
    if who.role == "creator":
        q = q.where(Appeal.creator_id == (who.creator_id or "\x00"))
    elif who.role not in ("moderator", "admin"):
        raise Problem(403, "forbidden", "Your role may not list appeals")
    return [_out(a) for a in session.scalars(q)]
