"""Likeness authority: protected-figure matches wait for an admin (link requests), and the age
band of an account is the platform's fact (who set it, when).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("age_band", sa.String(16)))
    op.add_column("users", sa.Column("age_band_set_by", sa.String(128)))
    op.add_column("users", sa.Column("age_band_set_at", TS))
    op.create_table(
        "likeness_link_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False, index=True),
        sa.Column("owner_user_id", sa.String(64)),
        sa.Column("cameo_id", sa.String(40)),
        sa.Column("matches", J, nullable=False),
        sa.Column("vectors", sa.LargeBinary),
        sa.Column("quality", J, nullable=False),
        sa.Column("enrolment", J, nullable=False),
        sa.Column("terms", J, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS),
        sa.Column("decided_by", sa.String(128)),
        sa.Column("verified_by", sa.String(200)),
        sa.Column("verification", sa.String(1000)),
        sa.Column("note", sa.String(1000)),
    )


def downgrade() -> None:
    op.drop_table("likeness_link_requests")
    op.drop_column("users", "age_band_set_at")
    op.drop_column("users", "age_band_set_by")
    op.drop_column("users", "age_band")
