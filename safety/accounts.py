"""Accounts: create users and keys, authenticate bearer tokens. Used by the API and the CLI."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from safety.credentials import hash_password, hash_secret, new_key, parse_key_id
from safety.store import ApiKey, Organisation, User
from safety.store.accounts import ROLES
from safety.store.audit import audit
from safety.store.models import utcnow


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as every route sees it."""

    user_id: str
    name: str
    role: str
    organisation_id: str | None
    creator_id: str | None
    key_id: str
    blur_sensitive: bool


class AccountError(ValueError):
    pass


def create_user(
    session: Session,
    name: str,
    role: str,
    *,
    organisation_id: str | None = None,
    creator_id: str | None = None,
    password: str | None = None,
    actor: str = "system",
    age_band: str | None = None,
) -> User:
    """``age_band`` is the platform's fact about a creator (set by whoever creates the account)."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "rights_holder" and not organisation_id:
        raise AccountError("a rights_holder belongs to one organisation (organisation_id)")
    if age_band not in (None, "teen", "adult"):
        raise AccountError(f"unknown age band {age_band!r}; teen or adult")
    if organisation_id and session.get(Organisation, organisation_id) is None:
        raise AccountError(f"no organisation {organisation_id!r}")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise AccountError(f"user {name!r} exists")
    user = User(
        id=f"u_{secrets.token_hex(6)}",
        name=name,
        role=role,
        organisation_id=organisation_id,
        creator_id=creator_id if role == "creator" else None,
        password_hash=hash_password(password) if password else None,
        blur_sensitive=True,
        disabled=False,
        age_band=age_band if role == "creator" else None,
        age_band_set_by=actor if age_band and role == "creator" else None,
        age_band_set_at=utcnow() if age_band and role == "creator" else None,
    )
    session.add(user)
    audit(
        session, actor, "user.created", "user", user.id, name=name, role=role, organisation_id=organisation_id
    )
    session.flush()
    return user


def issue_key(
    session: Session,
    user: User,
    *,
    label: str = "",
    expires_in: timedelta | None = None,
    kind: str = "api",
    actor: str = "system",
) -> str:
    """Create a key and return its token: the only time the secret exists outside the caller."""
    key = new_key()
    session.add(
        ApiKey(
            id=key.key_id,
            user_id=user.id,
            kind=kind,
            secret_hash=key.secret_hash,
            label=label,
            expires_at=utcnow() + expires_in if expires_in else None,
        )
    )
    if kind == "api":
        audit(session, actor, "key.issued", "user", user.id, key_id=key.key_id, label=label)
    session.flush()
    return key.token


def revoke_key(session: Session, key_id: str, actor: str) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    audit(session, actor, "key.revoked", "user", key.user_id, key_id=key_id)
    return True


def authenticate(session: Session, token: str, now: datetime | None = None) -> Principal | None:
    """Resolve a bearer token; None for unknown, revoked, expired keys or disabled users."""
    key_id = parse_key_id(token)
    if key_id is None:
        return None
    key = session.get(ApiKey, key_id)
    now = now or utcnow()
    if (
        key is None
        or key.revoked_at is not None
        or not secrets.compare_digest(key.secret_hash, hash_secret(token))
    ):
        return None
    if key.expires_at is not None and key.expires_at <= now:
        return None
    user = session.get(User, key.user_id)
    if user is None or user.disabled:
        return None
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now  # coarse, so every request does not write
    return Principal(
        user.id, user.name, user.role, user.organisation_id, user.creator_id, key.id, user.blur_sensitive
    )
