"""Worker metrics for Prometheus: per-stage latency, decisions by outcome, consumer lag."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class WorkerMetrics:
    """One registry per worker; ``serve(port)`` exposes it on 127.0.0.1 for scraping."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage = Histogram(
            "feedguard_pipeline_stage_seconds",
            "Time per pipeline stage",
            ["stage"],
            registry=self.registry,
            buckets=BUCKETS,
        )
        self.total = Histogram(
            "feedguard_pipeline_seconds", "Pipeline time per video", registry=self.registry, buckets=BUCKETS
        )
        self.decisions = Counter(
            "feedguard_worker_decisions_total",
            "Events handled, by outcome and freshness",
            ["outcome", "fresh"],
            registry=self.registry,
        )
        self.lag = Gauge(
            "feedguard_consumer_lag",
            "Messages behind the partition high watermark",
            ["topic", "partition"],
            registry=self.registry,
        )

    def observe(self, handled: Any) -> None:
        row = handled.row
        self.decisions.labels(row.outcome, str(bool(handled.fresh)).lower()).inc()
        if handled.fresh:
            for stage, ms in row.stage_ms.items():
                self.stage.labels(stage).observe(float(ms) / 1000)
            self.total.observe(sum(float(ms) for ms in row.stage_ms.values()) / 1000)

    def update_lag(self, consumer: Any, partitions: Iterable[Any]) -> None:
        """Lag from the fetch high watermark (Tansu's end_offsets are wrong after batches)."""
        for tp in partitions:
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = consumer.position(tp, timeout_ms=1000)
            except Exception:
                continue
            if position is not None:
                self.lag.labels(tp.topic, str(tp.partition)).set(max(0, high - position))

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
