"""The live API (uvicorn in a thread, PostgreSQL) against hostile requests: injection strings in
every filter and path parameter, bodies over the size limits, floods over the rate limits, and
API keys that must never reach a log line.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn
from fgapi import Api, api_settings
from sqlalchemy import func, select

from safety.api.app import create_app
from safety.store import ApiKey, Database, Video
from streams import free_port

LiveApi = Callable[..., Api]  # the live_api fixture (conftest)
Seed = Callable[[Api], dict[str, str]]  # the seed fixture (conftest)
PROBLEM = "application/problem+json"
EXCLUDED = ("/healthz", "/readyz", "/metrics")  # ops: no input


# (path prefix, role whose view is scoped there, strings that must never appear for that role)
SCOPES = [
    ("/v1/videos", "creator", ["v-c2", "creator-2", "creator 2"]),
    ("/v1/appeals", "creator", ["v-c2", "creator-2"]),
    ("/v1/cameos", "creator", ["creator-2"]),
    ("/v1/organisations", "rights_holder", ["org-b", "Org B"]),
    ("/v1/rights", "rights_holder", ["org-b", "Org-B", "org-b rule"]),
    ("/v1/review", "moderator", []),
    ("/v1/me", "creator", ["creator-2"]),
]
INJECTIONS = [
    "' OR 1=1 --",
    "' OR '1'='1' --",
    '" OR ""="',
    "') OR ('a'='a",
    "1; DROP TABLE videos; --",
    "' UNION SELECT secret_hash, NULL FROM api_keys --",
    "'; SELECT pg_sleep(10); --",
    "%",
    "_",
    "%%",
    "\\",
    "\\%",
    "*",
    "ü",
    "\U0001d518\U0001d52b\U0001d526",  # Fraktur letters
    "\u202egnp.exe",
    "org-a' OR id='org-b",
    "creator-1' OR creator_id<>'",
    "x" * 600,
]


def _get_routes(api: Api) -> list[tuple[str, list[str], list[str]]]:
    """(path template, query parameter names, path parameter names) of every GET route."""
    spec = api.client().get("/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        if "get" not in ops or path.startswith(EXCLUDED):
            continue
        params = ops["get"].get("parameters", [])
        out.append(
            (
                path,
                [p["name"] for p in params if p["in"] == "query"],
                [p["name"] for p in params if p["in"] == "path"],
            )
        )
    return out


def _scope(path: str) -> tuple[str, list[str]]:
    for prefix, role, forbidden in SCOPES:
        if path.startswith(prefix):
            return role, forbidden
    return "admin", []


def test_injection_strings_in_every_get_parameter(api: Api, seed: Seed) -> None:
    keys = seed(api)
    routes = _get_routes(api)
    assert len(routes) >= 12, routes  # the spec really was read
    with api.db.session() as s:
        keys_before = s.scalar(select(func.count()).select_from(ApiKey))
    clients = {role: api.client(key) for role, key in keys.items()}
    problems: list[str] = []
    tried = 0
    for path, query, path_params in routes:
        role, forbidden = _scope(path)
        for payload in INJECTIONS:
            url = path
            for name in path_params:
                url = url.replace("{" + name + "}", quote(payload, safe=""))
            variants = [(url, {name: payload}) for name in query]
            if path_params:
                variants.append((url, {}))
            for target, params in variants:
                for who in {role, "admin"}:
                    tried += 1
                    r = clients[who].get(target, params=params)
                    if r.status_code >= 500:
                        problems.append(f"{who} GET {target} {params} -> {r.status_code}")
                    elif r.status_code >= 400 and r.headers["content-type"] != PROBLEM:
                        problems.append(f"{who} GET {target} {params} -> {r.status_code} not problem+json")
                    leaked = [m for m in forbidden if who == role and m in r.text]
                    if r.status_code == 200 and leaked:
                        problems.append(f"{who} GET {target} {params} leaked {leaked}")
    assert tried > 300
    assert not problems, "\n".join(problems[:40])
    with api.db.session() as s:  # nothing was dropped, nothing was created
        assert s.scalar(select(func.count()).select_from(Video)) == 2
        assert s.scalar(select(func.count()).select_from(ApiKey)) == keys_before


def test_like_wildcards_in_the_reason_filter_match_literally(api: Api, seed: Seed) -> None:
    keys = seed(api)
    mod = api.client(keys["moderator"])

    def ids(reason: str) -> list[str]:
        r = mod.get("/v1/review/items", params={"reason": reason})
        assert r.status_code == 200, r.text
        return sorted(i["video_id"] for i in r.json()["items"])

    assert ids("self_harm.review") == ["v-c1", "v-c2"]
    for pattern in ["self_harm_review", "self_harm%", "%", "_", "%review", "self\\_harm.review", '"', '%"%']:
        assert ids(pattern) == [], pattern


def test_scoped_roles_see_only_their_own_under_injection(api: Api, seed: Seed) -> None:
    keys = seed(api)
    creator, holder = api.client(keys["creator"]), api.client(keys["rights_holder"])
    for state in ["held", "' OR 1=1 --", "held' OR '1'='1", "%"]:
        r = creator.get("/v1/videos", params={"state": state})
        assert r.status_code == 200 and all(v["video_id"] == "v-c1" for v in r.json()), r.text
    assert [v["video_id"] for v in creator.get("/v1/videos").json()] == ["v-c1"]
    assert creator.get("/v1/videos/" + quote("v-c2' OR '1'='1", safe="")).status_code == 404
    assert creator.get("/v1/videos/v-c2").status_code == 404
    assert [o["id"] for o in holder.get("/v1/organisations").json()] == ["org-a"]
    for org in ["org-b", "org-a' OR '1'='1", "org-b'--", "%"]:
        assert holder.get("/v1/organisations/" + quote(org, safe="")).status_code == 404, org


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode()


def test_values_postgresql_cannot_represent_are_4xx_not_500(api: Api, seed: Seed) -> None:
    keys = seed(api)
    admin = api.client(keys["admin"])
    creator = api.client(keys["creator"])
    cases = [
        (admin, "/v1/videos", {"state": "\x00"}),
        (admin, "/v1/audit", {"actor": "\x00"}),
        (admin, "/v1/audit", {"subject_id": "a\x00b"}),
        (admin, "/v1/audit", {"before_id": str(2**63)}),
        (admin, "/v1/review/items", {"reason": "\x00"}),
        (admin, "/v1/review/items", {"cursor": _cursor(1, "2024-01-01T00:00:00", "\x00")}),
        (admin, "/v1/review/items", {"cursor": _cursor(10**30, "2024-01-01T00:00:00", "x")}),
        (admin, "/v1/videos/%00", {}),
        (admin, "/v1/organisations/%00", {}),
        (admin, "/v1/review/items/%00", {}),
        (creator, "/v1/cameos/%00", {}),
    ]
    statuses = {f"{path} {params}": c.get(path, params=params).status_code for c, path, params in cases}
    assert all(400 <= s < 500 for s in statuses.values()), statuses


def test_an_empty_organisation_id_is_refused_not_500(api: Api) -> None:
    """Found by the schemathesis run (test_api_fuzz.py)."""
    admin = api.client(api.user("admin"))
    r = admin.post("/v1/users", json={"name": "empty-org", "role": "admin", "organisation_id": ""})
    assert r.status_code == 422, r.text


# --------------------------------------------------------------------------- size limits


@pytest.fixture
def small_api(live_api: LiveApi) -> Api:
    return live_api(api_max_body_bytes=4096, api_max_upload_bytes=65536)


def _chunks(total: int, size: int = 1024) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length): only counting what arrives can stop it."""
    for _ in range(total // size):
        yield b"x" * size


def _multipart_chunks(file_bytes: int) -> Iterator[bytes]:
    yield b'--xyz\r\nContent-Disposition: form-data; name="age_band"\r\n\r\nadult\r\n'
    yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n'
    yield b"Content-Type: video/mp4\r\n\r\n"
    yield from _chunks(file_bytes)
    yield b"\r\n--xyz--\r\n"


def test_request_bodies_over_the_limit_get_413(small_api: Api) -> None:
    platform = small_api.client(small_api.user("platform"))
    creator = small_api.client(small_api.user("creator", creator_id="c-1", age_band="adult"))
    big = {"video_id": "v", "reporter_id": "r", "reason": "spam", "note": "x" * 5000}
    responses = {
        "declared json": platform.post("/v1/reports", json=big),
        "chunked json": platform.post(
            "/v1/reports", content=_chunks(8192), headers={"Content-Type": "application/json"}
        ),
        "declared upload": creator.post(
            "/v1/cameos", files={"file": ("v.mp4", b"\x00" * 70_000, "video/mp4")}, data={"age_band": "adult"}
        ),
        "chunked upload": creator.post(
            "/v1/cameos",
            content=_multipart_chunks(70_000),
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        ),
    }
    for name, r in responses.items():
        assert r.status_code == 413, (name, r.status_code, r.text[:200])
        assert r.headers["content-type"] == PROBLEM and r.json()["type"].endswith("/payload-too-large"), name
    # Under the limits the same routes answer normally (no video: 404; not a video: 422).
    small = platform.post("/v1/reports", json={"video_id": "v", "reporter_id": "r", "reason": "spam"})
    assert small.status_code == 404, small.text
    upload = creator.post(
        "/v1/cameos", files={"file": ("v.mp4", b"\x00" * 5000, "video/mp4")}, data={"age_band": "adult"}
    )
    assert upload.status_code == 422, upload.text
    assert not any((small_api.settings.data_dir / "tmp").glob("*/*")), "an upload was left on disk"


# --------------------------------------------------------------------------- rate limits


@pytest.fixture
def slow_api(live_api: LiveApi) -> Api:
    return live_api(api_rate_per_minute=5)


def test_rate_limits_per_key_per_address_and_against_forged_key_ids(slow_api: Api) -> None:
    one, other = slow_api.client(slow_api.user("moderator")), slow_api.client(slow_api.user("moderator"))
    statuses = [one.get("/v1/me").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429], statuses
    limited = one.get("/v1/me")
    assert limited.status_code == 429 and limited.headers["content-type"] == PROBLEM
    assert limited.json()["type"].endswith("/rate-limited")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert other.get("/v1/me").status_code == 200  # another key has its own budget
    assert one.get("/healthz").status_code == 200  # ops routes are never limited

    # Each forged key id used to get a bucket of its own, so an unauthenticated flood (a database
    # lookup each) was never limited. Failed authentications now spend the address's budget.
    forged = [
        slow_api.client(f"fgk_{secrets.token_hex(8)}_{secrets.token_urlsafe(8)}").get("/v1/me").status_code
        for _ in range(12)
    ]
    assert forged == [401] * 5 + [429] * 7, forged

    # Without a key, the client's address is the identity: the same budget the forged ids spent.
    anonymous = [slow_api.client().get("/v1/me").status_code for _ in range(3)]
    assert anonymous == [429] * 3, anonymous


# --------------------------------------------------------------------------- secrets in logs


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def chatty_api(tmp_path: Path, pg_url: str) -> Iterator[tuple[Api, _Capture]]:
    """The app under uvicorn with access logs, everything at DEBUG (SQL statements included)."""
    capture = _Capture()
    root = logging.getLogger()
    touched = ["", "uvicorn", "uvicorn.access", "uvicorn.error", "sqlalchemy.engine", "feedguard", "safety"]
    before = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in touched}
    root.addHandler(capture)
    for name in touched:  # (an earlier uvicorn in this process may have stopped propagation)
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).propagate = True
    settings = api_settings(tmp_path, pg_url, tmp_path, "127.0.0.1:1", api_relay_outbox=False)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="debug", access_log=True, log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "API did not start"
        time.sleep(0.05)
    db = Database(pg_url)
    try:
        yield Api(f"http://127.0.0.1:{port}", settings, db), capture
    finally:
        server.should_exit = True
        thread.join(15)
        db.dispose()
        root.removeHandler(capture)
        for name, (level, propagate) in before.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).propagate = propagate


