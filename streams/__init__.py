"""Kafka topics, the consumer/producer loop, dead letters and the local development broker."""

from streams import fetchguard
from streams.broker import LocalBroker, free_port, tansu_binary
from streams.clients import WorkerConfig, WorkerStats, make_producer
from streams.serde import PoisonEvent, parse_event
from streams.topics import ALL_TOPICS, OUTCOME_TOPICS, ensure_topics
from streams.worker import Worker

__all__ = [
    "ALL_TOPICS",
    "OUTCOME_TOPICS",
    "LocalBroker",
    "PoisonEvent",
    "Worker",
    "WorkerConfig",
    "WorkerStats",
    "ensure_topics",
    "free_port",
    "make_producer",
    "parse_event",
    "tansu_binary",
]

# Every consumer of this package (worker, topic probe, outbox relay, demo) gets an error from poll()
# instead of kafka-python's endless loop on a batch it cannot decode (see streams/fetchguard.py).
fetchguard.install()
