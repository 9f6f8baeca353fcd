"""The review queue: list, claim (lease), evidence, decide."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from safety.api.deps import Moderator, SessionDep, StateDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import (
    DecisionIn,
    DecisionOut,
    EvidenceOut,
    PublishJobOut,
    QueueCounts,
    ReviewItemOut,
    ReviewPage,
)
from safety.review.actions import ActionError, ActionInput, decide
from safety.review.evidence import build_evidence, thumbnails
from safety.review.queue import LeaseError, QueueFilter, claim, counts, list_items, priority_level
from safety.store import PublishJob, ReviewItem, Video

router = APIRouter(prefix="/v1/review", tags=["review"], responses=PROBLEM_RESPONSES)

_LEASE_PROBLEMS = {
    "not_found": (404, "item-not-found", "No such review item"),
    "decided": (409, "item-decided", "This item has already been decided"),
    "held_by_other": (409, "lease-held", "Another moderator holds the lease on this item"),
    "excluded": (
        403,
        "moderator-excluded",
        "You rejected this video; another moderator must decide the appeal",
    ),
    "no_lease": (409, "lease-required", "Claim the item (and hold a live lease) before deciding"),
    "exposure_cap": (
        409,
        "exposure-cap",
        "You reached today's cap of graphic or sexual items; this one is left for another moderator",
    ),
}


def item_out(i: ReviewItem) -> ReviewItemOut:
    return ReviewItemOut(
        id=i.id,
        video_id=i.video_id,
        kind=i.kind,
        status=i.status,
        priority=priority_level(i.priority),
        priority_value=i.priority,
        reasons=list(i.reasons),
        creator_age_band=i.creator_age_band,
        lease_owner=i.lease_owner,
        lease_expires_at=i.lease_expires_at,
        created_at=i.created_at,
    )


def lease_problem(exc: LeaseError) -> Problem:
    status, type_, title = _LEASE_PROBLEMS[exc.reason]
    return Problem(status, type_, title)


@router.get("/items", response_model=ReviewPage, summary="The queue: highest priority first, then oldest")
def list_queue(
    _: Moderator,
    session: SessionDep,
    status: Literal["open", "escalated", "decided"] = "open",
    kind: Literal["hold", "report", "appeal"] | None = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    priority: Literal["low", "normal", "high", "urgent"] | None = None,
    age_band: Literal["teen", "adult"] | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReviewPage:
    try:
        items, nxt = list_items(session, QueueFilter(status, kind, reason, priority, age_band), cursor, limit)
    except ValueError as exc:
        raise Problem(400, "invalid-cursor", str(exc)) from exc
    return ReviewPage(items=[item_out(i) for i in items], next_cursor=nxt)


@router.get("/counts", response_model=QueueCounts)
def queue_counts(_: Moderator, session: SessionDep) -> QueueCounts:
    return QueueCounts(**counts(session))


@router.post("/items/{item_id}/claim", response_model=ReviewItemOut, summary="Lease the item to yourself")
def claim_item(item_id: str, who: Moderator, session: SessionDep, state: StateDep) -> ReviewItemOut:
    try:
        item = claim(
            session,
            item_id,
            who.user_id,
            timedelta(seconds=state.settings.lease_ttl_s),
            exposure_cap=state.settings.moderator_daily_exposure_cap,
        )
    except LeaseError as exc:
        session.rollback()
        raise lease_problem(exc) from exc
    session.commit()
    return item_out(item)


@router.get("/items/{item_id}", response_model=EvidenceOut, summary="The item with all its evidence")
def get_item(
    item_id: str, _: Moderator, session: SessionDep, state: StateDep, request: Request
) -> EvidenceOut:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise lease_problem(LeaseError("not_found"))
    url = str(request.url_for("item_frame", item_id=item_id, index="0")).replace("/0.jpg", "/{index}.jpg")
    evidence = build_evidence(session, state.settings, item, url)
    return EvidenceOut(item=item_out(item), **evidence)


@router.get(
    "/items/{item_id}/frames/{index}.jpg",
    name="item_frame",
    response_class=FileResponse,
    summary="One evidence frame (JPEG)",
)
def item_frame(item_id: str, index: int, _: Moderator, session: SessionDep, state: StateDep) -> FileResponse:
    item = session.get(ReviewItem, item_id)
    video = session.get(Video, item.video_id) if item else None
    if item is None or video is None:
        raise lease_problem(LeaseError("not_found"))
    thumbs = {t.index: t.path for t in thumbnails(state.settings, video, None)}
    path: Path | None = thumbs.get(index)
    if path is None or not path.exists():
        raise Problem(404, "frame-not-found", f"no frame {index}")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@router.post(
    "/items/{item_id}/decision",
    response_model=DecisionOut,
    summary="Approve (with audience), reject (reason codes + note), escalate, remove, uphold, overturn",
)
def decide_item(
    item_id: str, body: DecisionIn, who: Moderator, session: SessionDep, state: StateDep
) -> DecisionOut:
    try:
        action = decide(
            session, item_id, who, ActionInput(body.action, body.audience, body.reasons, body.note)
        )
    except LeaseError as exc:
        session.rollback()
        raise lease_problem(exc) from exc
    except ActionError as exc:
        session.rollback()
        raise Problem(422, exc.code, str(exc)) from exc
    session.commit()
    state.kick_relay()
    queued = action.action in ("approve", "overturn")
    if queued:
        state.kick_publisher()
    return DecisionOut(
        id=action.id,
        item_id=action.item_id,
        video_id=action.video_id,
        action=action.action,
        audience=action.audience,
        reasons=list(action.reasons),
        asset_uri=action.asset_uri,
        publish_status="queued" if queued else None,
        created_at=action.created_at,
    )


@router.get(
    "/publish-jobs/{job_id}",
    response_model=PublishJobOut,
    summary="An approval's publish job (its id is the approval's id)",
)
def publish_job(job_id: str, _: Moderator, session: SessionDep) -> PublishJobOut:
    job = session.get(PublishJob, job_id)
    if job is None:
        raise Problem(404, "job-not-found", "No such publish job")
    return PublishJobOut(
        id=job.id,
        video_id=job.video_id,
        status=job.status,
        media_sha256=job.media_sha256,
        audience=job.audience,
        asset_uri=job.asset_uri,
        error=job.error,
        attempts=job.attempts,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )
