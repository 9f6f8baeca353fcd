"""The consumer loop: poll -> moderate -> produce -> flush -> mark emitted -> commit.

At-least-once with an idempotent core: a decision is stored once per (video, policy version)
before anything is produced, and a redelivered event whose outcome was already emitted is
committed without producing again. The loop owns commits (as in quix-streams): outcomes are
flushed before the offsets that produced them are committed, and on partition revocation.
"""

from __future__ import annotations

import base64
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata, TopicPartition
from sqlalchemy.exc import DBAPIError

from safety.events import DeadLetter, VideoGenerated
from safety.logs import video_context
from safety.outcomes import outbound
from safety.service import Handled, Moderator
from streams.metrics import WorkerMetrics
from streams.serde import PoisonEvent, encode, parse_event
from streams.topics import DEAD_LETTERS, VIDEOS_GENERATED

log = logging.getLogger(__name__)


@dataclass
class WorkerConfig:
    bootstrap: str
    group_id: str = "feedguard-moderation"
    session_timeout_ms: int = 6000
    commit_every: int = 1
    max_attempts: int = 3
    idle_exit_s: float | None = None
    poll_timeout_ms: int = 500
    max_poll_records: int = 8
    backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)


@dataclass
class WorkerStats:
    processed: int = 0
    decided: int = 0
    replayed: int = 0
    emitted: int = 0
    dead_lettered: int = 0
    retries: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


ErrorCallback = Callable[[BaseException, Any], bool]
"""Called with an unexpected error and the Kafka record; return True to dead-letter it now."""


def make_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        retries=5,
        max_request_size=2 * 1024 * 1024,
    )


def make_consumer(cfg: WorkerConfig) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=cfg.bootstrap,
        group_id=cfg.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=cfg.session_timeout_ms,
        heartbeat_interval_ms=max(300, cfg.session_timeout_ms // 3),
        max_poll_records=cfg.max_poll_records,
        max_poll_interval_ms=300_000,
    )


class _Checkpoint:
    """Offsets processed since the last commit and the outcomes produced for them."""

    def __init__(self) -> None:
        self.offsets: dict[TopicPartition, int] = {}
        self.pending: list[tuple[str, Any]] = []  # (decision_id, produce future)
        self.count = 0

    def add(self, tp: TopicPartition, next_offset: int) -> None:
        self.offsets[tp] = next_offset
        self.count += 1

    def empty(self) -> bool:
        return not self.offsets and not self.pending


