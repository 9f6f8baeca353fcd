"""Password logins: per-name lockout with exponential back-off, one cost for every user name,
and the server-side sessions a login opens (``api_keys`` rows of kind 'session').

A lockout is kept per *submitted* name, known or not, and every attempt that is not refused runs
scrypt (on a dummy hash when there is no usable account), so neither timing nor lockouts tell an
attacker which names exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from safety.accounts import issue_key
from safety.config import Settings
from safety.credentials import hash_password, verify_password
from safety.store import ApiKey, LoginThrottle, User
from safety.store.audit import audit
from safety.store.models import utcnow

# Same scrypt parameters as real hashes: a name without a usable password costs as much as one with.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(24))
_QUIET = timedelta(days=1)  # a name left alone this long starts over (throttle rows are pruned)


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5  # failures in a row before the first lockout
    base_s: int = 30  # first lockout; each further one doubles
    max_s: int = 3600

    @classmethod
    def from_settings(cls, s: Settings) -> LoginPolicy:
        return cls(s.login_max_failures, s.login_lockout_base_s, s.login_lockout_max_s)

    def lockout_s(self, lockouts: int) -> int:
        """Length of lock number ``lockouts`` (0-based): base, 2 x base, 4 x base, ... up to max."""
        return int(min(self.max_s, self.base_s * 2 ** min(lockouts, 32)))


@dataclass(frozen=True)
class LoginResult:
    token: str | None = None  # the new session token on success
    user: User | None = None
    retry_after_s: int | None = None  # set when the name is locked: the attempt was not checked


def _throttle(session: Session, name: str, now: datetime) -> LoginThrottle:
    """The name's row, locked for this transaction (concurrent attempts on one name queue here)."""
    row = session.get(LoginThrottle, name, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(LoginThrottle(name=name, failures=0, lockouts=0, updated_at=now))
        except IntegrityError:  # a concurrent first attempt on the same name created it
            pass
        row = session.get(LoginThrottle, name, with_for_update=True, populate_existing=True)
        assert row is not None
    if now - row.updated_at > _QUIET:
        row.failures, row.lockouts, row.locked_until = 0, 0, None
    return row


def attempt_login(
    session: Session,
    name: str,
    password: str,
    ttl: timedelta,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> LoginResult:
    """Check a password login; every outcome is audited. The caller commits."""
    now = now or utcnow()
    key = name[:128]
    row = _throttle(session, key, now)
    if row.locked_until is not None and row.locked_until > now:
        wait = max(1, int((row.locked_until - now).total_seconds() + 0.999))
        audit(session, "anonymous", "login.refused", "user", key, reason="locked", retry_after_s=wait)
        return LoginResult(retry_after_s=wait)
    user = session.scalar(select(User).where(User.name == name))
    usable = user is not None and user.password_hash is not None and not user.disabled
    stored = user.password_hash if usable and user is not None and user.password_hash else _DUMMY_HASH
    ok = verify_password(password, stored) and usable
    row.updated_at = now
    actor = f"user:{user.id}" if user else "anonymous"
    subject = user.id if user else key
    if ok and user is not None:
        row.failures, row.lockouts, row.locked_until = 0, 0, None
        audit(session, actor, "login.success", "user", subject)
        return LoginResult(issue_key(session, user, label="web login", expires_in=ttl, kind="session"), user)
    row.failures += 1
    audit(session, actor, "login.failure", "user", subject)
    if row.failures >= policy.max_failures or row.lockouts > 0:
        seconds = policy.lockout_s(row.lockouts)
        row.lockouts += 1
        row.failures = 0
        row.locked_until = now + timedelta(seconds=seconds)
        audit(session, actor, "login.locked", "user", subject, seconds=seconds, lockouts=row.lockouts)
    if row.lockouts == 0 and row.failures == 1:  # a new streak: drop long-quiet rows of other names
        stale = (
            select(LoginThrottle.name)
            .where(LoginThrottle.updated_at < now - _QUIET, LoginThrottle.name != key)
            .limit(1000)
            .with_for_update(skip_locked=True)  # rows other attempts hold are left for later
        )
        session.execute(delete(LoginThrottle).where(LoginThrottle.name.in_(stale.scalar_subquery())))
    return LoginResult()


def clear_lockout(session: Session, name: str) -> None:
    """An admin reset the account (e.g. a new password): its name is no longer locked."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.name == name[:128]))


def end_sessions(session: Session, user_id: str, actor: str, reason: str) -> int:
    """Revoke every live web session of a user (logout everywhere, password or role change)."""
    now = utcnow()
    ids = list(
        session.scalars(
            select(ApiKey.id).where(
                ApiKey.user_id == user_id, ApiKey.kind == "session", ApiKey.revoked_at.is_(None)
            )
        )
    )
    if ids:
        session.execute(update(ApiKey).where(ApiKey.id.in_(ids)).values(revoked_at=now))
        audit(session, actor, "sessions.ended", "user", user_id, count=len(ids), reason=reason, key_ids=ids)
    return len(ids)


def end_session(session: Session, key_id: str, actor: str) -> bool:
    """Logout: revoke one session (an API key is not a session: revoke those with DELETE /v1/keys)."""
    key = session.get(ApiKey, key_id)
    if key is None or key.kind != "session" or key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    audit(session, actor, "logout", "user", key.user_id, key_id=key_id)
    return True
