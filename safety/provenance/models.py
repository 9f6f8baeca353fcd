"""The provenance record: how a watermark id or a video leads back to the signed manifest.

One row per published asset. ``watermark_id`` is the key because that is what survives when
the manifest does not (a re-encode or metadata strip keeps the invisible mark only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from safety.store.models import Base, JsonType, utcnow

__all__ = ["ProvenanceRecord"]


class ProvenanceRecord(Base):
    """A signed, published asset. No foreign key to ``videos``: publishing precedes the decision row."""

    __tablename__ = "provenance_records"

    watermark_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    video_id: Mapped[str] = mapped_column(String(128), index=True)
    decision_id: Mapped[str] = mapped_column(String(64), index=True)
    asset_uri: Mapped[str] = mapped_column(Text)
    manifest_json: Mapped[dict[str, Any]] = mapped_column(JsonType)  # the manifest store, as read back
    manifest_label: Mapped[str] = mapped_column(String(256))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    algorithm: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
