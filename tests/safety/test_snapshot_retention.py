"""Media snapshots: recorded with each decision, kept while a decision on them can change, then
deleted after the retention (real pipeline, PostgreSQL, files on disk)."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

from fgtest import event
from sqlalchemy import text

from safety.config import Settings
from safety.events import VideoGenerated
from safety.media.snapshot import SnapshotStore
from safety.retention import collect, stored_bytes
from safety.runtime import build_runtime
from safety.store import Database, MediaSnapshot, Video
from safety.store.models import utcnow

RETENTION = timedelta(days=7)
WINDOW = timedelta(days=30)


def age(db: Database, store: SnapshotStore, days: float) -> None:
    """Move every snapshot use, snapshot file and decision ``days`` into the past."""
    for path in (store.root / "sha256").rglob("*"):
        if path.is_file():
            st = path.stat()
            os.utime(path, (st.st_atime - days * 86400, st.st_mtime - days * 86400))
    with db.session() as s:
        s.execute(text(f"UPDATE media_snapshots SET last_used_at = last_used_at - interval '{days} days'"))
        s.execute(text(f"UPDATE decisions SET created_at = created_at - interval '{days} days'"))


def test_snapshots_live_as_long_as_a_decision_can_change(
    tmp_path: Path, pg_url: str, videos: dict[str, Path], video_root: Path
) -> None:
    settings = Settings(database_url=pg_url, data_dir=tmp_path / "data", media_roots=[video_root])
    rt = build_runtime(settings, worker_id="t")
    try:
        cases = {
            "ret-pub": (videos["plain"], "a calm lake at dawn", "adult"),
            "ret-held": (videos["bars"], "i want to hurt myself", "adult"),
            "ret-rej": (videos["long"], "a s3xy dance", "teen"),
        }
        outcomes = {}
        for vid, (path, prompt, band) in cases.items():
            ev = VideoGenerated.model_validate(event(vid, path.resolve().as_uri(), prompt, age_band=band))
            outcomes[vid] = rt.moderator.handle(ev).row.outcome
    finally:
        rt.close()
    assert outcomes == {"ret-pub": "published", "ret-held": "held", "ret-rej": "rejected"}
    db = Database(pg_url)
    store = SnapshotStore(settings.snapshots_dir)
    digests = {vid: hashlib.sha256(p.read_bytes()).hexdigest() for vid, (p, _, _) in cases.items()}
    with db.session() as s:
        for vid, digest in digests.items():
            video = s.get(Video, vid)
            assert video is not None and video.media_sha256 == digest
            assert s.get(MediaSnapshot, digest) is not None
            assert store.open(digest).size == video.media_bytes
    total = stored_bytes(db)
    assert total == sum(p.stat().st_size for p, _, _ in cases.values())

    # Inside the retention nothing goes.
    assert collect(db, store, retention=RETENTION, appeal_window=WINDOW).deleted == []
    # Past the retention: the published video's snapshot goes; the held one and the rejection that
    # can still be appealed stay.
    age(db, store, 8)
    got = collect(db, store, retention=RETENTION, appeal_window=WINDOW, now=utcnow() + timedelta(hours=1))
    assert got.deleted == [digests["ret-pub"]] and got.kept == 2
    assert not store.path_of(digests["ret-pub"]).exists()
    assert got.bytes_freed == cases["ret-pub"][0].stat().st_size
    assert store.path_of(digests["ret-held"]).is_file()
    # Past the appeal window the rejection's snapshot goes too; the held video's never does.
    age(db, store, 30)
    got = collect(db, store, retention=RETENTION, appeal_window=WINDOW, now=utcnow() + timedelta(hours=1))
    assert got.deleted == [digests["ret-rej"]] and got.kept == 1
    assert store.path_of(digests["ret-held"]).is_file()
    # Idempotent.
    again = collect(db, store, retention=RETENTION, appeal_window=WINDOW, now=utcnow() + timedelta(hours=1))
    assert again.deleted == []
    db.dispose()
