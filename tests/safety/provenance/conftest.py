"""Provenance fixtures: short 640x360 clips, a migrated PostgreSQL database, a real publisher."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fgtest import event

from policies import Decision
from safety.assets import LocalAssetStore
from safety.events import VideoGenerated
from safety.media import MediaLimits, probe
from safety.media.samples import make_video
from safety.provenance import ProvenanceConfig, ProvenancePublisher
from safety.provenance.certs import dev_trust_anchors
from safety.publishing import PublishRequest
from safety.store import Database

MakeRequest = Callable[..., PublishRequest]


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """3 s at 640x360 24 fps: a synthetic test card with a tone, and a detailed zooming fractal."""
    root = tmp_path_factory.mktemp("prov-clips")
    return {
        "card": make_video(
            root / "card.mp4", source="testsrc2", duration_s=3.0, width=640, height=360, with_audio=True
        ),
        "fractal": make_video(
            root / "fractal.mp4", source="mandelbrot", duration_s=3.0, width=640, height=360
        ),
    }


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def publisher(db: Database, data_dir: Path) -> Iterator[ProvenancePublisher]:
    pub = ProvenancePublisher(LocalAssetStore(data_dir / "assets"), db, ProvenanceConfig(), data_dir=data_dir)
    yield pub
    pub.close()


@pytest.fixture
def anchors(publisher: ProvenancePublisher, data_dir: Path) -> str:
    """The dev root the publisher's chain was generated under (its only trust anchor)."""
    pem = dev_trust_anchors(data_dir)
    assert pem.count("BEGIN CERTIFICATE") == 1
    return pem


def decision(audience: str = "everyone", labels: list[str] | None = None) -> Decision:
    return Decision.model_validate(
        {
            "outcome": "published",
            "audience": audience,
            "reasons": [],
            "creator_message": None,
            "priority": None,
            "labels": labels or [],
            "policy": "default",
            "policy_version": "default@1.2.0",
            "policy_digest": "ab" * 32,
            "trace": [],
        }
    )


@pytest.fixture
def make_request() -> MakeRequest:
    def make(
        source: Path,
        video_id: str = "vid-1",
        *,
        decision_id: str | None = None,
        reviewed_by: str | None = None,
        grants: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> PublishRequest:
        ev = VideoGenerated.model_validate(event(video_id, source.resolve().as_uri(), **extra))
        return PublishRequest(
            event=ev,
            source=source,
            info=probe(source, MediaLimits()),
            decision_id=decision_id or str(uuid.uuid4()),
            decision=decision(labels=["ai.generated"]),
            reviewed_by=reviewed_by,
            grants=grants or [],
        )

    return make


@pytest.fixture(scope="session")
def ffmpeg() -> Callable[..., None]:
    """Run ffmpeg quietly (the transforms an attacker or a re-upload would apply)."""

    def run(*args: str) -> None:
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
            check=True,
            capture_output=True,
            timeout=300,
        )

    return run
