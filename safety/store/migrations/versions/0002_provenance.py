"""Provenance records: watermark id -> published asset, its signed manifest and hash.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "provenance_records",
        sa.Column("watermark_id", sa.String(32), primary_key=True),
        sa.Column("video_id", sa.String(128), nullable=False, index=True),
        sa.Column("decision_id", sa.String(64), nullable=False, index=True),
        sa.Column("asset_uri", sa.Text, nullable=False),
        sa.Column("manifest_json", J, nullable=False),
        sa.Column("manifest_label", sa.String(256), nullable=False),
        sa.Column("signed_at", TS, nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("provenance_records")
