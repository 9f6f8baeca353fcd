"""Hostile-input suite (issue #9): shared fixtures.

Everything runs against the real components (parser, ffmpeg/ffprobe, PostgreSQL, broker, the
FastAPI app). Property tests are derandomized (``derandomize=True``, no example database) so CI
sees the same examples on every run; each module states its own bounded example counts.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fgapi import Api, api_settings, serve

from policies.rights import Effect, RuleSpec
from safety.rights import registry as rights_registry
from safety.store import Database, Organisation, ReviewItem, Video

LiveApi = Callable[..., Api]
Seed = Callable[[Api], dict[str, str]]


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    """A migrated, empty PostgreSQL database of its own."""
    db = Database(pg_url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def live_api(tmp_path: Path, pg_url: str) -> Iterator[LiveApi]:
    """``live_api(**settings)``: the real app under uvicorn on this test's PostgreSQL database,
    without a broker (events stay in the outbox); stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(media_root: Path | None = None, **overrides: Any) -> Api:
            data = tmp_path / f"api-{uuid.uuid4().hex[:6]}"
            root = media_root or data
            settings = api_settings(data, pg_url, root, "127.0.0.1:1", api_relay_outbox=False, **overrides)
            url = stack.enter_context(contextlib.contextmanager(serve)(settings))
            db = Database(pg_url)
            stack.callback(db.dispose)
            return Api(url, settings, db)

        yield start


@pytest.fixture
def api(live_api: LiveApi) -> Api:
    """The app with a rate limit no test here reaches by accident."""
    return live_api(api_rate_per_minute=1_000_000)


def _seed(api: Api) -> dict[str, str]:
    """Two of everything that is scoped (organisations; creators with a video and a queue item
    each) and a key of every role: the creator is creator-1, the rights holder is in org-a."""
    now = datetime.now(UTC)
    with api.db.session() as s:
        s.add_all([Organisation(id="org-a", name="Org A"), Organisation(id="org-b", name="Org B")])
        for n in (1, 2):
            s.add(
                Video(
                    video_id=f"v-c{n}",
                    creator_id=f"creator-{n}",
                    creator_age_band="adult",
                    prompt=f"private prompt of creator {n}",
                    uri="file:///media/v.mp4",
                    cameos=[],
                    remix_of=None,
                    created_at=now,
                    event={},
                    state="held",
                )
            )
        s.flush()
        for n in (1, 2):
            s.add(
                ReviewItem(
                    id=str(uuid.uuid4()),
                    video_id=f"v-c{n}",
                    kind="hold",
                    status="open",
                    priority=3000,
                    reasons=["self_harm.review"],
                    creator_age_band="adult",
                )
            )
        for org in ("org-a", "org-b"):
            char = rights_registry.create_character(
                s, org, slug=f"{org}-owl", name=f"Owl of {org.title()}", names=[], official_clips=[],
                descriptions={"en": [f"the secret owl of {org}"]}, actor="seed", user_id="seed",
            )  # fmt: skip
            rights_registry.create_rule(
                s, char, RuleSpec(effect=Effect.TRACK), mode="active", note=f"{org} rule", actor="seed"
            )
        s.commit()
    return {
        "admin": api.user("admin"),
        "moderator": api.user("moderator"),
        "creator": api.user("creator", creator_id="creator-1"),
        "rights_holder": api.user("rights_holder", organisation_id="org-a"),
        "platform": api.user("platform"),
    }


@pytest.fixture
def seed() -> Seed:
    return _seed
