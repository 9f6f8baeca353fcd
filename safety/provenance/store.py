"""Reads and writes of provenance records, each one short transaction."""

from __future__ import annotations

from sqlalchemy import select

from safety.provenance.models import ProvenanceRecord
from safety.store.db import Database

__all__ = ["ProvenanceStore"]


class ProvenanceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, row: ProvenanceRecord) -> ProvenanceRecord:
        """Insert or replace by watermark id: a retried publish of one decision rewrites its row."""
        with self.db.session() as s:
            return s.merge(row)

    def get(self, watermark_id: str) -> ProvenanceRecord | None:
        with self.db.session() as s:
            return s.get(ProvenanceRecord, watermark_id)

    def for_video(self, video_id: str) -> list[ProvenanceRecord]:
        """All records of a video, newest first (a video re-published under a new policy has several)."""
        with self.db.session() as s:
            rows = s.scalars(
                select(ProvenanceRecord)
                .where(ProvenanceRecord.video_id == video_id)
                .order_by(ProvenanceRecord.signed_at.desc())
            )
            return list(rows)

    def latest_for_video(self, video_id: str) -> ProvenanceRecord | None:
        rows = self.for_video(video_id)
        return rows[0] if rows else None
