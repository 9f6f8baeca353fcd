"""The consumer loop: poll -> moderate -> produce -> flush -> mark emitted -> commit.

At-least-once with an idempotent core: a decision is stored once per (video, policy version)
before anything is produced, and a redelivered event whose outcome was already emitted is
committed without producing again. The loop owns commits (as in quix-streams): outcomes are
flushed before the offsets that produced them are committed, and on partition revocation.

Faults (each proved by a test in ``tests/reliability``, see docs/RELIABILITY.md):

- an unreachable database or broker is never the event's fault: the event is kept (never
  dead-lettered), the loop rewinds to the first event not yet checkpointed and backs off (capped
  at the last ``backoff_s`` step), so consumption pauses until the dependency is back;
- a checkpoint that fails (flush, ``mark_emitted`` or the offset commit) is rewound the same way
  instead of stopping the worker, and the producer is replaced so nothing of it stays in flight;
- a stored decision not yet marked emitted (a crash or a failed checkpoint after the produce) is
  looked up on its output topic before it is produced again, so a redelivery does not announce
  it twice.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from safety.events import VideoGenerated
from safety.faults import failpoint
from safety.logs import video_context
from safety.outcomes import outbound
from safety.service import Handled, Moderator
from safety.store import DecisionRow
from streams import dead_letters, fetchguard
from streams.checkpoint import Checkpoint
from streams.clients import (
    TopicProbe,
    WorkerConfig,
    WorkerStats,
    is_infrastructure_error,
    make_consumer,
    make_producer,
)
from streams.fetch_errors import FetchFailures
from streams.metrics import WorkerMetrics
from streams.serde import PoisonEvent, encode, parse_event
from streams.topics import DEAD_LETTERS, VIDEOS_GENERATED

log = logging.getLogger(__name__)


ErrorCallback = Callable[[BaseException, Any], bool]
"""Called with an unexpected error and the Kafka record; return True to dead-letter it now."""


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
        self._checkpoint = Checkpoint()
        self._rewind: dict[TopicPartition, int] = {}
        self._checkpoint_failures = 0
        self._consumer: KafkaConsumer | None = None
        self.metrics = WorkerMetrics()
        self.fetch_failures = FetchFailures(
            self.metrics, cfg.fetch_max_attempts, cfg.backoff_s, cfg.unreadable_fetch
        )
        self._producer: KafkaProducer | None = None
        self._probe = TopicProbe(cfg.bootstrap)

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

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` serves: ``ok`` unless a partition's fetch keeps failing."""
        detail = self.fetch_failures.health()
        return {"status": "degraded" if detail["stalled_partitions"] else "ok", **detail}

    def run(self) -> WorkerStats:
        fetchguard.install()
        self._consumer = make_consumer(self.cfg)
        self._producer = make_producer(self.cfg.bootstrap)
        worker = self

        class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
            def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
                worker._checkpoint_or_rewind()  # hand over only what is produced and recorded
                worker.assigned -= set(revoked)
                for tp in revoked:  # the next owner starts from the committed offset anyway
                    worker._rewind.pop(tp, None)

            def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
                worker.assigned |= set(assigned)
                log.info("assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))

        self._consumer.subscribe([VIDEOS_GENERATED], listener=Listener())
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                self._resume_due()
                try:
                    batch = self._consumer.poll(timeout_ms=self.cfg.poll_timeout_ms)
                except Exception as exc:
                    info = fetchguard.unreadable(exc)
                    if info is not None:
                        self._unreadable(info, exc)
                        idle_since = time.monotonic()
                        continue
                    if not isinstance(exc, KafkaError):
                        raise
                    log.warning("poll failed, retrying: %s: %s", type(exc).__name__, exc)
                    self._stop.wait(self.cfg.backoff_s[-1])
                    continue
                for tp in batch:
                    self.fetch_failures.clear(tp)
                if not batch:
                    # An idle worker still reports its lag (0, or what a stalled partition holds).
                    self.metrics.update_lag(self._consumer, self.assigned)
                    if self.fetch_failures.stalls:
                        idle_since = time.monotonic()  # a stalled partition is not idle
                    elif (
                        self.cfg.idle_exit_s is not None
                        and time.monotonic() - idle_since > self.cfg.idle_exit_s
                    ):
                        log.info("idle for %.1f s: exiting", self.cfg.idle_exit_s)
                        break
                    continue
                self._process_batch(batch)
                self.metrics.update_lag(self._consumer, self.assigned)
                idle_since = time.monotonic()  # idle counts from when the work ended, not began
            self._checkpoint_or_rewind()
        finally:
            self._close()
        return self.stats

    def _resume_due(self) -> None:
        assert self._consumer is not None
        for tp in self.fetch_failures.due():
            self.fetch_failures.resumed(tp)
            if tp in self.assigned:
                self._consumer.resume(tp)

    def _unreadable(self, info: fetchguard.UnreadableFetch, exc: BaseException) -> None:
        """A fetch that cannot be decoded: pause the partition, or apply the policy when spent."""
        assert self._consumer is not None
        tp = info.tp
        if not self.fetch_failures.failed(info, exc):
            if tp in self.assigned:
                self._consumer.pause(tp)
            return
        self.fetch_failures.give_up(info, exc)  # raises FetchUnreadableError under "fail"
        self._dead_letter_batch(info, exc)
        self._checkpoint.first.setdefault(tp, info.first_offset)
        self._checkpoint.add(tp, info.last_offset + 1)
        if tp in self.assigned:
            self._consumer.seek(tp, info.last_offset + 1)
            self._consumer.resume(tp)
        self._checkpoint_or_rewind()

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close(autocommit=False)
            except Exception:  # closing after a broker loss must not mask the real error
                log.exception("consumer close failed")
        try:
            self._probe.close()
        except Exception:
            log.exception("topic probe close failed")
        if self._producer is not None:
            self._producer.close(timeout=10)

    def _producer_now(self) -> KafkaProducer:
        """The producer, re-created after a failed checkpoint threw the last one away."""
        if self._producer is None:
            self._producer = make_producer(self.cfg.bootstrap)
        return self._producer

    def _reset_producer(self) -> None:
        """Drop the producer with whatever it still holds: nothing of a failed checkpoint may be
        delivered later, behind the back of the recovery path that decides whether to re-send."""
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:
                log.debug("closing a broken producer failed", exc_info=True)

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
                    if self._checkpoint.count >= self.cfg.commit_every and not self._checkpoint_or_rewind():
                        self._stop.wait(self._checkpoint_backoff())
                        return
        finally:
            for tp, records in left.items():
                if records:
                    self._rewind_to(tp, records[0].offset)
            self._apply_rewinds()

    def _process_guarded(self, tp: TopicPartition, record: Any) -> bool:
        """Process one record; False means 'retry it later' (the batch stops here)."""
        key = (tp, record.offset)
        try:
            self._process(record)
        except Exception as exc:
            if is_infrastructure_error(exc):
                # Not the event's fault: keep it, back off, retry without limit.
                self._retry_later(tp, record.offset, exc, dead_letter_after=None)
                return False
            dlq_now = self.on_error(exc, record) if self.on_error else False
            if not (dlq_now or self._retry_later(tp, record.offset, exc, self.cfg.max_attempts)):
                return False
            try:
                self._dead_letter(record, exc, self._attempts.get(key, 1))
            except Exception as dlq_exc:  # the DLQ is unreachable too: keep the event
                self._retry_later(tp, record.offset, dlq_exc, dead_letter_after=None)
                return False
            self._checkpoint.add(tp, record.offset + 1)
        self._attempts.pop(key, None)
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
            "event %s[%d]@%d failed (attempt %d), retrying in %.1f s: %s: %s",
            tp.topic,
            tp.partition,
            offset,
            attempts,
            delay,
            type(exc).__name__,
            exc,
        )
        self._checkpoint_or_rewind()
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
            failpoint("worker.before_moderate")
            handled = self.moderator.handle(event)
            self.metrics.observe(handled)
            if handled.fresh:
                self.stats.decided += 1
            else:
                self.stats.replayed += 1
            row = handled.row
            self.stats.by_outcome[row.outcome] = self.stats.by_outcome.get(row.outcome, 0) + 1
            if row.emitted_at is not None:
                log.info("already decided and emitted (decision %s): not re-emitting", row.id)
            elif not handled.fresh and self._already_announced(event, row):
                log.info("decision %s is already on its topic: marked emitted, not produced again", row.id)
                self.stats.found_on_topic += 1
                self._checkpoint.pending.append((row.id, None))
            else:
                self._emit(event, handled)
            log.info(
                "decided %s%s (%s)",
                row.outcome,
                f" {row.audience}" if row.audience else "",
                ", ".join(row.reasons) or "no reasons",
            )
        self._checkpoint.add(tp, record.offset + 1)
        if self.on_handled is not None:
            self.on_handled(handled)

    def _already_announced(self, event: VideoGenerated, row: DecisionRow) -> bool:
        """Whether the stored decision's outcome is on its topic (produced before a crash or a
        failed checkpoint could mark it emitted). Only redeliveries of unmarked decisions ask."""
        topic, _ = outbound(row, event.creator.id)
        wanted = row.id.encode()
        return any(
            dict(r.headers or []).get("decision_id") == wanted
            for r in self._probe.records_since(topic, row.created_at)
        )

    def _emit(self, event: VideoGenerated, handled: Handled) -> None:
        """Send the outcome stored with the decision (its outbox row); decisions from before outbox
        rows existed are announced from the row itself."""
        stored = handled.message
        if stored is not None:
            topic, value = stored.topic, json.dumps(stored.value).encode()
            schema = str(stored.headers.get("schema", ""))
        else:
            topic, message = outbound(handled.row, event.creator.id)
            value, schema = encode(message), str(getattr(message, "schema_", ""))
        future = self._producer_now().send(
            topic,
            key=event.video_id.encode(),
            value=value,
            headers=[("decision_id", handled.row.id.encode()), ("schema", schema.encode())],
        )
        self._checkpoint.pending.append((handled.row.id, future))

    def _dead_letter_batch(self, info: fetchguard.UnreadableFetch, exc: BaseException) -> None:
        key, value = dead_letters.for_batch(info, exc, self.cfg.fetch_max_attempts)
        self._send_letter(key, value)

    def _dead_letter(self, record: Any, exc: BaseException, attempts: int) -> None:
        log.warning("dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc)
        self._send_letter(*dead_letters.for_record(record, exc, attempts))

    def _send_letter(self, key: bytes | None, value: bytes) -> None:
        future = self._producer_now().send(DEAD_LETTERS, key=key, value=value)
        self.stats.dead_lettered += 1
        self._checkpoint.pending.append(("", future))

    # -- checkpoint --------------------------------------------------------------------------
    def _commit(self) -> None:
        """Flush outcomes, record them as emitted, then commit the offsets that produced them."""
        cp = self._checkpoint
        if cp.empty() or self._consumer is None:
            return
        futures = [future for _, future in cp.pending if future is not None]
        if futures:
            self._producer_now().flush(timeout=30)
        for future in futures:
            future.get(timeout=30)  # raises if the broker refused: nothing gets committed
        failpoint("worker.after_produce")
        emitted = [decision_id for decision_id, _ in cp.pending if decision_id]
        self.moderator.mark_emitted(emitted)
        failpoint("worker.before_commit")
        if cp.offsets:
            self._consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in cp.offsets.items()})
        self.stats.emitted += len(emitted)
        self._checkpoint = Checkpoint()
        self._checkpoint_failures = 0

    def _checkpoint_or_rewind(self) -> bool:
        """Commit the checkpoint. If any step fails (broker or database away), rewind its
        partitions to their first uncommitted event and return False: those events come back,
        find their stored decisions, and are announced at most once (``_already_announced``)."""
        try:
            self._commit()
            return True
        except Exception as exc:
            cp, self._checkpoint = self._checkpoint, Checkpoint()
            self._checkpoint_failures += 1
            self.stats.checkpoint_failures += 1
            for tp, offset in cp.first.items():
                self._rewind_to(tp, offset)
            self._reset_producer()
            log.warning(
                "checkpoint failed (%s: %s): %d event(s) rewound for redelivery",
                type(exc).__name__,
                exc,
                cp.count,
            )
            return False

    def _checkpoint_backoff(self) -> float:
        steps = self.cfg.backoff_s
        return steps[min(self._checkpoint_failures - 1, len(steps) - 1)]

    def _rewind_to(self, tp: TopicPartition, offset: int) -> None:
        self._rewind[tp] = min(offset, self._rewind.get(tp, offset))

    def _apply_rewinds(self) -> None:
        assert self._consumer is not None
        rewind, self._rewind = self._rewind, {}
        for tp, offset in rewind.items():
            if tp in self.assigned:
                self._consumer.seek(tp, offset)
