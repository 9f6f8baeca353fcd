"""The composition root: settings -> database, registries, pipeline, publisher and Kafka clients.

The worker, the API (its outbox relay), the CLI and the demo are all built here. It is the only
module of ``safety`` allowed to import ``streams`` (import-linter contract in pyproject.toml):
the rest of the service knows Kafka only through what this module hands it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kafka import KafkaProducer

from safety.config import Settings
from safety.runtime import (
    Runtime,
    build_pipeline,
    build_publisher,
    build_reconciler,
    build_runtime,
    open_database,
)
from safety.store import Database
from streams import LocalBroker, Worker, WorkerConfig, ensure_topics, make_producer
from streams.doctor import broker_checks as _broker_checks
from streams.doctor import codec_checks as _codec_checks
from streams.fetch_errors import FetchUnreadableError
from streams.outbox import OutboxRelay

if TYPE_CHECKING:
    from fastapi import FastAPI

    from safety.publishing import Publisher

__all__ = [
    "FetchUnreadableError",
    "OutboxRelay",
    "Runtime",
    "Worker",
    "broker_checks",
    "build_pipeline",
    "build_publisher",
    "build_runtime",
    "create_api",
    "ensure_topics",
    "local_broker",
    "open_database",
    "outbox_relay",
    "producer",
    "run_worker",
    "worker_for",
]

log = logging.getLogger("feedguard")


def worker_for(settings: Settings, runtime: Runtime, idle_exit_s: float | None = None) -> Worker:
    """A consumer-group worker deciding with ``runtime``'s moderator."""
    return Worker(
        WorkerConfig(
            bootstrap=settings.kafka_bootstrap,
            group_id=settings.group_id,
            session_timeout_ms=settings.session_timeout_ms,
            commit_every=settings.commit_every,
            max_attempts=settings.max_attempts,
            idle_exit_s=idle_exit_s,
            fetch_max_attempts=settings.fetch_max_attempts,
            unreadable_fetch=settings.unreadable_fetch,
        ),
        runtime.moderator,
    )


def run_worker(
    settings: Settings, runtime: Runtime, idle_exit_s: float | None = None, metrics_port: int | None = None
) -> int:
    """``feedguard worker``: create missing topics, consume until a signal (or idle exit), then
    close ``runtime``. Returns the exit status: 0, or 3 when an unreadable fetch stopped it
    (``FEEDGUARD_UNREADABLE_FETCH=fail``). The registry reconciler runs beside it unless
    ``reconcile_interval_s`` is 0."""
    reconciler = None
    try:
        if settings.reconcile_interval_s > 0:
            reconciler = build_reconciler(runtime.db, interval_s=settings.reconcile_interval_s).start()
        ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
        worker = worker_for(settings, runtime, idle_exit_s)
        worker.install_signal_handlers()
        if metrics_port:
            worker.metrics.serve(metrics_port, health=worker.health)
        log.info(
            "worker %s consuming from %s as group %s (policy %s)",
            runtime.moderator.worker_id,
            settings.kafka_bootstrap,
            settings.group_id,
            runtime.pipeline.policy_version,
        )
        try:
            stats = worker.run()
        except FetchUnreadableError as exc:  # FEEDGUARD_UNREADABLE_FETCH=fail
            log.critical("worker stopped: %s", exc)
            return 3
        log.info("worker stopped: %s", stats)
        return 0
    finally:
        if reconciler is not None:
            reconciler.close()
        runtime.close()


def outbox_relay(settings: Settings, db: Database) -> OutboxRelay:
    """The relay sending what people decided (outbox rows) to Kafka; the caller starts/stops it."""
    return OutboxRelay(db, settings.kafka_bootstrap)


def create_api(
    settings: Settings, *, db: Database | None = None, publisher: Publisher | None = None
) -> FastAPI:
    """The HTTP app, with the outbox relay when ``settings.api_relay_outbox`` (the default)."""
    from safety.api.app import create_app

    relay = (lambda database: outbox_relay(settings, database)) if settings.api_relay_outbox else None
    return create_app(settings, publisher=publisher, db=db, relay=relay)


def producer(bootstrap: str) -> KafkaProducer:
    """An idempotent producer (acks=all), as the worker uses."""
    return make_producer(bootstrap)


@contextmanager
def local_broker(port: int | None = None, partitions: int = 4) -> Iterator[tuple[str, list[str]]]:
    """The local development broker (Tansu) on 127.0.0.1 with every topic created: yields its
    bootstrap address and the topics it had to create."""
    with LocalBroker(port=port) as broker:
        yield broker.bootstrap, ensure_topics(broker.bootstrap, partitions)


def broker_checks(bootstrap: str, topics: Iterable[str], timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """``feedguard doctor``'s Kafka checks: codecs, broker reachable, topics and their partitions."""
    return [*_codec_checks(), *_broker_checks(bootstrap, topics, timeout_s)]
