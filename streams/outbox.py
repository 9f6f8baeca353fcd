"""Relay for the transactional outbox (``safety.outbox``): unsent rows -> Kafka, in order.

A moderator's approval must reach ``feed.publish`` even if the broker blips at that moment; the
relay retries until the row is sent, and rows carry their ``decision_id`` for de-duplication.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from sqlalchemy import select, update

from safety.store import Database, OutboxMessage
from safety.store.models import utcnow
from streams.worker import make_producer

log = logging.getLogger(__name__)


class OutboxRelay:
    """Background thread sending unsent outbox rows in order; ``kick()`` sends without waiting."""

    def __init__(self, db: Database, bootstrap: str, interval_s: float = 2.0) -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._producer: Any = None
        self.sent = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._producer is not None:
            self._producer.close(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.send_pending():
                    pass
            except Exception:
                log.warning("outbox relay: send failed, will retry", exc_info=True)
                self._reset_producer()
            self._wake.wait(self.interval_s)
            self._wake.clear()

    def _reset_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:
                log.debug("closing a broken producer failed", exc_info=True)
        self._producer = None

    def send_pending(self, batch: int = 100) -> int:
        """Send one batch; returns how many were sent. Row locks let several API processes share it."""
        with self.db.session() as s:
            q = (
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.id)
                .limit(batch)
            )
            if s.bind is not None and s.bind.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            if not rows:
                return 0
            if self._producer is None:
                self._producer = make_producer(self.bootstrap)
            futures = [
                self._producer.send(
                    r.topic,
                    key=r.key.encode(),
                    value=json.dumps(r.value).encode(),
                    headers=[(k, str(v).encode()) for k, v in r.headers.items()],
                )
                for r in rows
            ]
            self._producer.flush(timeout=30)
            for f in futures:
                f.get(timeout=30)
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(sent_at=utcnow())
            )
        self.sent += len(rows)
        return len(rows)
