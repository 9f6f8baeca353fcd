"""The FastAPI application: routers per resource, problem+json errors, limits, the web UI."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.exc import SQLAlchemyError

from safety.api import problems
from safety.api.headers import SecurityHeaders, install_docs
from safety.api.limits import BodySizeLimit, KeyVerifier, RateLimit, TokenBuckets
from safety.api.metrics import ApiMetrics
from safety.api.routers import (
    appeals,
    audit,
    auth,
    cameos,
    health,
    likeness_authority,
    organisations,
    provenance,
    reports,
    review,
    rights,
    users,
    videos,
)
from safety.api.state import AppState, Relay
from safety.api.uploads import UploadSlots
from safety.config import Settings
from safety.media.budget import DecodeBudget, ImageLimits
from safety.publishing import Publisher
from safety.store import Database

log = logging.getLogger("feedguard.api")
_UNLIMITED = ("/healthz", "/readyz", "/metrics")


def _proven_key(database: Database, token: str) -> str | None:
    """The key id ``token`` proves (rate-limit identity); nothing is written."""
    from safety.accounts import authenticate

    try:
        with database.sessions() as session:
            who = authenticate(session, token)
            session.rollback()
            return who.key_id if who else None
    except SQLAlchemyError:  # the route answers 503; meanwhile the address's budget applies
        return None


def create_app(
    settings: Settings,
    *,
    publisher: Publisher | None = None,
    db: Database | None = None,
    relay: Callable[[Database], Relay] | None = None,
) -> FastAPI:
    """Build the app. The database is migrated on start; the outbox relay (built by ``relay``,
    which ``safety.composition.create_api`` supplies) runs in the background."""
    if settings.api_relay_outbox and relay is None:
        raise ValueError("api_relay_outbox is on but no relay was given: build the app with "
                         "safety.composition.create_api")  # fmt: skip
    from safety.runtime import build_publisher, build_reconciler, publish_job_runner, snapshot_janitor

    database = db or Database(settings.resolved_database_url)
    state = AppState(
        settings=settings, db=database, publisher=publisher or build_publisher(settings, database)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database.upgrade()
        if relay is not None:
            state.relay = relay(database)
            state.relay.start()
        if settings.api_publish_jobs:
            state.jobs = publish_job_runner(settings, database, state.publisher, state.kick_relay).start()
        janitor = snapshot_janitor(settings, database).start()
        reconciler = None
        if settings.reconcile_interval_s > 0:  # its takedowns go out at once through this relay
            reconciler = build_reconciler(
                database, interval_s=settings.reconcile_interval_s, on_acted=lambda _: state.kick_relay()
            ).start()
        try:
            yield
        finally:
            if reconciler is not None:
                reconciler.close()
            janitor.stop()
            if state.jobs is not None:
                state.jobs.stop()
            if state.relay is not None:
                state.relay.stop()

    app = FastAPI(
        title="feedguard",
        version="0.1.0",
        summary="Moderation and provenance for feeds of AI-generated video",
        description="Review queue, reports, appeals, accounts and audit. Errors are RFC 9457 "
        "`application/problem+json`. Authenticate with `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from the installed package, not a CDN
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.fg = state
    state.extras["metrics"] = metrics = ApiMetrics(state)
    state.extras["image_limits"] = ImageLimits(
        max_pixels=int(settings.upload_max_megapixels * 1_000_000),
        budget=DecodeBudget(settings.upload_decode_budget_mb * 1024 * 1024),
        wait_s=settings.upload_decode_wait_s,
    )
    problems.install(app)
    for router in (
        health.router,
        auth.router,
        users.router,
        organisations.router,
        review.router,
        reports.router,
        appeals.router,
        videos.router,
        audit.router,
        likeness_authority.router,  # before cameos: /v1/cameos/pending is not an owner id
        cameos.router,
        rights.router,
        provenance.router,
    ):
        app.include_router(router)

    from safety.api.ui import install_ui

    install_ui(app)
    if settings.api_docs:
        install_docs(app)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.http.labels(route, str(response.status_code)).observe(time.perf_counter() - start)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    app.add_middleware(
        RateLimit,
        buckets=TokenBuckets(settings.api_rate_per_minute),
        exempt=lambda path: path.startswith(_UNLIMITED),
        verify=KeyVerifier(partial(_proven_key, database)),
    )
    app.add_middleware(UploadSlots, per_key=settings.api_uploads_per_key)  # issue 14: uploads in flight
    # Enrolment videos and rights references are uploads: their routes get a larger cap (and
    # validate the media themselves).
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.api_max_body_bytes,
        overrides={"/v1/cameos": settings.api_max_upload_bytes, "/v1/rights": settings.api_max_upload_bytes},
    )
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)  # outermost: 413/429 answers get the headers too
    return app
