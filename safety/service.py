"""The unit every entry point shares: an event in, one stored decision out (idempotent)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from safety.events import VideoGenerated
from safety.outcomes import to_row
from safety.pipeline import Pipeline
from safety.store import DecisionRow, Repository


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Handled:
    row: DecisionRow
    fresh: bool  # False: an earlier delivery decided it (redelivery or a racing worker)


class Moderator:
    """Decide once per (video, policy version); later deliveries get the stored decision."""

    def __init__(self, pipeline: Pipeline, repo: Repository, worker_id: str | None = None) -> None:
        self.pipeline = pipeline
        self.repo = repo
        self.worker_id = worker_id or default_worker_id()

    def handle(self, event: VideoGenerated) -> Handled:
        existing = self.repo.get_decision(event.video_id, self.pipeline.policy_version)
        if existing is not None:
            return Handled(existing, fresh=False)
        result = self.pipeline.moderate(event)
        stored = self.repo.record_decision(event, to_row(event, result, self.worker_id))
        return Handled(stored.row, fresh=stored.created)
