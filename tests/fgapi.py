"""The live-API helpers shared by the API and browser tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fgtest import event

from safety.accounts import create_user, issue_key
from safety.api.app import create_app
from safety.config import Settings
from safety.events import VideoGenerated
from safety.runtime import build_runtime
from safety.store import Database, Organisation
from streams import free_port


@dataclass
class Api:
    url: str
    settings: Settings
    db: Database

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def user(self, role: str, name: str | None = None, **kw: Any) -> str:
        """Create a user directly in the database and return a fresh API key."""
        with self.db.session() as s:
            if kw.get("organisation_id") and s.get(Organisation, kw["organisation_id"]) is None:
                s.add(Organisation(id=kw["organisation_id"], name=kw["organisation_id"].title()))
                s.flush()
            u = create_user(s, name or f"{role}-{time.monotonic_ns()}", role, **kw)
            return issue_key(s, u)

    def wait_job(self, job_id: str, timeout_s: float = 120.0) -> dict[str, Any]:
        """Wait for an approval's publish job to finish (done or failed) and return it."""
        mod = self.client(self.user("moderator"))
        deadline = time.monotonic() + timeout_s
        while True:
            job = mod.get(f"/v1/review/publish-jobs/{job_id}").json()
            if job.get("status") in ("done", "failed"):
                return job
            assert time.monotonic() < deadline, f"publish job {job_id} still {job.get('status')}"
            time.sleep(0.2)

    def held_video(
        self,
        video_id: str,
        uri: str,
        prompt: str = "i want to hurt myself",
        age_band: str = "adult",
        creator: str | None = None,
    ) -> str:
        """Run the real pipeline on an event the default policy holds; returns the review item id."""
        from sqlalchemy import select

        from safety.store import ReviewItem

        ev = event(video_id, uri, prompt, age_band=age_band)
        if creator:
            ev["creator"]["id"] = creator
        rt = build_runtime(self.settings, worker_id="test-worker")
        try:
            rt.moderator.handle(VideoGenerated.model_validate(ev))
        finally:
            rt.close()
        with self.db.session() as s:
            item = s.scalar(select(ReviewItem).where(ReviewItem.video_id == video_id))
            assert item is not None, "the pipeline did not hold the video"
            return item.id

    def decided_video(
        self, video_id: str, uri: str, prompt: str, age_band: str = "adult", creator: str | None = None
    ) -> str:
        ev = event(video_id, uri, prompt, age_band=age_band)
        if creator:
            ev["creator"]["id"] = creator
        rt = build_runtime(self.settings, worker_id="test-worker")
        try:
            return rt.moderator.handle(VideoGenerated.model_validate(ev)).row.outcome
        finally:
            rt.close()


def serve(settings: Settings) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def api_settings(tmp_path: Path, pg_url: str, video_root: Path, bootstrap: str, **kw: Any) -> Settings:
    return Settings(
        database_url=pg_url,
        data_dir=tmp_path / "data",
        media_roots=[video_root],
        kafka_bootstrap=bootstrap,
        **kw,
    )
