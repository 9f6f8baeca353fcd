"""Dependencies every route uses: the database session, the caller, role checks.

Authorisation lives here and only here: a route declares the roles it admits with
``Depends(require(...))`` and scoping (own organisation, own videos) is checked with ``Principal``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer
from sqlalchemy.orm import Session

from safety.accounts import Principal, authenticate
from safety.api.problems import Problem
from safety.api.state import AppState

SESSION_COOKIE = "fg_session"

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer fgk_...`")
_oauth2 = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.fg
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session per request; routes commit explicitly so the commit happens before the response."""
    with state.db.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(
    request: Request,
    session: SessionDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _oauth: Annotated[str | None, Depends(_oauth2)],
) -> Principal:
    token = bearer.credentials if bearer else request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Problem(
            401,
            "unauthenticated",
            "Authentication required",
            "Send an API key as `Authorization: Bearer ...`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if bearer is None and request.method not in ("GET", "HEAD", "OPTIONS"):
        check_same_origin(request)
    principal = authenticate(session, token)
    if principal is None:
        raise Problem(
            401,
            "invalid-credentials",
            "Invalid, expired or revoked credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    session.commit()  # last_used_at
    request.state.principal = principal
    return principal


def check_same_origin(request: Request) -> None:
    """Cookie-authenticated writes must come from our own pages (the cookie is SameSite=Strict too)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host", "")
    if origin is None or origin.split("://", 1)[-1].split("/", 1)[0] != host:
        raise Problem(403, "cross-origin", "Cross-origin request refused")


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """Admit only ``roles`` (admins are admitted everywhere except where a route says otherwise)."""
    allowed = frozenset(roles) | {"admin"}

    def check(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise Problem(
                403,
                "forbidden",
                "Your role may not use this route",
                f"role {principal.role!r}; needs one of {sorted(allowed)}",
            )
        return principal

    return check


AdminUser = Annotated[Principal, Depends(require("admin"))]
Moderator = Annotated[Principal, Depends(require("moderator"))]
Platform = Annotated[Principal, Depends(require("platform"))]
Creator = Annotated[Principal, Depends(require("creator"))]
RightsHolder = Annotated[Principal, Depends(require("rights_holder"))]
