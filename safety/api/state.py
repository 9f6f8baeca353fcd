"""What the app holds for its lifetime: settings, database, outbox relay, publisher."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safety.config import Settings
from safety.publishing import Publisher
from safety.store import Database


@dataclass
class AppState:
    settings: Settings
    db: Database
    publisher: Publisher
    relay: Any = None  # streams.outbox.OutboxRelay when enabled
    jobs: Any = None  # safety.review.publish_jobs.PublishJobRunner when enabled
    extras: dict[str, Any] = field(default_factory=dict)

    def workdir(self, prefix: str) -> Path:
        """A private scratch directory for one upload, under the data dir (the caller removes it)."""
        root = self.settings.data_dir / "tmp"
        root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=root))

    def kick_relay(self) -> None:
        if self.relay is not None:
            self.relay.kick()

    def kick_publisher(self) -> None:
        if self.jobs is not None:
            self.jobs.kick()
