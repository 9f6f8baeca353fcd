"""Fixtures: a live API (uvicorn in a thread) on PostgreSQL, with and without a broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fgapi import Api, api_settings, serve

from safety.store import Database


@pytest.fixture
def api(tmp_path: Path, pg_url: str, video_root: Path) -> Iterator[Api]:
    """The API without a broker (the outbox relay is off: events stay in the outbox)."""
    settings = api_settings(tmp_path, pg_url, video_root, "127.0.0.1:1", api_relay_outbox=False)
    for url in serve(settings):
        db = Database(pg_url)
        yield Api(url, settings, db)
        db.dispose()


@pytest.fixture
def api_kafka(tmp_path: Path, pg_url: str, video_root: Path, broker: str) -> Iterator[Api]:
    """The API with the outbox relay sending to a real broker."""
    settings = api_settings(tmp_path, pg_url, video_root, broker)
    for url in serve(settings):
        db = Database(pg_url)
        yield Api(url, settings, db)
        db.dispose()
