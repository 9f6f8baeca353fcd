"""Password login and logout over HTTP, shared by ``/v1/auth/*`` and the web page.

A failed login spends the client address's failure budget (``login_failures_per_minute``) and the
user name's (the lockout in :mod:`safety.logins`); once either is spent, attempts get 429 without
the password being checked.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from sqlalchemy.orm import Session

from safety.accounts import Principal
from safety.api.limits import TokenBuckets
from safety.api.problems import Problem
from safety.api.state import AppState
from safety.logins import LoginPolicy, LoginResult, attempt_login, end_session


def _failures(state: AppState) -> TokenBuckets:
    buckets = state.extras.get("login_failures")
    if buckets is None:
        buckets = state.extras["login_failures"] = TokenBuckets(state.settings.login_failures_per_minute)
    assert isinstance(buckets, TokenBuckets)
    return buckets


def _too_many(wait: float, type_: str, title: str) -> Problem:
    return Problem(429, type_, title, headers={"Retry-After": str(max(1, int(wait + 0.999)))})


def password_login(
    request: Request, session: Session, state: AppState, username: str, password: str
) -> LoginResult:
    """A session for a right password; Problem 401 (wrong) or 429 (a budget is spent) otherwise."""
    address = f"addr:{request.client.host if request.client else '?'}"
    failures = _failures(state)
    wait = failures.wait(address)
    if wait > 0:
        raise _too_many(wait, "rate-limited", "Too many failed logins from this address")
    settings = state.settings
    result = attempt_login(
        session,
        username,
        password,
        timedelta(seconds=settings.session_ttl_s),
        LoginPolicy.from_settings(settings),
    )
    session.commit()  # the audit entries and the throttle are kept whatever the outcome
    if result.retry_after_s is not None:
        raise _too_many(result.retry_after_s, "login-locked", "Too many failed logins for this user name")
    if result.token is None:
        failures.take(address)
        raise Problem(401, "invalid-credentials", "Wrong user name or password")
    return result


def logout(session: Session, who: Principal) -> bool:
    """End the caller's own session (True), or nothing when it authenticated with an API key."""
    ended = end_session(session, who.key_id, f"user:{who.user_id}")
    session.commit()
    return ended
