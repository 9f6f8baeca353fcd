"""Issue #14, authentication: password guessing, lockout, name enumeration by timing, sessions
that outlive logout, password/role changes and admins' view of credentials. Live server only."""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable

import httpx
from fgapi import Api
from sqlalchemy import select

from safety.accounts import create_user
from safety.store import AuditEntry, User

LiveApi = Callable[..., Api]  # the live_api fixture (conftest)

PASSWORD = "a long moderator password"


def _moderator(api: Api, name: str, role: str = "moderator") -> str:
    with api.db.session() as s:
        return create_user(s, name, role, password=PASSWORD).id


def _ui_login(api: Api, name: str, password: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{api.url}/ui/login",
        data={"username": name, "password": password},
        headers={"Origin": api.url, **headers},
    )


def _forged() -> str:
    return f"Bearer fgk_{secrets.token_hex(8)}_x"


def test_forged_bearer_ids_buy_no_login_guesses(live_api: LiveApi) -> None:
    """Finding 3: a forged key id per attempt used to give each guess a fresh bucket, and failed
    logins answered 200, so 20 of 20 guesses were processed at 10/min and then the right one
    logged in. Now an unproven key id spends the address's budget."""
    api = live_api(api_rate_per_minute=10, login_failures_per_minute=1000, login_max_failures=1000)
    _moderator(api, "guessed")
    statuses = [
        _ui_login(api, "guessed", f"guess {n}", Authorization=_forged()).status_code for n in range(20)
    ]
    processed = [s for s in statuses if s != 429]
    assert len(processed) <= 10 and all(s == 401 for s in processed), statuses
    right = _ui_login(api, "guessed", PASSWORD, Authorization=_forged())
    assert right.status_code == 429 and "fg_session" not in right.cookies
    print(f"forged-bearer guesses at 10/min: {statuses.count(401)} processed, {statuses.count(429)} refused")

    # The public watermark endpoint fell to the same trick.
    wm = live_api(api_rate_per_minute=10)
    resolved = [
        httpx.get(
            f"{wm.url}/v1/provenance/watermarks/{secrets.token_hex(8)}", headers={"Authorization": _forged()}
        )
        for _ in range(20)
    ]
    codes = [r.status_code for r in resolved]
    assert codes.count(429) >= 10 and set(codes) <= {404, 429}, codes


def test_failed_logins_spend_the_address_budget(live_api: LiveApi) -> None:
    """Different (unknown) names each time, so only the address's failure budget can stop it."""
    api = live_api(login_failures_per_minute=5, login_max_failures=1000)
    _moderator(api, "target")
    statuses = [_ui_login(api, f"name-{n}", "x").status_code for n in range(8)]
    assert statuses == [401] * 5 + [429] * 3, statuses
    token = httpx.post(f"{api.url}/v1/auth/token", data={"username": "target", "password": PASSWORD})
    assert token.status_code == 429 and int(token.headers["retry-after"]) >= 1


def test_lockout_backs_off_exponentially_and_is_audited(live_api: LiveApi) -> None:
    api = live_api(
        login_max_failures=3, login_lockout_base_s=1, login_lockout_max_s=4, login_failures_per_minute=1000
    )
    user_id = _moderator(api, "locked")

    def token(password: str) -> httpx.Response:
        return httpx.post(f"{api.url}/v1/auth/token", data={"username": "locked", "password": password})

    assert [token("wrong").status_code for _ in range(3)] == [401, 401, 401]
    refused = token(PASSWORD)  # right password, but the name is locked: not even checked
    assert refused.status_code == 429 and refused.json()["type"].endswith("/login-locked")
    waits = [int(refused.headers["retry-after"])]
    for _ in range(3):  # after each lock, one more failure locks again, twice as long (capped)
        time.sleep(waits[-1] + 0.2)
        assert token("wrong").status_code == 401
        locked = token("wrong")
        assert locked.status_code == 429
        waits.append(int(locked.headers["retry-after"]))
    assert waits == [1, 2, 4, 4], waits
    print(f"lockout: 3 failures allowed, then locks of {waits} s")
    time.sleep(waits[-1] + 0.2)
    assert token(PASSWORD).status_code == 200  # a success resets the streak
    assert [token("wrong").status_code for _ in range(3)] == [401, 401, 401]
    with api.db.session() as s:
        actions = [
            (e.action, e.details)
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.subject_id == user_id).order_by(AuditEntry.id)
            )
        ]
    locks = [d["seconds"] for a, d in actions if a == "login.locked"]
    assert locks == [1, 2, 4, 4, 1], actions  # the last streak, after the success, starts over
    assert [a for a, _ in actions].count("login.refused") == 0  # refusals are filed under the name
    with api.db.session() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "login.refused")).first() is not None