def test_api_keys_and_passwords_never_reach_the_logs(chatty_api: tuple[Api, _Capture]) -> None:
    api, capture = chatty_api
    admin_key = api.user("admin", "log-admin")
    admin = api.client(admin_key)
    password = "correct horse battery staple " + secrets.token_hex(4)
    created = admin.post("/v1/users", json={"name": "log-mod", "role": "moderator", "password": password})
    assert created.status_code == 201, created.text
    mod_key = created.json()["api_key"]
    user_id = created.json()["user"]["id"]
    second = admin.post(f"/v1/users/{user_id}/keys", json={"label": "second"})
    assert second.status_code == 201
    second_key = second.json()["api_key"]
    for key in (admin_key, mod_key, second_key):
        assert api.client(key).get("/v1/me").status_code == 200
        key_id = key.split("_")[1]
        assert api.client(f"fgk_{key_id}_wrong-secret").get("/v1/me").status_code == 401
        assert api.client(key + "x").get("/v1/me").status_code == 401  # a near miss
    token = api.client().post("/v1/auth/token", data={"username": "log-mod", "password": password})
    assert token.status_code == 200
    session_token = token.json()["access_token"]
    assert api.client(session_token).get("/v1/me").status_code == 200
    wrong = api.client().post("/v1/auth/token", data={"username": "log-mod", "password": password + "!"})
    assert wrong.status_code == 401
    audit = admin.get("/v1/audit").text

    logs = "\n".join(capture.lines)
    assert "GET /v1/me" in logs and "SELECT" in logs, "the capture saw no access or SQL logs"
    for secret in (admin_key, mod_key, second_key, session_token, password):
        # The whole token, and a key's secret part alone (``fgk_<id>_<secret>``; it may hold "_").
        for fragment in {secret, secret.split("_", 2)[-1]}:
            assert len(fragment) >= 16
            assert fragment not in logs, f"a secret reached the logs: {fragment[:12]}..."
            assert fragment not in audit, f"a secret reached the audit log: {fragment[:12]}..."
