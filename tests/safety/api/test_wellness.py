"""Moderator wellness through the API and the page: exposure counters and the daily cap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fgapi import Api, api_settings, serve

from safety.accounts import create_user, issue_key
from safety.store import Database


@pytest.fixture
def capped_api(tmp_path: Path, pg_url: str, video_root: Path) -> Iterator[Api]:
    settings = api_settings(
        tmp_path, pg_url, video_root, "127.0.0.1:1", api_relay_outbox=False, moderator_daily_exposure_cap=1
    )
    for url in serve(settings):
        db = Database(pg_url)
        yield Api(url, settings, db)
        db.dispose()


def test_daily_cap_leaves_further_graphic_items_to_others_and_the_page_shows_the_count(
    capped_api: Api, videos: dict[str, Path]
) -> None:
    api = capped_api
    first = api.held_video("w-1", videos["plain"].resolve().as_uri())  # self-harm: graphic
    second = api.held_video("w-2", videos["plain"].resolve().as_uri())
    with api.db.session() as s:
        key = issue_key(s, create_user(s, "rosa", "moderator", password="a long moderator password"))
    page = httpx.Client(base_url=api.url, timeout=60, follow_redirects=True)
    login = page.post(
        "/ui/login",
        data={"username": "rosa", "password": "a long moderator password"},
        headers={"Origin": api.url},
    )
    assert login.status_code == 200, login.text
    assert "today: <b>0</b> graphic" in page.get("/ui/").text

    rosa = api.client(key)
    other = api.client(api.user("moderator"))
    assert rosa.post(f"/v1/review/items/{first}/claim").status_code == 200
    r = rosa.post(
        f"/v1/review/items/{first}/decision", json={"action": "reject", "reasons": ["policy.self_harm"]}
    )
    assert r.status_code == 200, r.text
    capped = rosa.post(f"/v1/review/items/{second}/claim")
    assert capped.status_code == 409 and capped.json()["type"].endswith("/exposure-cap")
    assert other.post(f"/v1/review/items/{second}/claim").status_code == 200  # routed to someone else
    queue = page.get("/ui/").text
    assert "today: <b>1</b> graphic" in queue and "(cap 1)" in queue
    assert "stays in the queue for another moderator" in page.get(f"/ui/items/{second}").text
