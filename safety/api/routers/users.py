"""Accounts and keys (admin), and revoking one's own key."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from sqlalchemy import select

from safety.accounts import AccountError, create_user, issue_key, revoke_key
from safety.api.deps import AdminUser, CurrentUser, SessionDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import KeyIn, KeyOut, UserCreatedOut, UserIn, UserOut
from safety.store import ApiKey, User

router = APIRouter(prefix="/v1", tags=["users"], responses=PROBLEM_RESPONSES)


def _out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        name=u.name,
        role=u.role,
        organisation_id=u.organisation_id,
        creator_id=u.creator_id,
        disabled=u.disabled,
        created_at=u.created_at,
    )


@router.post("/users", response_model=UserCreatedOut, status_code=201)
def create(body: UserIn, admin: AdminUser, session: SessionDep) -> UserCreatedOut:
    try:
        user = create_user(
            session,
            body.name,
            body.role,
            organisation_id=body.organisation_id,
            creator_id=body.creator_id,
            password=body.password,
            actor=f"user:{admin.user_id}",
        )
    except AccountError as exc:
        raise Problem(409 if "exists" in str(exc) else 422, "account-invalid", str(exc)) from exc
    expires = timedelta(days=body.key_expires_days) if body.key_expires_days else None
    key = issue_key(session, user, label="initial", expires_in=expires, actor=f"user:{admin.user_id}")
    session.commit()
    return UserCreatedOut(user=_out(user), api_key=key)


@router.get("/users", response_model=list[UserOut])
def list_users(_: AdminUser, session: SessionDep) -> list[UserOut]:
    return [_out(u) for u in session.scalars(select(User).order_by(User.created_at))]


@router.post("/users/{user_id}/keys", response_model=KeyOut, status_code=201)
def new_key(user_id: str, body: KeyIn, admin: AdminUser, session: SessionDep) -> KeyOut:
    user = session.get(User, user_id)
    if user is None:
        raise Problem(404, "user-not-found", f"no user {user_id!r}")
    expires = timedelta(days=body.expires_days) if body.expires_days else None
    token = issue_key(session, user, label=body.label, expires_in=expires, actor=f"user:{admin.user_id}")
    session.commit()
    return KeyOut(key_id=token.split("_")[1], api_key=token)


@router.delete("/keys/{key_id}", status_code=204)
def revoke(key_id: str, who: CurrentUser, session: SessionDep) -> Response:
    """Admins revoke any key; everyone else only their own."""
    key = session.get(ApiKey, key_id)
    if key is None or (who.role != "admin" and key.user_id != who.user_id):
        raise Problem(404, "key-not-found", f"no key {key_id!r}")
    revoke_key(session, key_id, actor=f"user:{who.user_id}")
    session.commit()
    return Response(status_code=204)
