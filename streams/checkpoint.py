"""What the consumer loop has done since its last commit (as in quix-streams, the loop owns it)."""

from __future__ import annotations

from typing import Any

from kafka.structs import TopicPartition


class Checkpoint:
    """Offsets processed since the last commit and the outcomes produced for them."""

    def __init__(self) -> None:
        self.first: dict[TopicPartition, int] = {}  # where to rewind to if this checkpoint fails
        self.offsets: dict[TopicPartition, int] = {}
        self.pending: list[tuple[str, Any]] = []  # (decision_id, produce future or None)
        self.count = 0

    def add(self, tp: TopicPartition, next_offset: int) -> None:
        self.first.setdefault(tp, next_offset - 1)
        self.offsets[tp] = next_offset
        self.count += 1

    def empty(self) -> bool:
        return not self.offsets and not self.pending
