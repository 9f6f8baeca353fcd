"""Topic names and creation. Partition count is fixed at creation (Tansu has no CreatePartitions)."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from safety.topics import (
    ALL_TOPICS,
    DEAD_LETTERS,
    FEED_PUBLISH,
    FEED_RELABEL,
    FEED_TAKEDOWN,
    MODERATION_REVIEW,
    OUTCOME_TOPICS,
    VIDEOS_GENERATED,
    VIDEOS_REJECTED,
)

__all__ = [
    "ALL_TOPICS",
    "DEAD_LETTERS",
    "FEED_PUBLISH",
    "FEED_RELABEL",
    "FEED_TAKEDOWN",
    "MODERATION_REVIEW",
    "OUTCOME_TOPICS",
    "VIDEOS_GENERATED",
    "VIDEOS_REJECTED",
    "ensure_topics",
]


def ensure_topics(bootstrap: str, partitions: int = 4, names: Iterable[str] = ALL_TOPICS) -> list[str]:
    """Create missing topics; returns those created. Existing topics are left as they are."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        existing = set(admin.list_topics())
        wanted = [n for n in names if n not in existing]
        created = []
        for name in wanted:
            try:
                admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