def test_lockout_says_nothing_about_whether_the_name_exists(live_api: LiveApi) -> None:
    api = live_api(login_max_failures=2, login_lockout_base_s=60, login_failures_per_minute=1000)
    _moderator(api, "real-name")
    for name in ("real-name", "no-such-name"):
        got = [
            httpx.post(f"{api.url}/v1/auth/token", data={"username": name, "password": "x"}).status_code
            for _ in range(3)
        ]
        assert got == [401, 401, 429], (name, got)


def _medians_ms(api: Api, names: list[str], rounds: int) -> list[float]:
    """Median time of a failed login per name; the names take turns, so load drift hits all alike."""
    times: list[list[float]] = [[] for _ in names]
    with httpx.Client(base_url=api.url) as c:
        for i in range(rounds):
            for j, name in enumerate(names):
                start = time.perf_counter()
                r = c.post("/v1/auth/token", data={"username": name, "password": f"wrong {i}"})
                times[j].append((time.perf_counter() - start) * 1000)
                assert r.status_code == 401
    return [statistics.median(t) for t in times]


def test_unknown_and_known_names_cost_the_same(live_api: LiveApi) -> None:
    """Finding 3: unknown names answered ~10x faster (scrypt was skipped)."""
    api = live_api(login_max_failures=10_000, login_failures_per_minute=10_000, api_rate_per_minute=10_000)
    _moderator(api, "timed-known")
    with api.db.session() as s:  # an account without a password, and a disabled one
        create_user(s, "timed-nopass", "moderator")
        create_user(s, "timed-disabled", "moderator", password=PASSWORD).disabled = True
    _medians_ms(api, ["timed-known", "timed-unknown"], 2)  # warm up
    known, unknown, nopass, disabled = _medians_ms(
        api, ["timed-known", "timed-unknown", "timed-nopass", "timed-disabled"], 30
    )
    print(
        f"median login ms: known {known:.1f}, unknown {unknown:.1f}, "
        f"no password {nopass:.1f}, disabled {disabled:.1f}"
    )
    for other in (unknown, nopass, disabled):
        assert 0.6 < other / known < 1.6, (known, unknown, nopass, disabled)


