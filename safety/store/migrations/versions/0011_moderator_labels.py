"""Learning from moderators: a label per decision on a held item, and per-moderator exposure counters.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "moderator_labels",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("item_id", sa.String(36), nullable=False, index=True),
        sa.Column("video_id", sa.String(128), nullable=False, index=True),
        sa.Column("decision_id", sa.String(36), nullable=True),
        sa.Column("policy_version", sa.String(128), nullable=True),
        sa.Column("moderator_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False, index=True),
        sa.Column("audience", sa.String(16), nullable=True),
        sa.Column("reasons", J, nullable=False),
        sa.Column("hold_reasons", J, nullable=False),
        sa.Column("rules", J, nullable=False),
        sa.Column("signals", J, nullable=False),
        sa.Column("created_at", TS, nullable=False, index=True),
    )
    op.create_table(
        "moderator_exposure",
        sa.Column("moderator_id", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("moderator_id", "day", "kind", name="pk_moderator_exposure"),
    )


def downgrade() -> None:
    op.drop_table("moderator_exposure")
    op.drop_table("moderator_labels")