class Worker:
    """One consumer-group member. ``run()`` returns when stopped (signal, ``stop()``, idle exit)."""

    def __init__(
        self,
        cfg: WorkerConfig,
        moderator: Moderator,
        *,
        on_error: ErrorCallback | None = None,
        on_handled: Callable[[Handled], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.moderator = moderator
        self.on_error = on_error
        self.on_handled = on_handled
        self.stats = WorkerStats()
        self.assigned: set[TopicPartition] = set()
        self._stop = threading.Event()
        self._attempts: dict[tuple[TopicPartition, int], int] = {}
        self._checkpoint = _Checkpoint()
        self._consumer: KafkaConsumer | None = None
        self.metrics = WorkerMetrics()
        self._producer: KafkaProducer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to stop after the event in hand (thread- and signal-safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: finishing the event in hand, then stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> WorkerStats:
        self._consumer = make_consumer(self.cfg)
        self._producer = make_producer(self.cfg.bootstrap)
        worker = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
                worker._commit()  # hand over only what is produced and recorded
                worker.assigned -= set(revoked)

            def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
                worker.assigned |= set(assigned)
                log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))

        self._consumer.subscribe([VIDEOS_GENERATED], listener=Listener())
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                batch = self._consumer.poll(timeout_ms=self.cfg.poll_timeout_ms)
                if not batch:
                    if (
                        self.cfg.idle_exit_s is not None
                        and time.monotonic() - idle_since > self.cfg.idle_exit_s
                    ):
                        log.info("idle for %.1f s: exiting", self.cfg.idle_exit_s)
                        break
                    continue
                self._process_batch(batch)
                self.metrics.update_lag(self._consumer, self.assigned)
                idle_since = time.monotonic()  # idle counts from when the work ended, not began
            self._commit()
        finally:
            self._close()
        return self.stats

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False)
            except Exception:  # closing after a broker loss must not mask the real error
                log.exception("consumer close failed")
        if self._producer is not None:
            self._producer.close(timeout=10)

    # -- the loop body ---------------------------------------------------------------------
    def _process_batch(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """Process records in order; whatever is left unprocessed is rewound, on every partition."""
        assert self._consumer is not None
        left = {tp: list(records) for tp, records in batch.items()}
        try:
            for tp, records in left.items():
                while records:
                    if self._stop.is_set() or not self._process_guarded(tp, records[0]):
                        return
                    records.pop(0)
                    if self._checkpoint.count >= self.cfg.commit_every:
                        self._commit()
        finally:
            for tp, records in left.items():
                if records and tp in self.assigned:
                    self._consumer.seek(tp, records[0].offset)

    def _process_guarded(self, tp: TopicPartition, record: Any) -> bool:
        """Process one record; False means 'retry it later' (the batch stops here)."""
        try:
            self._process(record)
        except DBAPIError as exc:
            # Infrastructure, not the event: keep the event, back off, retry without limit.
            self._retry_later(tp, record.offset, exc, dead_letter_after=None)
            return False
        except Exception as exc:
            dlq_now = self.on_error(exc, record) if self.on_error else False
            if not (dlq_now or self._retry_later(tp, record.offset, exc, self.cfg.max_attempts)):
                return False
            self._dead_letter(record, exc, self._attempts.pop((tp, record.offset), 1))
            self._checkpoint.add(tp, record.offset + 1)
        self._attempts.pop((tp, record.offset), None)
        return True

    def _retry_later(
        self, tp: TopicPartition, offset: int, exc: BaseException, dead_letter_after: int | None
    ) -> bool:
        """Rewind to ``offset`` and back off; returns True when the event should be dead-lettered."""
        assert self._consumer is not None
        key = (tp, offset)
        attempts = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempts
        if dead_letter_after is not None and attempts >= dead_letter_after:
            return True
        self.stats.retries += 1
        delay = self.cfg.backoff_s[min(attempts - 1, len(self.cfg.backoff_s) - 1)]
        log.warning(
            "event %s[%d]@%d failed (attempt %d), retrying in %.1f s: %s",
            tp.topic,
            tp.partition,
            offset,
            attempts,
            delay,
            exc,
        )
        self._commit_quietly()
        self._stop.wait(delay)
        return False

    def _process(self, record: Any) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self.stats.processed += 1
        try:
            event = parse_event(record.value)
        except PoisonEvent as exc:
            self._dead_letter(record, exc, attempts=1)
            self._checkpoint.add(tp, record.offset + 1)
            return
        with video_context(event.video_id):
            handled = self.moderator.handle(event)
            self.metrics.observe(handled)
            if handled.fresh:
                self.stats.decided += 1
            else:
                self.stats.replayed += 1
            row = handled.row
            self.stats.by_outcome[row.outcome] = self.stats.by_outcome.get(row.outcome, 0) + 1
            if row.emitted_at is None:
                self._emit(event, handled)
            else:
                log.info("already decided and emitted (decision %s): not re-emitting", row.id)
            log.info(
                "decided %s%s (%s)",
                row.outcome,
                f" {row.audience}" if row.audience else "",
                ", ".join(row.reasons) or "no reasons",
            )
        self._checkpoint.add(tp, record.offset + 1)
        if self.on_handled is not None:
            self.on_handled(handled)

    def _emit(self, event: VideoGenerated, handled: Handled) -> None:
        assert self._producer is not None
        topic, message = outbound(handled.row, event.creator.id)
        future = self._producer.send(
            topic,
            key=event.video_id.encode(),
            value=encode(message),
            headers=[
                ("decision_id", handled.row.id.encode()),
                ("schema", str(getattr(message, "schema_", "")).encode()),
            ],
        )
        self._checkpoint.pending.append((handled.row.id, future))

    def _dead_letter(self, record: Any, exc: BaseException, attempts: int) -> None:
        assert self._producer is not None
        self.stats.dead_lettered += 1
        letter = DeadLetter(
            error=str(exc)[:4000],
            error_type=type(exc).__name__,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            key_b64=base64.b64encode(record.key).decode() if record.key is not None else None,
            value_b64=base64.b64encode(record.value or b"").decode(),
            attempts=attempts,
            failed_at=datetime.now(UTC),
        )
        log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc)
        future = self._producer.send(DEAD_LETTERS, key=record.key, value=encode(letter))
        self._checkpoint.pending.append(("", future))

    # -- checkpoint --------------------------------------------------------------------------
    def _commit(self) -> None:
        """Flush outcomes, record them as emitted, then commit the offsets that produced them."""
        cp = self._checkpoint
        if cp.empty() or self._consumer is None or self._producer is None:
            return
        self._producer.flush(timeout=30)
        for _, future in cp.pending:
            future.get(timeout=30)  # raises if the broker refused: nothing gets committed
        emitted = [decision_id for decision_id, _ in cp.pending if decision_id]
        self.moderator.repo.mark_emitted(emitted)
        self.stats.emitted += len(emitted)
        if cp.offsets:
            self._consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in cp.offsets.items()})
        self._checkpoint = _Checkpoint()

    def _commit_quietly(self) -> None:
        try:
            self._commit()
        except Exception:
            log.exception("checkpoint failed; the uncommitted events will be redelivered")
            self._checkpoint = _Checkpoint()
