"""Provenance records on both databases, and the configuration rules around keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from safety.provenance.config import ProvenanceConfig
from safety.provenance.models import ProvenanceRecord
from safety.provenance.store import ProvenanceStore
from safety.store import Database


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path}/t.db"
    database = Database(url)
    database.upgrade()
    assert database.current_revision() == database.head_revision()
    yield database  # type: ignore[misc]
    database.dispose()


def record(wid: str, video: str, minutes: int) -> ProvenanceRecord:
    return ProvenanceRecord(
        watermark_id=wid,
        video_id=video,
        decision_id=f"d-{wid}",
        asset_uri=f"file:///a/{wid}.mp4",
        manifest_json={"active_manifest": "urn:c2pa:x", "manifests": {"urn:c2pa:x": {"title": wid}}},
        manifest_label="urn:c2pa:x",
        signed_at=datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        algorithm="es256",
        sha256="0" * 64,
    )


def test_record_get_and_per_video_history(any_db: Database) -> None:
    store = ProvenanceStore(any_db)
    store.record(record("aaaaaaaaaaaaaaaa", "v1", 0))
    store.record(record("bbbbbbbbbbbbbbbb", "v1", 5))
    store.record(record("cccccccccccccccc", "v2", 1))
    got = store.get("aaaaaaaaaaaaaaaa")
    assert got is not None and got.manifest_json["manifests"]["urn:c2pa:x"]["title"] == "aaaaaaaaaaaaaaaa"
    assert store.get("ffffffffffffffff") is None
    assert [r.watermark_id for r in store.for_video("v1")] == ["bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa"]
    latest = store.latest_for_video("v1")
    assert latest is not None and latest.watermark_id == "bbbbbbbbbbbbbbbb"
    assert store.latest_for_video("nope") is None
    # A retried publish rewrites its own row instead of failing on the primary key.
    again = record("aaaaaaaaaaaaaaaa", "v1", 9)
    again.sha256 = "1" * 64
    store.record(again)
    row = store.get("aaaaaaaaaaaaaaaa")
    assert row is not None and row.sha256 == "1" * 64
    assert len(store.for_video("v1")) == 2


def test_key_and_chain_are_configured_together(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="together"):
        ProvenanceConfig(signing_key=tmp_path / "k.pem")
    with pytest.raises(ValidationError):
        ProvenanceConfig(algorithm="rs1")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="http"):
        ProvenanceConfig(tsa_url="ftp://tsa")
    cfg = ProvenanceConfig()
    assert (cfg.enabled, cfg.algorithm, cfg.tsa_url, cfg.watermark, cfg.crf, cfg.visible_badge) == (
        True,
        "es256",
        None,
        True,
        20,
        False,
    )
