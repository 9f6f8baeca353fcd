"""Cameos: enrol one's face from the platform's verification recording, decide who may use it,
revoke, delete (GDPR erasure); admins keep the list of protected public figures.

Creators act on their own cameo (``me``), the platform on anyone's (``{owner_id}``), admins on
protected likenesses. Every change commits together with its audit entry, the registry version
bump that workers poll, and any takedowns it causes (outbox).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from safety.accounts import Principal
from safety.api.deps import AdminUser, SessionDep, StateDep, require
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.state import AppState
from safety.likeness import authority, registry
from safety.likeness.consent import ConsentError, check_terms
from safety.likeness.enrol import Enrolment, EnrolmentError, enrol_from_video
from safety.likeness.models import Cameo, CameoEmbedding, ProtectedLikeness
from safety.likeness.reconcile import LikenessChecker
from safety.media import MediaRejected, MediaUnavailable, resolve_uri
from safety.registry.reconcile import sweep_own
from safety.store import User, Video

router = APIRouter(prefix="/v1/cameos", tags=["cameos"], responses=PROBLEM_RESPONSES)

Caller = Annotated[Principal, Depends(require("creator", "platform"))]
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "application/octet-stream"}
_MODELS_LOCK = threading.Lock()


class CameoOut(BaseModel):
    id: str
    owner_id: str
    age_band: str
    permission: str
    approved: list[str]
    limits: dict[str, bool]
    status: str
    embedding_model: str
    vectors: int
    created_at: datetime
    updated_at: datetime


class CameoChange(BaseModel):
    cameo: CameoOut
    takedowns: list[str] = Field(description="published videos taken down by this change")


class TermsIn(BaseModel):
    permission: Literal["only_me", "approved", "everyone"] | None = None
    approved: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=500)] | None
    ) = None
    limits: dict[Literal["no_sexual", "no_violent", "no_political"], bool] | None = None


class RevokeIn(BaseModel):
    creator_id: Annotated[str, Field(min_length=1, max_length=128)] | None = Field(
        None, description="withdraw this creator's grant; omit to withdraw everyone's (only you remain)"
    )


class ProtectedOut(BaseModel):
    id: str
    name: str
    status: str
    added_by: str
    linked: bool
    created_at: datetime


class ProtectedChange(BaseModel):
    protected: ProtectedOut
    takedowns: list[str]


def _out(session: SessionDep, c: Cameo) -> CameoOut:
    count = len(session.scalars(select(CameoEmbedding.id).where(CameoEmbedding.cameo_id == c.id)).all())
    return CameoOut(
        id=c.id,
        owner_id=c.owner_id,
        age_band=c.age_band,
        permission=c.permission,
        approved=list(c.approved),
        limits={k: bool(v) for k, v in c.limits.items()},
        status=c.status,
        embedding_model=c.embedding_model,
        vectors=count,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _protected_out(p: ProtectedLikeness) -> ProtectedOut:
    return ProtectedOut(
        id=p.id,
        name=p.name,
        status=p.status,
        added_by=p.added_by,
        linked=p.cameo_id is not None,
        created_at=p.created_at,
    )


def _owner(who: Principal, owner_id: str) -> str:
    """``me`` is the caller's own creator id; creators may act on no one else's cameo."""
    if who.role == "creator":
        if not who.creator_id:
            raise Problem(403, "no-creator-id", "This account has no creator id")
        if owner_id not in ("me", who.creator_id):
            raise Problem(404, "cameo-not-found", "No such cameo")
        return who.creator_id
    if owner_id == "me":
        raise Problem(400, "owner-required", "Name the owner: /v1/cameos/{owner_id}")
    return owner_id


def _cameo(session: SessionDep, owner_id: str) -> Cameo:
    cameo = registry.cameo_of(session, owner_id, lock=True)
    if cameo is None:
        raise Problem(404, "cameo-not-found", "No such cameo")
    return cameo


def _actor(who: Principal) -> str:
    return f"user:{who.user_id}"


def _consent_problem(exc: ConsentError) -> Problem:
    return Problem(422, exc.code, str(exc))


def _models(state: AppState) -> tuple[Any, Any]:
    """Face models load once per API process (~1 s), on the first enrolment."""
    with _MODELS_LOCK:
        models = state.extras.get("likeness.models")
        if models is None:
            from classifiers.face_identity import FaceEmbedder
            from classifiers.faces import FaceDetector

            models = state.extras["likeness.models"] = (FaceDetector(), FaceEmbedder(), threading.Lock())
    return models[0], models[1]


@contextmanager
def _media(state: AppState, upload: UploadFile | None, uri: str | None) -> Iterator[Path]:
    """The recording as a local file; whatever we wrote is deleted afterwards, frames never touch disk."""
    if (upload is None) == (uri is None):
        raise Problem(422, "media-required", "Send exactly one of `file` (multipart) or `uri`")
    workdir = state.workdir("enrol-")
    try:
        if upload is not None:
            kind = (upload.content_type or "").split(";")[0].strip().lower()
            if kind not in VIDEO_TYPES:
                raise Problem(415, "unsupported-media-type", f"{kind or 'no type'} is not a video type")
            path, size = workdir / "upload", 0
            with path.open("wb") as out:
                while chunk := upload.file.read(1 << 20):
                    size += len(chunk)
                    if size > state.settings.api_max_upload_bytes:
                        raise Problem(
                            413,
                            "payload-too-large",
                            f"Recording over {state.settings.api_max_upload_bytes} bytes",
                        )
                    out.write(chunk)
            if size == 0:
                raise Problem(422, "media.empty", "The recording is empty")
            yield path
        else:
            assert uri is not None
            s = state.settings
            try:
                path = resolve_uri(
                    uri,
                    media_roots=s.media_roots,
                    http_allow_hosts=s.http_allow_hosts,
                    limits=s.media_limits,
                    workdir=workdir,
                )
            except MediaRejected as exc:
                raise Problem(422, exc.code, exc.detail) from exc
            yield path
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _enrol(state: AppState, path: Path, *, liveness: bool) -> Enrolment:
    faces, embedder = _models(state)
    lock: threading.Lock = state.extras["likeness.models"][2]
    try:
        with lock:
            return enrol_from_video(path, faces=faces, embedder=embedder, require_liveness=liveness)
    except EnrolmentError as exc:
        raise Problem(422, f"enrol.{exc.code}", "The recording cannot be enrolled", str(exc)) from exc
    except MediaRejected as exc:
        raise Problem(422, exc.code, exc.detail) from exc
    except MediaUnavailable as exc:
        raise Problem(503, "media-unavailable", str(exc), headers={"Retry-After": "5"}) from exc


def _age_band(session: SessionDep, owner_id: str, declared: str | None, who: Principal) -> str:
    """The owner's age band is the platform's fact: the platform (or an admin) may state it when it
    enrols someone; a creator gets what the platform set on their account (unknown counts as
    teen) and may only ever narrow it, never claim to be an adult."""
    if who.role in ("platform", "admin"):
        if declared is not None:
            return declared
        known = session.scalar(select(User.age_band).where(User.creator_id == owner_id))
        seen = session.scalars(select(Video.creator_age_band).where(Video.creator_id == owner_id)).all()
        if known is None and not seen:
            raise Problem(422, "age-band-required", "Send the owner's age_band (teen or adult)")
        return str(known) if known else ("teen" if "teen" in seen else "adult")
    fact = session.scalar(select(User.age_band).where(User.id == who.user_id))
    band = str(fact) if fact in ("teen", "adult") else "teen"
    if declared == "adult" and band != "adult":
        raise Problem(
            403,
            "age-band-not-yours",
            "Your age band is set by the platform",
            "The platform has not confirmed that you are an adult; you cannot declare it yourself.",
        )
    return "teen" if declared == "teen" else band


@router.post("", response_model=CameoOut, status_code=201, summary="Enrol (or re-enrol) a cameo")
def enrol(
    who: Caller,
    session: SessionDep,
    state: StateDep,
    file: Annotated[UploadFile | None, File(description="the verification recording")] = None,
    uri: Annotated[str | None, Form(max_length=4096)] = None,
    owner_id: Annotated[str | None, Form(max_length=128)] = None,
    age_band: Annotated[Literal["teen", "adult"] | None, Form()] = None,
    permission: Annotated[Literal["only_me", "approved", "everyone"], Form()] = "only_me",
    approved: Annotated[str, Form(max_length=20_000, description="comma-separated creator ids")] = "",
    no_sexual: Annotated[bool, Form()] = False,
    no_violent: Annotated[bool, Form()] = False,
    no_political: Annotated[bool, Form()] = False,
) -> CameoOut:
    owner = _owner(who, "me") if who.role == "creator" else (owner_id or "")
    if not owner:
        raise Problem(422, "owner-required", "Send owner_id (the platform's creator id)")
    band = _age_band(session, owner, age_band, who)
    wanted = [a for a in approved.split(",") if a.strip()]
    try:
        wanted = check_terms(band, permission, wanted, owner)  # refuse before the expensive part
    except ConsentError as exc:
        raise _consent_problem(exc) from exc
    with _media(state, file, uri) as path:
        enrolment = _enrol(state, path, liveness=True)
    limits = {"no_sexual": no_sexual, "no_violent": no_violent, "no_political": no_political}
    owner_user = who.user_id if who.role == "creator" else None
    try:
        cameo = registry.enrol_cameo(
            session,
            owner_id=owner,
            owner_user_id=owner_user,
            age_band=band,
            enrolment=enrolment,
            actor=_actor(who),
            permission=permission,
            approved=wanted,
            limits=limits,
        )
    except ConsentError as exc:
        session.rollback()
        raise _consent_problem(exc) from exc
    except registry.ProtectedMatch as exc:
        session.rollback()
        terms = {"permission": permission, "approved": wanted, "limits": limits, "age_band": band}
        request = authority.queue_enrolment(
            session, owner_id=owner, owner_user_id=owner_user, enrolment=enrolment, terms=terms,
            matches=exc.matches, actor=_actor(who),
        )  # fmt: skip
        session.commit()
        raise Problem(
            409,
            "enrol.protected_match",
            "This face matches a protected public figure",
            "Nothing was enrolled. The request is queued for an administrator, who links it only "
            "after verifying your identity outside feedguard.",
            request_id=request.id,
        ) from exc
    out = _out(session, cameo)
    session.commit()
    return out


@router.get("/protected", response_model=list[ProtectedOut], summary="Protected likenesses (admin)")
def list_protected(_: AdminUser, session: SessionDep) -> list[ProtectedOut]:
    rows = session.scalars(select(ProtectedLikeness).order_by(ProtectedLikeness.created_at)).all()
    return [_protected_out(p) for p in rows]


@router.post("/protected", response_model=ProtectedChange, status_code=201, summary="Protect a public figure")
def add_protected(
    admin: AdminUser,
    session: SessionDep,
    state: StateDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    file: Annotated[UploadFile | None, File()] = None,
    uri: Annotated[str | None, Form(max_length=4096)] = None,
) -> ProtectedChange:
    with _media(state, file, uri) as path:
        enrolment = _enrol(state, path, liveness=False)  # public footage: no head-turn needed
    person = registry.add_protected(session, name=name, enrolment=enrolment, actor=_actor(admin))
    authority.queue_existing_cameos(session, person, actor=_actor(admin))  # never linked automatically
    taken = sweep_own(session, LikenessChecker(), _actor(admin))  # stored face tracks, no decoding
    out = ProtectedChange(protected=_protected_out(person), takedowns=taken)
    session.commit()
    state.kick_relay()
    return out


@router.delete("/protected/{protected_id}", response_model=ProtectedOut, summary="Stop protecting")
def remove_protected(protected_id: str, admin: AdminUser, session: SessionDep) -> ProtectedOut:
    person = session.get(ProtectedLikeness, protected_id, with_for_update=True)
    if person is None or person.status != "active":
        raise Problem(404, "protected-not-found", "No such protected likeness")
    registry.remove_protected(session, person, actor=_actor(admin))
    out = _protected_out(person)
    session.commit()
    return out


@router.get("/{owner_id}", response_model=CameoOut, summary="A cameo (creators: `me`)")
def get_cameo(owner_id: str, who: Caller, session: SessionDep) -> CameoOut:
    cameo = registry.cameo_of(session, _owner(who, owner_id))
    if cameo is None:
        raise Problem(404, "cameo-not-found", "No such cameo")
    return _out(session, cameo)


def _finish(session: SessionDep, state: StateDep, who: Principal, cameo: Cameo) -> CameoChange:
    """Take down what the change no longer covers (its reconciler sweep), then commit it all at once.
    Videos a worker decides on its not-yet-refreshed index are re-checked by the reconciler."""
    taken = sweep_own(session, LikenessChecker(), _actor(who))
    out = CameoChange(cameo=_out(session, cameo), takedowns=taken)
    session.commit()
    if taken:
        state.kick_relay()
    return out


@router.patch("/{owner_id}", response_model=CameoChange, summary="Change permission, approved list, limits")
def update_cameo(
    owner_id: str, body: TermsIn, who: Caller, session: SessionDep, state: StateDep
) -> CameoChange:
    cameo = _cameo(session, _owner(who, owner_id))
    try:
        registry.update_terms(
            session,
            cameo,
            actor=_actor(who),
            permission=body.permission,
            approved=body.approved,
            limits={str(k): v for k, v in body.limits.items()} if body.limits is not None else None,
        )
    except ConsentError as exc:
        session.rollback()
        raise _consent_problem(exc) from exc
    return _finish(session, state, who, cameo)


@router.post("/{owner_id}/revoke", response_model=CameoChange, summary="Withdraw one grant, or all")
def revoke_cameo(
    owner_id: str, body: RevokeIn, who: Caller, session: SessionDep, state: StateDep
) -> CameoChange:
    cameo = _cameo(session, _owner(who, owner_id))
    try:
        registry.revoke(session, cameo, actor=_actor(who), creator_id=body.creator_id)
    except ConsentError as exc:
        session.rollback()
        raise _consent_problem(exc) from exc
    return _finish(session, state, who, cameo)


@router.delete("/{owner_id}", response_model=CameoChange, summary="Delete: erase the face, keep the audit")
def delete_cameo(owner_id: str, who: Caller, session: SessionDep, state: StateDep) -> CameoChange:
    cameo = _cameo(session, _owner(who, owner_id))
    if cameo.status == "deleted":
        raise Problem(404, "cameo-not-found", "No such cameo")
    registry.delete_cameo(session, cameo, actor=_actor(who))
    return _finish(session, state, who, cameo)
