"""Health, readiness, metrics, limits, problem+json, and the audit log."""

from __future__ import annotations

from pathlib import Path

from fgapi import Api, api_settings, serve

from safety.store import Database


def test_health_ready_and_metrics(api_kafka: Api, videos: dict[str, Path]) -> None:
    c = api_kafka.client()
    assert c.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    api_kafka.held_video("m-held", videos["plain"].resolve().as_uri())
    text = c.get("/metrics").text
    assert 'feedguard_review_queue_depth{kind="hold",priority="urgent"} 1.0' in text
    assert 'feedguard_decisions{outcome="held"} 1.0' in text
    assert "feedguard_http_request_seconds_bucket" in text


def test_readyz_is_503_with_retry_after_when_the_broker_is_down(api: Api) -> None:
    r = api.client().get("/readyz")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["checks"]["broker"] == "unavailable" and r.json()["checks"]["database"] == "ok"


def test_validation_errors_are_problem_json(api: Api) -> None:
    mod = api.client(api.user("moderator"))
    r = mod.get("/v1/review/items", params={"limit": 0})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "https://feedguard.dev/problems/validation-error" and body["errors"]
    r = api.client(api.user("platform")).post(
        "/v1/reports", json={"video_id": "x", "reason": "spam", "extra": 1}
    )
    assert r.status_code == 422
    assert api.client().get("/v1/nope").json()["type"].endswith("/not-found")


def test_request_size_and_rate_limits(tmp_path: Path, pg_url: str, video_root: Path) -> None:
    settings = api_settings(
        tmp_path,
        pg_url,
        video_root,
        "127.0.0.1:1",
        api_relay_outbox=False,
        api_rate_per_minute=20,
        api_max_body_bytes=2048,
    )
    for url in serve(settings):
        from fgapi import Api as _Api

        db = Database(pg_url)
        api = _Api(url, settings, db)
        client = api.client(api.user("platform"))
        big = client.post(
            "/v1/reports", content=b"{" + b" " * 5000 + b"}", headers={"content-type": "application/json"}
        )
        assert big.status_code == 413 and big.json()["type"].endswith("/payload-too-large")
        codes = [client.get("/v1/me").status_code for _ in range(30)]
        assert codes.count(429) >= 5 and codes[0] == 200
        limited = client.get("/v1/me")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert api.client().get("/healthz").status_code == 200  # ops routes are never limited
        other = api.client(api.user("platform", "another"))
        assert other.get("/v1/me").status_code == 200  # limits are per key
        db.dispose()


def test_audit_records_decisions_and_logins_and_cannot_be_changed_over_http(
    api: Api, videos: dict[str, Path]
) -> None:
    item = api.held_video("au-vid", videos["plain"].resolve().as_uri())
    mod_key = api.user("moderator", "auditmod")
    mod = api.client(mod_key)
    mod.post(f"/v1/review/items/{item}/claim")
    mod.post(f"/v1/review/items/{item}/decision", json={"action": "reject", "reasons": ["policy.other"]})
    api.client().post("/v1/auth/token", data={"username": "auditmod", "password": "wrong"})
    admin = api.client(api.user("admin"))
    entries = admin.get("/v1/audit", params={"subject_id": "au-vid"}).json()["entries"]
    assert [e["action"] for e in entries] == ["review.reject", "decision.recorded"]
    logins = admin.get("/v1/audit", params={"action": "login.failure"}).json()["entries"]
    assert len(logins) == 1
    page = admin.get("/v1/audit", params={"limit": 2}).json()
    nxt = admin.get("/v1/audit", params={"limit": 2, "before_id": page["next_cursor"]}).json()
    assert {e["id"] for e in page["entries"]}.isdisjoint({e["id"] for e in nxt["entries"]})
    for method in ("PUT", "PATCH", "DELETE"):
        r = admin.request(method, "/v1/audit")
        assert r.status_code == 405
        r = admin.request(method, f"/v1/audit/{entries[0]['id']}")
        assert r.status_code in (404, 405)
    assert mod.get("/v1/audit").status_code == 403
