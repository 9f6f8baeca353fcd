"""What the app holds for its lifetime: settings, database, outbox relay, publisher."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    extras: dict[str, Any] = field(default_factory=dict)

    def kick_relay(self) -> None:
        if self.relay is not None:
            self.relay.kick()
