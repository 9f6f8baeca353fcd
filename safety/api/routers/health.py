"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import socket

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from safety.api.deps import StateDep
from safety.api.metrics import render
from safety.api.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz() -> Health:
    return Health(status="ok")


def _broker_reachable(bootstrap: str) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=1.0):
                return True
        except (OSError, ValueError):
            continue
    return False


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health}},
    summary="The database and the broker are reachable",
)
def readyz(state: StateDep) -> Response:
    checks: dict[str, str] = {}
    try:
        with state.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    checks["broker"] = "ok" if _broker_reachable(state.settings.kafka_bootstrap) else "unavailable"
    ok = all(v == "ok" for v in checks.values())
    body = Health(status="ok" if ok else "unavailable", checks=checks).model_dump()
    return JSONResponse(body, status_code=200 if ok else 503, headers=None if ok else {"Retry-After": "5"})


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
def metrics(state: StateDep) -> Response:
    body, content_type = render(state)
    return Response(body, media_type=content_type)
