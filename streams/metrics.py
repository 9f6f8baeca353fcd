"""Worker metrics for Prometheus (per-stage latency, decisions by outcome, consumer lag, fetch
failures) and the worker's small HTTP endpoint: ``/metrics`` and ``/healthz``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

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
        self.fetch_errors = Counter(
            "feedguard_fetch_errors_total",
            "Fetches that could not be decoded or read, by partition and error",
            ["topic", "partition", "error"],
            registry=self.registry,
        )
        self.fetch_skipped = Counter(
            "feedguard_fetch_skipped_batches_total",
            "Unreadable batches dead-lettered and skipped (FEEDGUARD_UNREADABLE_FETCH=dead_letter)",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.partition_stalled = Gauge(
            "feedguard_partition_stalled",
            "1 while a partition's fetch keeps failing",
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

    def serve(
        self, port: int, host: str = "127.0.0.1", health: Callable[[], dict[str, Any]] | None = None
    ) -> ThreadingHTTPServer:
        """``/metrics`` for Prometheus and ``/healthz`` (200 when ``health()['status'] == 'ok'``,
        else 503 with the details) on ``host:port``, in a daemon thread."""
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/healthz"):
                    body = health() if health else {"status": "ok"}
                    self._send(
                        200 if body.get("status") == "ok" else 503,
                        "application/json",
                        json.dumps(body).encode(),
                    )
                else:
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))

            def _send(self, code: int, ctype: str, payload: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # scrapes are not news
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
        return server
