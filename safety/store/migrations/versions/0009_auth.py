"""Login throttling: failed password logins and lockouts per submitted user name.

(Web sessions stay ``api_keys`` rows of kind 'session': server-side, so logout revokes them.)

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("lockouts", sa.Integer, nullable=False),
        sa.Column("locked_until", TS),
        sa.Column("updated_at", TS, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("login_throttles")
