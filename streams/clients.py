"""The worker's settings, counters and Kafka clients: producer, group consumer, and the probe that
reads a topic back before a recovered outcome is produced again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError, UnsupportedVersionError
from kafka.structs import TopicPartition
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from streams.fetch_errors import UnreadablePolicy

LOOKBACK = timedelta(minutes=2)
"""How far before a decision (or outbox row) was stored its message is looked for: producer clocks
may differ from the clock that stamped the row by this much."""


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
    fetch_max_attempts: int = 5  # failed fetches at one position before the policy acts
    unreadable_fetch: UnreadablePolicy = "dead_letter"  # see streams.fetch_errors


@dataclass
class WorkerStats:
    processed: int = 0
    decided: int = 0
    replayed: int = 0
    emitted: int = 0
    dead_lettered: int = 0
    retries: int = 0
    found_on_topic: int = 0  # recovered decisions whose outcome was already produced
    checkpoint_failures: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


def is_infrastructure_error(exc: BaseException) -> bool:
    """The database or the broker is unreachable or failing: retry without limit, never DLQ.

    Errors about the event's own data (a constraint, a value the column refuses, a message too
    large for the broker) are not: they are retried ``max_attempts`` times, then dead-lettered.
    """
    if isinstance(exc, IntegrityError | DataError):
        return False
    if isinstance(exc, DBAPIError | PoolTimeoutError):
        return True
    return isinstance(exc, KafkaError) and not isinstance(exc, MessageSizeTooLargeError)


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


class TopicProbe:
    """Reads a topic back from a point in time (no consumer group, nothing committed).

    The recovery paths use it to ask "is this message already there?" before producing it again.
    It is only called for decisions or outbox rows a crash or a failed checkpoint left unmarked,
    and reads only what was appended since shortly before they were stored.
    """

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._consumer: KafkaConsumer | None = None

    def records_since(self, topic: str, since: datetime, timeout_s: float = 30.0) -> Iterator[Any]:
        """Every record of ``topic`` appended since about ``since - LOOKBACK`` (all partitions)."""
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
            )
        consumer = self._consumer
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        if not tps:
            return
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        start_ms = max(0, int((since - LOOKBACK).timestamp() * 1000))
        try:
            # None (Kafka) or a negative timestamp (Tansu): nothing at or after that time.
            start = {
                tp: found.offset
                for tp, found in consumer.offsets_for_times({tp: start_ms for tp in tps}).items()
                if found is not None and found.timestamp >= 0
            }
        except UnsupportedVersionError:
            start = dict(consumer.beginning_offsets(tps))
        if not start:
            return
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        # The fetch high watermark says where a partition ends (Tansu's ListOffsets "latest" is
        # wrong after batched produces, see streams.metrics).
        todo = set(start)
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise KafkaTimeoutError(f"reading {topic} back did not finish within {timeout_s:g} s")
            for records in consumer.poll(timeout_ms=200).values():
                yield from records
            for tp in list(todo):
                high = consumer.highwater(tp)
                if high is not None and consumer.position(tp) >= high:
                    todo.discard(tp)

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close(autocommit=False)
