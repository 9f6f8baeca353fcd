"""The rights tests' live-API helper: a verified rights holder, uploads, rules, the real pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fgapi import Api
from fgtest import event

from safety.events import VideoGenerated
from safety.runtime import Runtime, build_runtime
from safety.store import Database, DecisionRow

PIP_DESCRIPTION = (
    "Pip Quillfeather, a small round green owl wizard who wears a tall purple pointed hat covered in "
    "yellow stars and teaches spells to forest animals."
)


@dataclass
class Rights:
    """A live API, an admin, one verified rights holder (org ``acme``), and the pipeline."""

    api: Api
    admin: httpx.Client
    holder: httpx.Client
    media: dict[str, Path]
    _runtime: Runtime | None = None

    @property
    def db(self) -> Database:
        return self.api.db

    def character(self, slug: str = "pip", **extra: Any) -> dict[str, Any]:
        body = {
            "slug": slug,
            "name": "Pip Quillfeather",
            "names": [{"text": "Professor Pip", "kind": "alias"}, {"text": "Pipo el Búho", "lang": "es"}],
            "descriptions": {"en": [PIP_DESCRIPTION]},
        } | extra
        r = self.holder.post("/v1/rights/characters", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def upload(
        self, cid: str, path: Path, kind: str = "image", client: httpx.Client | None = None
    ) -> httpx.Response:
        with path.open("rb") as f:
            return (client or self.holder).post(
                f"/v1/rights/characters/{cid}/references",
                files={"file": (path.name, f, "application/octet-stream")},
                data={"kind": kind, "label": path.stem},
            )

    def rule(self, cid: str, spec: dict[str, Any], mode: str = "active") -> dict[str, Any]:
        r = self.holder.post(f"/v1/rights/characters/{cid}/rules", json=spec | {"mode": mode})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def decide(self, video_id: str, video: str, prompt: str = "a forest at dawn", **kw: Any) -> DecisionRow:
        """Run the real pipeline (one runtime per test: models load once)."""
        if self._runtime is None:
            self._runtime = build_runtime(self.api.settings, worker_id="test-worker")
        ev = event(video_id, (self.media["videos"] / video).as_uri(), prompt, **kw)
        self._runtime.pipeline.rights.view.refresh(force=True)  # type: ignore[union-attr]
        return self._runtime.moderator.handle(VideoGenerated.model_validate(ev)).row

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
