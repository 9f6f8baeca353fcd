"""RFC 9457 problem details: every error is ``application/problem+json`` with a stable ``type``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://feedguard.dev/problems/"
MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 5  # what a client waiting out a database outage is told (as /readyz says)

_STATUS_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    503: "unavailable",
}


def database_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or dropped the connection: the request may be retried."""
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def unavailable_response(path: str) -> JSONResponse:
    return problem_response(
        503,
        "database-unavailable",
        "The database is unavailable",
        "Nothing was changed; retry after the time in Retry-After.",
        path,
        {"Retry-After": str(RETRY_AFTER_S)},
    )


class Problem(Exception):
    """Raise anywhere in a route: ``Problem(409, "lease-held", "Item is claimed by someone else")``."""

    def __init__(
        self,
        status: int,
        type_: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.type = type_
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body |= extra
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status, exc.type, exc.title, exc.detail, request.url.path, exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "validation-error",
            "The request is not valid",
            f"{len(errors)} problem(s) in the request",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = _STATUS_TYPES.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code,
            type_,
            detail or type_.replace("-", " "),
            None,
            request.url.path,
            dict(exc.headers or {}),
        )

    @app.exception_handler(DBAPIError)
    @app.exception_handler(DisconnectionError)
    @app.exception_handler(PoolTimeoutError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            import logging

            logging.getLogger("feedguard.api").warning(
                "database unavailable on %s: %s", request.url.path, type(exc).__name__
            )
            return unavailable_response(request.url.path)
        if isinstance(exc, DataError):
            # A value the database cannot represent (NUL in text, an integer beyond int64): the
            # request's fault, so a 422 rather than a 500.
            return problem_response(
                422, "unrepresentable-value", "A parameter holds a value that cannot be stored or compared",
                None, request.url.path,
            )  # fmt: skip
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging

        if database_unavailable(exc):  # raised outside the routes (middleware, lifespan)
            return unavailable_response(request.url.path)
        logging.getLogger("feedguard.api").exception("unhandled error on %s", request.url.path)
        return problem_response(500, "internal", "Internal error", None, request.url.path)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": _STATUS_TYPES.get(code, "error"), "content": {MEDIA_TYPE: {}}}
    for code in (401, 403, 404, 409, 422, 429)
}
