"""The moderator web page (``/ui``): server-rendered HTML, a little vanilla JS, no CDN, no build step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from safety.accounts import Principal, authenticate
from safety.api.deps import SESSION_COOKIE, SessionDep, StateDep, check_same_origin
from safety.api.problems import Problem
from safety.api.sessions import password_login
from safety.credentials import parse_key_id
from safety.logins import end_session
from safety.review.evidence import build_evidence
from safety.review.learning import exposure, item_kinds, over_cap
from safety.review.queue import QueueFilter, counts, list_items, priority_level
from safety.store import Appeal, DecisionRow, ReviewItem

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(prefix="/ui", include_in_schema=False)

REJECT_CODES = [
    "policy.sexual_content",
    "policy.violence",
    "policy.self_harm",
    "policy.hate_harassment",
    "policy.dangerous_acts",
    "policy.minor_safety",
    "likeness.no_consent",
    "rights.not_licensed",
    "policy.other",
]
REMOVE_CODES = [
    "report.bullying_harassment",
    "report.minor_safety",
    "report.sexual_content",
    "report.impersonation",
    "report.copyright",
    "report.violence",
    "report.other",
]


class _Login(Exception):
    pass


def _principal(request: Request, session: SessionDep) -> Principal:
    token = request.cookies.get(SESSION_COOKIE)
    who = authenticate(session, token) if token else None
    if who is None or who.role not in ("moderator", "admin"):
        raise _Login
    session.commit()
    return who


def _wellness(session: SessionDep, state: StateDep, who: Principal) -> dict[str, Any]:
    """Today's graphic/sexual exposure of the signed-in moderator and the configured daily cap."""
    cap = state.settings.moderator_daily_exposure_cap
    return {"exposure": exposure(session, who.user_id), "exposure_cap": cap}


def _page(request: Request, name: str, who: Principal | None, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"who": who, **ctx})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, error: str | None = None) -> HTMLResponse:
    return _page(request, "login.html", None, error=error)


@router.post("/login")
def login_submit(
    request: Request,
    session: SessionDep,
    state: StateDep,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=256)],
) -> Response:
    check_same_origin(request)  # no login CSRF (being logged in to someone else's account)
    try:
        result = password_login(request, session, state, username, password)
    except Problem as exc:  # the page, with the status (401/429) so limits and clients see a failure
        error = "Wrong user name or password." if exc.status == 401 else "Too many failed logins: try later."
        page = _page(request, "login.html", None, error=error)
        page.status_code = exc.status
        page.headers.update(exc.headers or {})
        return page
    assert result.token is not None and result.user is not None
    if result.user.role not in ("moderator", "admin"):
        end_session(session, parse_key_id(result.token) or "", f"user:{result.user.id}")
        session.commit()
        page = _page(request, "login.html", None, error="This page is for moderators.")
        page.status_code = 403
        return page
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=state.settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """Ends the session server-side (the token stops working everywhere), not just the cookie."""
    check_same_origin(request)
    token = request.cookies.get(SESSION_COOKIE)
    who = authenticate(session, token) if token else None
    if who is not None:
        end_session(session, who.key_id, f"user:{who.user_id}")
        session.commit()
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/", response_class=HTMLResponse)
def queue(
    request: Request,
    session: SessionDep,
    state: StateDep,
    kind: str | None = None,
    priority: str | None = None,
    age_band: str | None = None,
    reason: str | None = None,
    status: str = "open",
    cursor: str | None = None,
) -> Response:
    try:
        who = _principal(request, session)
    except _Login:
        return RedirectResponse("/ui/login", status_code=303)
    f = QueueFilter(
        status=status if status in ("open", "escalated", "decided") else "open",
        kind=kind if kind in ("hold", "report", "appeal") else None,
        priority=priority if priority in ("low", "normal", "high", "urgent") else None,
        age_band=age_band if age_band in ("teen", "adult") else None,
        reason=reason or None,
    )
    try:
        items, nxt = list_items(session, f, cursor, 50)
    except ValueError:
        items, nxt = list_items(session, f, None, 50)
    return _page(
        request,
        "queue.html",
        who,
        items=items,
        next_cursor=nxt,
        counts=counts(session),
        f=f,
        level=priority_level,
        **_wellness(session, state, who),
    )


@router.get("/appeals", response_class=HTMLResponse)
def appeals(request: Request, session: SessionDep) -> Response:
    try:
        who = _principal(request, session)
    except _Login:
        return RedirectResponse("/ui/login", status_code=303)
    rows = list(session.scalars(select(Appeal).order_by(Appeal.created_at.desc()).limit(200)))
    return _page(request, "appeals.html", who, appeals=rows)


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(item_id: str, request: Request, session: SessionDep, state: StateDep) -> Response:
    try:
        who = _principal(request, session)
    except _Login:
        return RedirectResponse("/ui/login", status_code=303)
    item = session.get(ReviewItem, item_id)
    if item is None:
        return _page(request, "missing.html", who)
    evidence = build_evidence(
        session, state.settings, item, f"/v1/review/items/{item_id}/frames/{{index}}.jpg"
    )
    nxt = session.scalar(
        select(ReviewItem.id)
        .where(ReviewItem.status == "open", ReviewItem.id != item_id)
        .order_by(ReviewItem.priority.desc(), ReviewItem.created_at.asc())
        .limit(1)
    )
    return _page(
        request,
        "item.html",
        who,
        item=item,
        ev=evidence,
        level=priority_level,
        next_id=nxt,
        reject_codes=REJECT_CODES,
        remove_codes=REMOVE_CODES,
        blur=evidence["sensitive"] and who.blur_sensitive,
        capped=over_cap(
            session,
            who.user_id,
            item_kinds(item, session.get(DecisionRow, item.decision_id) if item.decision_id else None),
            state.settings.moderator_daily_exposure_cap,
        ),
        **_wellness(session, state, who),
    )


def install_ui(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=str(HERE / "static")), name="ui-static")

    @app.exception_handler(_Login)
    async def _to_login(request: Request, exc: _Login) -> Response:
        return RedirectResponse("/ui/login", status_code=303)
