"""Accounts, keys and sessions (admin), and revoking one's own key."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from safety.accounts import AccountError, create_user, issue_key, revoke_key
from safety.api.deps import AdminUser, CurrentUser, SessionDep
from safety.api.problems import PROBLEM_RESPONSES, Problem
from safety.api.schemas import (
    CredentialOut,
    KeyIn,
    KeyOut,
    SessionsEndedOut,
    UserCreatedOut,
    UserIn,
    UserOut,
    UserPatch,
)
from safety.credentials import hash_password
from safety.logins import clear_lockout, end_sessions
from safety.store import ApiKey, User
from safety.store.audit import audit

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


def _user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise Problem(404, "user-not-found", f"no user {user_id!r}")
    return user


@router.patch("/users/{user_id}", response_model=UserOut, summary="Change a role, password or disabled flag")
def change(user_id: str, body: UserPatch, admin: AdminUser, session: SessionDep) -> UserOut:
    """A new role or password, or disabling, ends the user's web sessions (API keys keep working
    with the new role unless revoked; a disabled user's keys stop working)."""
    user = _user(session, user_id)
    if body.role == "rights_holder" and not user.organisation_id:
        raise Problem(422, "account-invalid", "a rights_holder belongs to one organisation")
    if body.role == "creator" and not user.creator_id:
        raise Problem(422, "account-invalid", "a creator needs a creator_id")
    changed: dict[str, object] = {}
    if body.role is not None and body.role != user.role:
        changed["role"] = [user.role, body.role]
        user.role = body.role
    if body.password is not None:
        user.password_hash = hash_password(body.password)
        clear_lockout(session, user.name)
        changed["password"] = "changed"
    if body.disabled is not None and body.disabled != user.disabled:
        changed["disabled"] = body.disabled
        user.disabled = body.disabled
    if changed:
        actor = f"user:{admin.user_id}"
        audit(session, actor, "user.changed", "user", user.id, **changed)
        end_sessions(session, user.id, actor, reason=",".join(sorted(changed)))
    session.commit()
    return _out(user)


@router.get("/users/{user_id}/credentials", response_model=list[CredentialOut])
def credentials(user_id: str, _: AdminUser, session: SessionDep) -> list[CredentialOut]:
    """The user's API keys and web sessions, newest first (revoke one with DELETE /v1/keys/{key_id})."""
    _user(session, user_id)
    keys = session.scalars(
        select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc()).limit(500)
    )
    return [
        CredentialOut(
            key_id=k.id,
            kind="session" if k.kind == "session" else "api",
            label=k.label,
            created_at=k.created_at,
            expires_at=k.expires_at,
            revoked_at=k.revoked_at,
            last_used_at=k.last_used_at,
        )
        for k in keys
    ]


@router.delete("/users/{user_id}/sessions", response_model=SessionsEndedOut)
def end_all_sessions(user_id: str, admin: AdminUser, session: SessionDep) -> SessionsEndedOut:
    _user(session, user_id)
    ended = end_sessions(session, user_id, f"user:{admin.user_id}", reason="admin")
    session.commit()
    return SessionsEndedOut(ended=ended)


@router.post("/users/{user_id}/keys", response_model=KeyOut, status_code=201)
def new_key(user_id: str, body: KeyIn, admin: AdminUser, session: SessionDep) -> KeyOut:
    user = _user(session, user_id)
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