def test_logout_ends_the_session_everywhere_and_needs_our_origin(live_api: LiveApi) -> None:
    """Finding 5: the token kept working for 12 h after logout, and logout had no CSRF check."""
    api = live_api(api_rate_per_minute=1_000_000)
    _moderator(api, "leaving")
    login = _ui_login(api, "leaving", PASSWORD)
    assert login.status_code == 303
    token = login.cookies["fg_session"]
    cookie = {"fg_session": token}
    assert httpx.get(f"{api.url}/v1/me", cookies=cookie).status_code == 200

    # A cross-site form post (or one with no Origin) does not log the moderator out...
    for headers in ({"Origin": "http://127.0.0.1:1"}, {}):
        forged = httpx.post(f"{api.url}/ui/logout", cookies=cookie, headers=headers)
        assert forged.status_code == 403, forged.text
    assert httpx.get(f"{api.url}/v1/me", cookies=cookie).status_code == 200

    # ...our own page's does, and the token is dead as cookie and as bearer key.
    out = httpx.post(f"{api.url}/ui/logout", cookies=cookie, headers={"Origin": api.url})
    assert out.status_code == 303
    assert httpx.get(f"{api.url}/ui/", cookies=cookie).headers["location"].endswith("/ui/login")
    assert httpx.get(f"{api.url}/v1/me", cookies=cookie).status_code == 401
    assert httpx.get(f"{api.url}/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    # The password flow's bearer sessions end through /v1/auth/logout; API keys are not sessions.
    issued = httpx.post(f"{api.url}/v1/auth/token", data={"username": "leaving", "password": PASSWORD})
    bearer = api.client(issued.json()["access_token"])
    assert bearer.get("/v1/me").status_code == 200
    assert bearer.post("/v1/auth/logout").status_code == 204
    assert bearer.get("/v1/me").status_code == 401
    key = api.client(api.user("platform"))
    assert key.post("/v1/auth/logout").status_code == 409
    assert key.get("/v1/me").status_code == 200


def test_login_needs_our_origin(live_api: LiveApi) -> None:
    api = live_api(api_rate_per_minute=1_000_000)
    _moderator(api, "csrf-login")
    r = httpx.post(
        f"{api.url}/ui/login",
        data={"username": "csrf-login", "password": PASSWORD},
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 403 and "fg_session" not in r.cookies


def test_password_and_role_changes_end_sessions_and_admins_see_and_revoke(live_api: LiveApi) -> None:
    api = live_api(api_rate_per_minute=1_000_000)
    admin = api.client(api.user("admin"))
    user_id = _moderator(api, "changing")
    key = api.client(api.user("moderator", "changing-key-holder"))

    def session_token() -> str:
        r = httpx.post(f"{api.url}/v1/auth/token", data={"username": "changing", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    first, second = api.client(session_token()), api.client(session_token())
    listed = admin.get(f"/v1/users/{user_id}/credentials")
    assert listed.status_code == 200
    sessions = [c for c in listed.json() if c["kind"] == "session" and c["revoked_at"] is None]
    assert len(sessions) == 2 and "secret" not in listed.text.lower()
    assert key.get(f"/v1/users/{user_id}/credentials").status_code == 403

    assert admin.delete(f"/v1/users/{user_id}/sessions").json() == {"ended": 2}
    assert first.get("/v1/me").status_code == 401 and second.get("/v1/me").status_code == 401

    live = api.client(session_token())
    changed = admin.patch(f"/v1/users/{user_id}", json={"password": "a brand new password"})
    assert changed.status_code == 200
    assert live.get("/v1/me").status_code == 401
    assert (
        httpx.post(
            f"{api.url}/v1/auth/token", data={"username": "changing", "password": PASSWORD}
        ).status_code
        == 401
    )

    role_session = api.client(
        httpx.post(
            f"{api.url}/v1/auth/token", data={"username": "changing", "password": "a brand new password"}
        ).json()["access_token"]
    )
    assert role_session.get("/v1/review/items").status_code == 200
    assert admin.patch(f"/v1/users/{user_id}", json={"role": "platform"}).json()["role"] == "platform"
    assert role_session.get("/v1/me").status_code == 401
    with api.db.session() as s:
        user = s.get(User, user_id)
        assert user is not None and user.role == "platform"
        audit = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.subject_id == user_id))]
    assert audit.count("sessions.ended") == 3 and audit.count("user.changed") == 2

    # Admins revoke any API key of the user's from the listing.
    with api.db.session() as s:
        holder_id = s.scalar(select(User.id).where(User.name == "changing-key-holder"))
    key_id = admin.get(f"/v1/users/{holder_id}/credentials").json()[0]["key_id"]
    assert admin.delete(f"/v1/keys/{key_id}").status_code == 204
    assert key.get("/v1/me").status_code == 401


def test_a_proven_key_keeps_its_own_budget_beside_a_forged_flood(live_api: LiveApi) -> None:
    api = live_api(api_rate_per_minute=5)
    good = api.client(api.user("moderator"))
    forged = [
        httpx.get(f"{api.url}/v1/me", headers={"Authorization": _forged()}).status_code for _ in range(8)
    ]
    assert forged == [401] * 5 + [429] * 3, forged
    assert [good.get("/v1/me").status_code for _ in range(6)] == [200] * 5 + [429]


def test_cookie_writes_need_our_origin_bearer_writes_do_not(live_api: LiveApi) -> None:
    """CSRF by Origin held before #14; kept as a regression test beside the new session code."""
    api = live_api(api_rate_per_minute=1_000_000)
    _moderator(api, "csrf-writes")
    cookie = {"fg_session": _ui_login(api, "csrf-writes", PASSWORD).cookies["fg_session"]}
    body = {"blur_sensitive": False}
    for origin in ("http://127.0.0.1:1", "null"):
        r = httpx.patch(f"{api.url}/v1/me/settings", json=body, cookies=cookie, headers={"Origin": origin})
        assert r.status_code == 403, (origin, r.status_code)
    assert httpx.patch(f"{api.url}/v1/me/settings", json=body, cookies=cookie).status_code == 403
    ours = httpx.patch(f"{api.url}/v1/me/settings", json=body, cookies=cookie, headers={"Origin": api.url})
    assert ours.status_code == 200 and ours.json()["blur_sensitive"] is False
    key = api.client(api.user("moderator"))
    assert (
        key.patch("/v1/me/settings", json=body, headers={"Origin": "http://127.0.0.1:1"}).status_code == 200
    )


def test_default_back_off_sequence() -> None:
    from safety.logins import LoginPolicy

    assert [LoginPolicy().lockout_s(n) for n in range(9)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert LoginPolicy().lockout_s(10_000) == 3600  # no overflow however long the streak
