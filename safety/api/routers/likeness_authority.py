"""Likeness authority over HTTP: admins decide the queue of faces that match protected figures
(link only after an identity check outside feedguard, naming who verified it), undo old links;
the platform (or an admin) sets a creator's age band on their account.

Included before the cameos router: ``/v1/cameos/pending`` must not read as an owner id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from safety.accounts import Principal
from safety.api.deps import AdminUser, SessionDep, StateDep, require
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.likeness import authority
from safety.likeness.models import LinkRequest, ProtectedLikeness

router = APIRouter(tags=["cameos"], responses=PROBLEM_RESPONSES)
PlatformOrAdmin = Annotated[Principal, Depends(require("platform"))]
Text = Annotated[str, Field(min_length=1, max_length=1000)]


class MatchOut(BaseModel):
    protected_id: str
    name: str
    similarity: float


class LinkRequestOut(BaseModel):
    id: str
    kind: Literal["enrolment", "existing_cameo"]
    owner_id: str
    status: str
    matches: list[MatchOut]
    requested_by: str
    created_at: datetime
    cameo_id: str | None
    decided_by: str | None
    decided_at: datetime | None
    verified_by: str | None
    verification: str | None
    note: str | None


class LinkIn(BaseModel):
    verified_by: Annotated[str, Field(min_length=1, max_length=200, description="who checked the identity")]
    verification: Annotated[
        str, Field(min_length=1, max_length=1000, description="how (method and reference of the check)")
    ]


class ReasonIn(BaseModel):
    reason: Text


class UnlinkOut(BaseModel):
    protected_id: str
    takedowns: list[str]


class AgeBandIn(BaseModel):
    age_band: Literal["teen", "adult"]


class AgeBandOut(BaseModel):
    creator_id: str
    age_band: str
    age_band_set_by: str
    age_band_set_at: datetime
    takedowns: list[str] = Field(description="published videos taken down because the cameo narrowed")


def _actor(who: Principal) -> str:
    return f"user:{who.user_id}"


def _out(session: SessionDep, r: LinkRequest) -> LinkRequestOut:
    names = {pid: name for pid, name in session.execute(select(ProtectedLikeness.id, ProtectedLikeness.name))}
    matches = [
        MatchOut(protected_id=str(m["protected_id"]), name=names.get(str(m["protected_id"]), "?"),
                 similarity=float(m["similarity"]))
        for m in r.matches
    ]  # fmt: skip
    return LinkRequestOut(
        id=r.id, kind=r.kind, owner_id=r.owner_id, status=r.status, matches=matches,
        requested_by=r.requested_by, created_at=r.created_at, cameo_id=r.cameo_id, decided_by=r.decided_by,
        decided_at=r.decided_at, verified_by=r.verified_by, verification=r.verification, note=r.note,
    )  # fmt: skip


def _problem(exc: authority.AuthorityError) -> Problem:
    return Problem(exc.status, exc.code, str(exc))


@router.get(
    "/v1/cameos/pending", response_model=list[LinkRequestOut], summary="Faces matching protected figures"
)
def list_pending(
    _: AdminUser,
    session: SessionDep,
    status: Annotated[Literal["pending", "linked", "rejected", "superseded", "all"], Query()] = "pending",
) -> list[LinkRequestOut]:
    stmt = select(LinkRequest).order_by(LinkRequest.created_at)
    if status != "all":
        stmt = stmt.where(LinkRequest.status == status)
    return [_out(session, r) for r in session.scalars(stmt.limit(500))]


@router.post(
    "/v1/cameos/pending/{request_id}/link", response_model=LinkRequestOut, summary="Link after verification"
)
def link_request(request_id: str, body: LinkIn, admin: AdminUser, session: SessionDep) -> LinkRequestOut:
    """Only after the person's identity was checked outside feedguard: the audit names who and how."""
    try:
        request = authority.pending_request(session, request_id)
        authority.link(
            session,
            request,
            actor=_actor(admin),
            verified_by=body.verified_by,
            verification=body.verification,
        )
    except authority.AuthorityError as exc:
        session.rollback()
        raise _problem(exc) from exc
    out = _out(session, request)
    session.commit()
    return out


@router.post(
    "/v1/cameos/pending/{request_id}/reject", response_model=LinkRequestOut, summary="Refuse a request"
)
def reject_request(request_id: str, body: ReasonIn, admin: AdminUser, session: SessionDep) -> LinkRequestOut:
    try:
        request = authority.pending_request(session, request_id)
    except authority.AuthorityError as exc:
        raise _problem(exc) from exc
    authority.reject(session, request, actor=_actor(admin), reason=body.reason)
    out = _out(session, request)
    session.commit()
    return out


@router.post(
    "/v1/cameos/protected/{protected_id}/unlink", response_model=UnlinkOut, summary="Undo a figure's link"
)
def unlink(
    protected_id: str, body: ReasonIn, admin: AdminUser, session: SessionDep, state: StateDep
) -> UnlinkOut:
    person = session.get(ProtectedLikeness, protected_id, with_for_update=True)
    if person is None or person.status != "active" or person.cameo_id is None:
        raise Problem(404, "protected-link-not-found", "No linked protected likeness with that id")
    taken = authority.unlink(session, person, actor=_actor(admin), reason=body.reason)
    session.commit()
    if taken:
        state.kick_relay()
    return UnlinkOut(protected_id=protected_id, takedowns=taken)


@router.put(
    "/v1/creators/{creator_id}/age-band", response_model=AgeBandOut, summary="Set an account's age band"
)
def set_age_band(
    creator_id: str, body: AgeBandIn, who: PlatformOrAdmin, session: SessionDep, state: StateDep
) -> AgeBandOut:
    """The platform's fact about the person (platform role or admin); creators cannot set it."""
    try:
        user, taken = authority.set_age_band(session, creator_id, body.age_band, actor=_actor(who))
    except authority.AuthorityError as exc:
        raise _problem(exc) from exc
    fields: dict[str, Any] = {
        "creator_id": creator_id, "age_band": user.age_band, "age_band_set_by": user.age_band_set_by,
        "age_band_set_at": user.age_band_set_at, "takedowns": taken,
    }  # fmt: skip
    session.commit()
    if taken:
        state.kick_relay()
    return AgeBandOut(**fields)
