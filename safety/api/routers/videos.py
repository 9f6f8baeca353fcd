"""Videos: creators see their own (never who reported them); moderators and admins see all."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from safety.accounts import Principal
from safety.api.deps import CurrentUser, SessionDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import VideoOut
from safety.store import DecisionRow, ReviewAction, Video

router = APIRouter(prefix="/v1/videos", tags=["videos"], responses=PROBLEM_RESPONSES)


def _visible(who: Principal) -> bool:
    return who.role in ("creator", "moderator", "admin", "platform")


def _out(session: SessionDep, v: Video) -> VideoOut:
    last_action = session.scalar(
        select(ReviewAction)
        .where(ReviewAction.video_id == v.video_id)
        .order_by(ReviewAction.created_at.desc())
        .limit(1)
    )
    decision = session.scalar(
        select(DecisionRow)
        .where(DecisionRow.video_id == v.video_id)
        .order_by(DecisionRow.created_at.desc())
        .limit(1)
    )
    reasons: list[str] = []
    message = audience = None
    if last_action is not None and last_action.action in (
        "approve",
        "overturn",
        "reject",
        "uphold",
        "remove",
    ):
        reasons, message, audience = list(last_action.reasons), last_action.note, last_action.audience
    elif decision is not None:
        reasons, message, audience = list(decision.reasons), decision.creator_message, decision.audience
    return VideoOut(
        video_id=v.video_id,
        creator_id=v.creator_id,
        state=v.state,
        prompt=v.prompt,
        created_at=v.created_at,
        reasons=reasons,
        message=message,
        audience=audience,
    )


@router.get("", response_model=list[VideoOut])
def list_videos(
    who: CurrentUser,
    session: SessionDep,
    state: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[VideoOut]:
    if not _visible(who) or who.role == "platform":
        raise Problem(403, "forbidden", "Your role may not list videos")
    q = select(Video).order_by(Video.received_at.desc()).limit(limit)
    if who.role == "creator":
        q = q.where(Video.creator_id == (who.creator_id or "\x00"))
    if state:
        q = q.where(Video.state == state)
    return [_out(session, v) for v in session.scalars(q)]


@router.get("/{video_id}", response_model=VideoOut)
def get_video(video_id: str, who: CurrentUser, session: SessionDep) -> VideoOut:
    if not _visible(who):
        raise Problem(403, "forbidden", "Your role may not read videos")
    v = session.get(Video, video_id)
    if v is None or (who.role == "creator" and v.creator_id != who.creator_id):
        raise Problem(404, "video-not-found", f"no video {video_id!r}")
    return _out(session, v)
