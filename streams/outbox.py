"""Relay for the transactional outbox (``safety.outbox``): unsent rows -> Kafka, in order.

A moderator's approval must reach ``feed.publish`` even if the broker blips at that moment; the
relay retries until the row is sent, and rows carry their ``decision_id`` for de-duplication.

A relay that starts (a previous process may have died between the broker's acknowledgement and
``sent_at``) or that just failed first looks each unsent row up on its topic, and marks the ones
already there sent instead of sending them again (``tests/reliability``, SIGKILL in the relay).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from safety.faults import failpoint
from safety.store import Database, OutboxMessage
from safety.store.models import utcnow
from streams.clients import TopicProbe, make_producer

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
        self._probe = TopicProbe(bootstrap)
        # Rows may have been sent without being marked (a crash, a failed pass): look first.
        self._unsure = True
        self.sent = 0
        self.found_sent = 0

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
        self._probe.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.send_pending():
                    pass
                self._unsure = False  # every row left from before was looked up, and settled
            except Exception:
                log.warning("outbox relay: send failed, will retry", exc_info=True)
                self._unsure = True
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
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.channel == "relay")
                .order_by(OutboxMessage.id)
                .limit(batch)
            )
            if s.bind is not None and s.bind.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = list(s.scalars(q))
            if not rows:
                return 0
            already = self._already_sent(rows) if self._unsure else set()
            if already:
                log.info("outbox relay: %d row(s) already on their topics: not re-sent", len(already))
                self.found_sent += len(already)
            todo = [r for r in rows if r.id not in already]
            if todo and self._producer is None:
                self._producer = make_producer(self.bootstrap)
            futures = [
                self._producer.send(
                    r.topic,
                    key=r.key.encode(),
                    value=_value(r),
                    headers=[(k, str(v).encode()) for k, v in r.headers.items()],
                )
                for r in todo
            ]
            if futures:
                self._producer.flush(timeout=30)
            for f in futures:
                f.get(timeout=30)
            failpoint("outbox.after_send")
            s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(sent_at=utcnow())
            )
        self.sent += len(rows) - len(already)
        return len(rows)

    def _already_sent(self, rows: Sequence[OutboxMessage]) -> set[int]:
        """Ids of ``rows`` whose message (same topic, key and bytes) is already on the topic."""
        found: set[int] = set()
        by_topic: dict[str, list[OutboxMessage]] = {}
        for r in rows:
            by_topic.setdefault(r.topic, []).append(r)
        try:
            for topic, group in by_topic.items():
                wanted: dict[tuple[bytes, bytes], list[int]] = {}
                for r in group:
                    wanted.setdefault((r.key.encode(), _value(r)), []).append(r.id)
                left = len(group)
                for record in self._probe.records_since(topic, min(r.created_at for r in group)):
                    ids = wanted.get((record.key, record.value))
                    if ids:
                        found.add(ids.pop(0))
                        left -= 1
                        if not left:
                            break
        finally:
            self._probe.close()  # needed once per start or failure: no connection kept open
        return found


def _value(row: OutboxMessage) -> bytes:
    return json.dumps(row.value).encode()
