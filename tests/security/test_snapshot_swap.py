"""An approval publishes the bytes that were checked and reviewed, never the URI's current content.

Issue 14 finding 2 / issue 13 item 1: the media was fetched again at approval time, so replacing
the file after the moderator looked published a different video, signed and labelled ``reviewed``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fgapi import Api, api_settings, serve
from sqlalchemy import select

from safety.media import probe
from safety.media.limits import MediaLimits
from safety.media.samples import make_video
from safety.provenance.manifest import MODERATION_LABEL
from safety.provenance.store import ProvenanceStore
from safety.store import Database, MediaSnapshot, OutboxMessage, ReviewItem, Video


@pytest.fixture
def media_root(tmp_path: Path, videos: dict[str, Path]) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    shutil.copy(videos["plain"], root / "clip.mp4")  # 320x180, 2 s, no audio
    return root


@pytest.fixture
def api(tmp_path: Path, pg_url: str, media_root: Path) -> Any:
    settings = api_settings(tmp_path, pg_url, media_root, "127.0.0.1:1", api_relay_outbox=False)
    for url in serve(settings):
        db = Database(pg_url)
        yield Api(url, settings, db)
        db.dispose()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def moderation_assertion(api: Api, video_id: str) -> dict[str, Any]:
    (record,) = ProvenanceStore(api.db).for_video(video_id)
    manifest = record.manifest_json["manifests"][record.manifest_label]
    (found,) = [a["data"] for a in manifest["assertions"] if a["label"].startswith(MODERATION_LABEL)]
    return dict(found)


def approve(api: Api, item_id: str) -> dict[str, Any]:
    mod = api.client(api.user("moderator"))
    assert mod.post(f"/v1/review/items/{item_id}/claim").status_code == 200
    assert mod.get(f"/v1/review/items/{item_id}").status_code == 200  # the moderator looks
    d = mod.post(f"/v1/review/items/{item_id}/decision", json={"action": "approve", "audience": "everyone"})
    assert d.status_code == 200, d.text
    assert d.json()["publish_status"] == "queued" and d.json()["asset_uri"] is None
    return api.wait_job(d.json()["id"])


def test_media_swapped_after_review_is_never_published(api: Api, media_root: Path, tmp_path: Path) -> None:
    clip = media_root / "clip.mp4"
    reviewed_digest = sha256(clip)
    item_id = api.held_video("swap-1", clip.as_uri())
    with api.db.session() as s:
        video = s.get(Video, "swap-1")
        assert video is not None and video.media_sha256 == reviewed_digest
        assert s.get(MediaSnapshot, reviewed_digest) is not None
    # The attacker replaces the file behind the URI with another video (longer, larger, with audio).
    other = make_video(tmp_path / "other.mp4", duration_s=8.0, width=640, height=360, with_audio=True)
    os.replace(other, clip)
    job = approve(api, item_id)
    assert job["status"] == "done", job
    assert job["media_sha256"] == reviewed_digest
    published = Path(job["asset_uri"].removeprefix("file://"))
    info = probe(published, MediaLimits())
    assert (info.display_width, info.display_height) == (320, 180)
    assert info.duration_s < 3 and not info.has_audio
    assertion = moderation_assertion(api, "swap-1")
    assert assertion["source_sha256"] == reviewed_digest
    assert "reviewed" in assertion["labels"]


def test_the_uri_is_never_read_again_after_the_decision(api: Api, media_root: Path) -> None:
    clip = media_root / "clip.mp4"
    item_id = api.held_video("gone-1", clip.as_uri())
    clip.unlink()  # the creator's storage forgets it: evidence and approval still work
    mod = api.client(api.user("moderator"))
    ev = mod.get(f"/v1/review/items/{item_id}").json()
    assert ev["frames"], ev.get("frames_error")
    assert approve(api, item_id)["status"] == "done"


@pytest.mark.parametrize("damage", ["altered", "deleted"])
def test_an_altered_or_missing_snapshot_fails_closed(api: Api, media_root: Path, damage: str) -> None:
    clip = media_root / "clip.mp4"
    item_id = api.held_video(f"tamper-{damage}", clip.as_uri())
    digest = sha256(clip)
    snap = api.settings.snapshots_dir / "sha256" / digest[:2] / digest
    assert snap.is_file()
    os.chmod(snap, 0o640)
    if damage == "altered":
        with open(snap, "r+b") as f:  # flip bytes in the middle of the stored copy
            f.seek(snap.stat().st_size // 2)
            f.write(b"\x00\xff" * 64)
    else:
        snap.unlink()
    job = approve(api, item_id)
    code = "snapshot.mismatch" if damage == "altered" else "snapshot.missing"
    assert job["status"] == "failed" and code in job["error"], job
    assert job["asset_uri"] is None
    with api.db.session() as s:
        video = s.get(Video, f"tamper-{damage}")
        assert video is not None and video.state == "held"
        assert not ProvenanceStore(api.db).for_video(f"tamper-{damage}")
        published = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "feed.publish")).all()
        assert published == []
        item = s.get(ReviewItem, item_id)
        assert item is not None and item.status == "open" and f"publish_failed.{code}" in item.reasons
