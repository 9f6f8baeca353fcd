"""Decisions keep the context facts they were made on, and a shadow policy's verdict.

Both make `feedguard policy replay` possible without re-decoding any video.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("context", J))
        batch.add_column(sa.Column("shadow_decision", J))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("shadow_decision")
        batch.drop_column("context")
