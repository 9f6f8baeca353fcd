"""What the worker does when a partition's fetch cannot be decoded or read.

Never a hot loop: the partition is paused for a back-off step (the other partitions keep
flowing), each failure is counted (``feedguard_fetch_errors_total``) and shown in the worker's
``/healthz``, and after ``fetch_max_attempts`` failures at the same position the documented policy
applies (``FEEDGUARD_UNREADABLE_FETCH``):

- ``dead_letter`` (default): the batch is written to ``videos.generated.dlq`` with its partition,
  first and last offset and raw bytes (so nothing is lost), and the partition moves past it;
- ``fail``: the worker stops with :class:`FetchUnreadableError` and exits non-zero, naming the
  partition, the offsets and the fix.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from kafka.structs import TopicPartition

from streams.fetchguard import UnreadableFetch
from streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)

UnreadablePolicy = Literal["dead_letter", "fail"]

FIX = (
    "install the Kafka client's codec extras (pip install 'kafka-python[crc32c,lz4,snappy,zstd]', "
    "declared by feedguard) and check the producer; FEEDGUARD_UNREADABLE_FETCH=dead_letter moves past "
    "such batches after recording them in videos.generated.dlq"
)


class FetchUnreadableError(RuntimeError):
    """A partition's fetch kept failing and the policy is ``fail``: the worker stops loudly."""


@dataclass
class Stall:
    offset: int
    attempts: int
    error: str
    since: float  # wall clock, for /healthz
    resume_at: float  # monotonic


class FetchFailures:
    """Per-partition failure state: back-off, attempts, what ``/healthz`` reports."""

    def __init__(
        self,
        metrics: WorkerMetrics,
        max_attempts: int,
        backoff_s: tuple[float, ...],
        policy: UnreadablePolicy,
    ) -> None:
        self.metrics = metrics
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.policy = policy
        self.stalls: dict[TopicPartition, Stall] = {}
        self.skipped: list[dict[str, Any]] = []

    def failed(self, info: UnreadableFetch, exc: BaseException) -> bool:
        """Record one failure; True when the attempts are spent and the policy must act now."""
        tp = info.tp
        error = f"{type(exc).__name__}: {exc}"
        self.metrics.fetch_errors.labels(tp.topic, str(tp.partition), type(exc).__name__).inc()
        self.metrics.partition_stalled.labels(tp.topic, str(tp.partition)).set(1)
        stall = self.stalls.get(tp)
        if stall is None or stall.offset != info.offset:
            stall = self.stalls[tp] = Stall(info.offset, 0, error, time.time(), 0.0)
        stall.attempts += 1
        stall.error = error
        if stall.attempts >= self.max_attempts:
            return True
        delay = self.backoff_s[min(stall.attempts - 1, len(self.backoff_s) - 1)]
        stall.resume_at = time.monotonic() + delay
        log.warning(
            "fetch of %s[%d]@%d failed (attempt %d of %d), partition paused %.1f s: %s",
            tp.topic,
            tp.partition,
            info.offset,
            stall.attempts,
            self.max_attempts,
            delay,
            error,
        )
        return False

    def give_up(self, info: UnreadableFetch, exc: BaseException) -> None:
        """The attempts are spent: raise under ``fail``; under ``dead_letter`` note the skip."""
        tp = info.tp
        where = f"{tp.topic}[{tp.partition}] offsets {info.first_offset}..{info.last_offset}"
        if self.policy == "fail":
            raise FetchUnreadableError(
                f"cannot read {where} after {self.max_attempts} attempts ({type(exc).__name__}: {exc}); "
                f"fix: {FIX}"
            ) from exc
        log.error("skipping unreadable batch %s after %d attempts: %s", where, self.max_attempts, exc)
        self.metrics.fetch_skipped.labels(tp.topic, str(tp.partition)).inc()
        self.skipped.append(
            {"partition": tp.partition, "first_offset": info.first_offset, "last_offset": info.last_offset}
        )
        self.clear(tp)

    def due(self, now: float | None = None) -> list[TopicPartition]:
        """Paused partitions whose back-off has run out (they may be fetched again)."""
        now = time.monotonic() if now is None else now
        return [tp for tp, s in self.stalls.items() if s.resume_at and s.resume_at <= now]

    def resumed(self, tp: TopicPartition) -> None:
        if tp in self.stalls:
            self.stalls[tp].resume_at = 0.0

    def clear(self, tp: TopicPartition) -> None:
        """The partition moved past its failure (records arrived, or the batch was skipped)."""
        if self.stalls.pop(tp, None) is not None:
            self.metrics.partition_stalled.labels(tp.topic, str(tp.partition)).set(0)

    def health(self) -> dict[str, Any]:
        stalled = [
            {
                "topic": tp.topic,
                "partition": tp.partition,
                "offset": s.offset,
                "attempts": s.attempts,
                "max_attempts": self.max_attempts,
                "error": s.error,
                "since": s.since,
                "policy": self.policy,
            }
            for tp, s in sorted(self.stalls.items())
        ]
        return {"stalled_partitions": stalled, "skipped_batches": list(self.skipped[-20:])}
