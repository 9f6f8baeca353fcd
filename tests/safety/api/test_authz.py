"""Authentication, and the authorisation matrix: every route x every role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fgapi import Api

from safety.accounts import create_user, issue_key
from safety.store import ApiKey

ROLES = ["admin", "moderator", "rights_holder", "creator", "platform"]

# (method, path, body, roles that get past authorisation). Statuses past authz vary (404/409/422);
# what matters is 401/403 for everyone else.
MATRIX = [
    ("GET", "/v1/me", None, ROLES),
    ("GET", "/v1/users", None, ["admin"]),
    ("POST", "/v1/users", {"name": "zz", "role": "creator"}, ["admin"]),
    ("POST", "/v1/users/u_nope/keys", {}, ["admin"]),
    ("PATCH", "/v1/users/u_nope", {}, ["admin"]),
    ("GET", "/v1/users/u_nope/credentials", None, ["admin"]),
    ("DELETE", "/v1/users/u_nope/sessions", None, ["admin"]),
    ("POST", "/v1/auth/logout", None, ROLES),  # API keys are not sessions: 409 past authorisation
    ("GET", "/v1/audit", None, ["admin"]),
    ("POST", "/v1/organisations", {"id": "zz-org", "name": "ZZ"}, ["admin"]),
    ("POST", "/v1/organisations/acme/verify", None, ["admin"]),
    ("GET", "/v1/organisations", None, ["admin", "rights_holder"]),
    ("GET", "/v1/organisations/acme", None, ["admin", "rights_holder"]),
    ("GET", "/v1/review/items", None, ["admin", "moderator"]),
    ("GET", "/v1/review/counts", None, ["admin", "moderator"]),
    ("POST", "/v1/review/items/nope/claim", None, ["admin", "moderator"]),
    ("GET", "/v1/review/items/nope", None, ["admin", "moderator"]),
    ("GET", "/v1/review/items/nope/frames/0.jpg", None, ["admin", "moderator"]),
    ("POST", "/v1/review/items/nope/decision", {"action": "escalate"}, ["admin", "moderator"]),
    ("GET", "/v1/review/publish-jobs/nope", None, ["admin", "moderator"]),
    (
        "POST",
        "/v1/reports",
        {"video_id": "nope", "reporter_id": "r", "reason": "spam"},
        ["admin", "platform"],
    ),
    ("POST", "/v1/appeals", {"video_id": "nope", "statement": "s"}, ["creator"]),
    ("GET", "/v1/appeals", None, ["admin", "moderator", "creator"]),
    ("GET", "/v1/videos", None, ["admin", "moderator", "creator"]),
    ("GET", "/v1/videos/nope", None, ["admin", "moderator", "creator", "platform"]),
    ("PATCH", "/v1/me/settings", {}, ROLES),
    ("DELETE", "/v1/keys/k_nope", None, ROLES),
    ("POST", "/v1/cameos", {}, ["admin", "creator", "platform"]),
    ("GET", "/v1/cameos/protected", None, ["admin"]),
    ("POST", "/v1/cameos/protected", {}, ["admin"]),
    ("DELETE", "/v1/cameos/protected/nope", None, ["admin"]),
    ("GET", "/v1/cameos/pending", None, ["admin"]),
    ("POST", "/v1/cameos/pending/nope/link", {"verified_by": "x", "verification": "y"}, ["admin"]),
    ("POST", "/v1/cameos/pending/nope/reject", {"reason": "x"}, ["admin"]),
    ("POST", "/v1/cameos/protected/nope/unlink", {"reason": "x"}, ["admin"]),
    ("PUT", "/v1/creators/nope/age-band", {"age_band": "teen"}, ["admin", "platform"]),
    ("GET", "/v1/cameos/me", None, ["admin", "creator", "platform"]),
    ("PATCH", "/v1/cameos/me", {}, ["admin", "creator", "platform"]),
    ("DELETE", "/v1/cameos/nope", None, ["admin", "creator", "platform"]),
    ("POST", "/v1/cameos/nope/revoke", {}, ["admin", "creator", "platform"]),
    ("POST", "/v1/rights/characters", {"slug": "mx", "name": "MX"}, ["admin", "rights_holder"]),
    ("GET", "/v1/rights/characters", None, ["admin", "rights_holder"]),
    ("GET", "/v1/rights/characters/nope", None, ["admin", "rights_holder"]),
    ("PATCH", "/v1/rights/characters/nope", {}, ["admin", "rights_holder"]),
    ("DELETE", "/v1/rights/characters/nope", None, ["admin", "rights_holder"]),
    ("POST", "/v1/rights/characters/nope/references", None, ["admin", "rights_holder"]),
    ("GET", "/v1/rights/characters/nope/references", None, ["admin", "rights_holder"]),
    ("DELETE", "/v1/rights/characters/nope/references/nope", None, ["admin", "rights_holder"]),
    ("POST", "/v1/rights/characters/nope/rules", {"effect": "allow"}, ["admin", "rights_holder"]),
    ("GET", "/v1/rights/characters/nope/rules", None, ["admin", "rights_holder"]),
    ("POST", "/v1/rights/characters/nope/rules/1/activate", None, ["admin", "rights_holder"]),
    ("POST", "/v1/rights/characters/nope/rules/withdraw", None, ["admin", "rights_holder"]),
    ("GET", "/v1/rights/characters/nope/rules/1/shadow", None, ["admin", "rights_holder"]),
    ("GET", "/v1/rights/characters/nope/rules/1/hits", None, ["admin", "rights_holder"]),
    ("GET", "/v1/rights/characters/nope/matches", None, ["admin", "rights_holder"]),
]
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/auth/token"),
    ("GET", "/v1/provenance/watermarks/{watermark_id}"),
}


@pytest.fixture
def keys(api: Api) -> dict[str, str]:
    out = {}
    for role in ROLES:
        kw = {"organisation_id": "acme"} if role == "rights_holder" else {}
        if role == "creator":
            kw = {"creator_id": "c-1"}
        out[role] = api.user(role, f"matrix-{role}", **kw)
    return out


def test_every_route_against_every_role(api: Api, keys: dict[str, str]) -> None:
    failures = []
    for method, path, body, allowed in MATRIX:
        anon = api.client().request(method, path, json=body)
        if anon.status_code != 401 or anon.headers["content-type"] != "application/problem+json":
            failures.append(f"anonymous {method} {path} -> {anon.status_code}")
        for role in ROLES:
            r = api.client(keys[role]).request(method, path, json=body)
            denied = r.status_code in (401, 403)
            if (role in allowed) == denied:
                failures.append(f"{role} {method} {path} -> {r.status_code} {r.text[:120]}")
            if denied:
                assert r.json()["type"].startswith("https://feedguard.dev/problems/")
    assert not failures, "\n".join(failures)


def test_the_matrix_covers_every_route_of_the_app(api: Api) -> None:
    """A new route without an authorisation row fails here, so the matrix stays 'every route'."""
    spec = api.client().get("/openapi.json").json()
    missing = [
        (method.upper(), template)
        for template, ops in spec["paths"].items()
        for method in ops
        if (method.upper(), template) not in PUBLIC
        and not any(m == method.upper() and _matches(template, path) for m, path, _, _ in MATRIX)
    ]
    assert not missing, missing


def test_openapi_covers_every_matrix_route(api: Api) -> None:
    spec = api.client().get("/openapi.json").json()
    templated = {p for p in spec["paths"]}
    for _, path, _, _ in MATRIX:
        assert any(_matches(t, path) for t in templated), path
    assert "/docs" in api.client().get("/docs").text or api.client().get("/docs").status_code == 200


def _matches(template: str, path: str) -> bool:
    t, p = template.split("/"), path.split("/")
    return len(t) == len(p) and all(
        a == b or a.startswith("{") or ("{" in a and b.endswith(".jpg")) for a, b in zip(t, p, strict=True)
    )


def test_rights_holder_sees_only_its_own_organisation(api: Api) -> None:
    mine = api.client(api.user("rights_holder", organisation_id="studio-a"))
    api.user("rights_holder", organisation_id="studio-b")
    assert [o["id"] for o in mine.get("/v1/organisations").json()] == ["studio-a"]
    assert mine.get("/v1/organisations/studio-a").status_code == 200
    other = mine.get("/v1/organisations/studio-b")
    assert other.status_code == 404  # not even its existence is disclosed


def test_creator_sees_only_its_own_videos(api: Api, videos) -> None:  # type: ignore[no-untyped-def]
    uri = videos["plain"].resolve().as_uri()
    api.decided_video("c1-video", uri, "a cat", creator="creator-1")
    api.decided_video("c2-video", uri, "a dog", creator="creator-2")
    c1 = api.client(api.user("creator", creator_id="creator-1"))
    assert [v["video_id"] for v in c1.get("/v1/videos").json()] == ["c1-video"]
    assert c1.get("/v1/videos/c2-video").status_code == 404


def test_keys_expire_and_revoke(api: Api) -> None:
    with api.db.session() as s:
        u = create_user(s, "expiring", "moderator")
        expired = issue_key(s, u, expires_in=timedelta(seconds=-1))
        live = issue_key(s, u)
    r = api.client(expired).get("/v1/me")
    assert r.status_code == 401 and r.json()["type"].endswith("/invalid-credentials")
    client = api.client(live)
    assert client.get("/v1/me").json()["name"] == "expiring"
    key_id = live.split("_")[1]
    assert client.delete(f"/v1/keys/{key_id}").status_code == 204
    assert client.get("/v1/me").status_code == 401
    with api.db.session() as s:
        stored = s.get(ApiKey, key_id)
        assert stored is not None and live not in stored.secret_hash  # only a hash is stored
    garbage = api.client("fgk_0123456789abcdef_forged").get("/v1/me")
    assert garbage.status_code == 401


def test_admin_creates_users_and_the_key_is_shown_once(api: Api) -> None:
    admin = api.client(api.user("admin"))
    r = admin.post(
        "/v1/users", json={"name": "newmod", "role": "moderator", "password": "correct horse battery"}
    )
    assert r.status_code == 201
    key = r.json()["api_key"]
    assert api.client(key).get("/v1/me").json()["role"] == "moderator"
    listing = admin.get("/v1/users").text
    assert key not in listing and key.split("_", 2)[2] not in listing  # the secret may hold "_"
    bad = admin.post("/v1/users", json={"name": "x", "role": "rights_holder"})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/account-invalid")
    token = api.client().post(
        "/v1/auth/token", data={"username": "newmod", "password": "correct horse battery"}
    )
    assert token.status_code == 200 and token.json()["token_type"] == "bearer"
    assert api.client(token.json()["access_token"]).get("/v1/me").json()["name"] == "newmod"
    wrong = api.client().post("/v1/auth/token", data={"username": "newmod", "password": "nope"})
    assert wrong.status_code == 401
