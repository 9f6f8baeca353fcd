"""Real components for every test: a fresh Tansu broker, a fresh PostgreSQL database, ffmpeg."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from streams import LocalBroker, ensure_topics

PG_ADMIN_URL = os.environ.get("FEEDGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest tests first, then the other multi-process ones: xdist hands tests out in this order,
    so a minutes-long test started last cannot become the suite's tail (same order in every worker)."""
    rank = {"longest": 0, "slow": 1}
    items.sort(key=lambda item: min((rank[m.name] for m in item.iter_markers() if m.name in rank), default=2))


@pytest.fixture
def broker() -> Iterator[str]:
    """A broker of its own per test (starts in ~0.15 s): topic names are fixed, so no sharing."""
    with LocalBroker() as b:
        ensure_topics(b.bootstrap, partitions=4)
        yield b.bootstrap


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"fg_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'feedguard.db'}"


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small sample videos made once per session with ffmpeg."""
    from safety.media.samples import make_corrupt, make_video

    root = tmp_path_factory.mktemp("videos")
    out = {
        "plain": make_video(root / "plain.mp4", source="testsrc2", duration_s=2.0, width=320, height=180),
        "bars": make_video(root / "bars.mp4", source="smptebars", duration_s=2.0, width=320, height=180),
        "long": make_video(root / "long.mp4", source="testsrc2", duration_s=6.0, width=160, height=90),
        "big": make_video(root / "big.mp4", source="testsrc2", duration_s=1.0, width=1280, height=720),
    }
    out["corrupt"] = make_corrupt(root / "corrupt.mp4", from_video=out["plain"])
    return out


@pytest.fixture(scope="session")
def video_root(videos: dict[str, Path]) -> Path:
    return videos["plain"].parent
