"""Kafka topics, the consumer/producer loop, dead letters and the local development broker."""

from streams.broker import LocalBroker, free_port, tansu_binary
from streams.serde import PoisonEvent, parse_event
from streams.topics import ALL_TOPICS, OUTCOME_TOPICS, ensure_topics
from streams.worker import Worker, WorkerConfig, WorkerStats, make_producer

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
