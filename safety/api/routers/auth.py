"""Login (OAuth2 password flow, for the web page) and the caller's own account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from safety.api.deps import CurrentUser, SessionDep, StateDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import MeOut, MeSettingsIn, TokenOut
from safety.api.sessions import logout, password_login
from safety.store import User
from safety.store.audit import audit

router = APIRouter(prefix="/v1", tags=["auth"], responses=PROBLEM_RESPONSES)


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a password for a session token")
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    state: StateDep,
) -> TokenOut:
    issued = password_login(request, session, state, form.username, form.password)
    assert issued.token is not None
    return TokenOut(access_token=issued.token, expires_in=state.settings.session_ttl_s)


@router.post(
    "/auth/logout",
    status_code=204,
    summary="End the session this request authenticated with (API keys: DELETE /v1/keys/{key_id})",
)
def end(who: CurrentUser, session: SessionDep) -> Response:
    if not logout(session, who):
        raise Problem(409, "not-a-session", "This credential is an API key, not a session")
    return Response(status_code=204)


@router.get("/me", response_model=MeOut)
def me(who: CurrentUser) -> MeOut:
    return MeOut(
        id=who.user_id,
        name=who.name,
        role=who.role,
        organisation_id=who.organisation_id,
        creator_id=who.creator_id,
        blur_sensitive=who.blur_sensitive,
    )


@router.patch("/me/settings", response_model=MeOut, summary="Per-user settings (e.g. blur sensitive frames)")
def settings(body: MeSettingsIn, who: CurrentUser, session: SessionDep) -> MeOut:
    user = session.get(User, who.user_id)
    assert user is not None
    user.blur_sensitive = body.blur_sensitive
    audit(
        session,
        f"user:{who.user_id}",
        "user.settings",
        "user",
        who.user_id,
        blur_sensitive=body.blur_sensitive,
    )
    session.commit()
    return MeOut(
        id=user.id,
        name=user.name,
        role=user.role,
        organisation_id=user.organisation_id,
        creator_id=user.creator_id,
        blur_sensitive=user.blur_sensitive,
    )
