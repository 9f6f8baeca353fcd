"""The unit every entry point shares: an event in, one stored decision out (idempotent)."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from safety.events import VideoGenerated
from safety.outcomes import outbound, to_row
from safety.pipeline import Pipeline, PipelineResult
from safety.store import DecisionRow, OutboxMessage, Repository

Recorder = Callable[[Session, DecisionRow, PipelineResult], None]
"""Stores the result's artifacts (e.g. likeness matches) in the decision's own transaction."""


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Handled:
    row: DecisionRow
    fresh: bool  # False: an earlier delivery decided it (redelivery or a racing worker)
    message: OutboxMessage | None = None  # the outcome to announce, stored with the decision


class Moderator:
    """Decide once per (video, policy version); later deliveries get the stored decision."""

    def __init__(
        self,
        pipeline: Pipeline,
        repo: Repository,
        worker_id: str | None = None,
        recorders: Sequence[Recorder] = (),
    ) -> None:
        self.pipeline = pipeline
        self.repo = repo
        self.worker_id = worker_id or default_worker_id()
        self.recorders = list(recorders)

    def handle(self, event: VideoGenerated) -> Handled:
        existing = self.repo.get_decision(event.video_id, self.pipeline.policy_version)
        if existing is not None:
            return Handled(existing, fresh=False, message=self.repo.outcome_message(existing.id))
        result = self.pipeline.moderate(event)

        def record_extras(session: Session, row: DecisionRow) -> None:
            for recorder in self.recorders:
                recorder(session, row, result)

        snap = result.snapshot
        stored = self.repo.record_decision(
            event,
            to_row(event, result, self.worker_id),
            record_extras,
            announce=lambda row: outbound(row, event.creator.id),
            snapshot=(snap.sha256, snap.size) if snap is not None else None,
        )
        return Handled(stored.row, fresh=stored.created, message=stored.message)

    def mark_emitted(self, decision_ids: list[str]) -> None:
        """The worker's checkpoint: these decisions' outcome messages are on their topics."""
        self.repo.mark_emitted(decision_ids)
