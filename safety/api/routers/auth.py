"""Login (OAuth2 password flow, for the web page) and the caller's own account."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from safety.accounts import login
from safety.api.deps import CurrentUser, SessionDep, StateDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import MeOut, MeSettingsIn, TokenOut
from safety.store import User
from safety.store.audit import audit

router = APIRouter(prefix="/v1", tags=["auth"], responses=PROBLEM_RESPONSES)


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a password for a session token")
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, state: StateDep
) -> TokenOut:
    ttl = state.settings.session_ttl_s
    issued = login(session, form.username, form.password, timedelta(seconds=ttl))
    session.commit()  # the audit entry is kept whether or not the login succeeded
    if issued is None:
        raise Problem(401, "invalid-credentials", "Wrong user name or password")
    return TokenOut(access_token=issued, expires_in=ttl)


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
