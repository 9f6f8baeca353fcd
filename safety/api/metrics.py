"""Prometheus metrics: HTTP latency from the app, queue depth and outcomes read at scrape time.

Pipeline stage latencies and consumer lag are exported by each worker (``--metrics-port``);
decisions by outcome are read here from the database so one scrape of the API shows the totals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from safety.review.queue import priority_level
from safety.store import DecisionRow, OutboxMessage, ReviewItem

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class _DbCollector:
    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "feedguard_review_queue_depth", "Open review items", labels=["kind", "priority"]
        )
        outcomes = GaugeMetricFamily(
            "feedguard_decisions", "Pipeline decisions stored, by outcome", labels=["outcome"]
        )
        pending = GaugeMetricFamily("feedguard_outbox_pending", "API events not yet relayed to Kafka")
        with self.state.db.session() as s:
            for kind, prio, n in s.execute(
                select(ReviewItem.kind, ReviewItem.priority, func.count())
                .where(ReviewItem.status.in_(("open", "escalated")))
                .group_by(ReviewItem.kind, ReviewItem.priority)
            ):
                depth.add_metric([kind, priority_level(prio)], n)
            for outcome, n in s.execute(
                select(DecisionRow.outcome, func.count()).group_by(DecisionRow.outcome)
            ):
                outcomes.add_metric([outcome], n)
            pending.add_metric(
                [],
                s.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                )
                or 0,
            )
        yield depth
        yield outcomes
        yield pending


class ApiMetrics:
    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.http = Histogram(
            "feedguard_http_request_seconds",
            "HTTP request latency",
            ["route", "status"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.registry.register(_DbCollector(state))


def render(state: Any) -> tuple[bytes, str]:
    metrics: ApiMetrics = state.extras["metrics"]
    return generate_latest(metrics.registry), CONTENT_TYPE_LATEST
