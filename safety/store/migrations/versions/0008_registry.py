"""Registry integrity: the registry versions each decision read (and was re-checked up to), the
registry change log the reconciler sweeps, and the queue of late decisions to re-check.

Revision ID: 0008
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0011"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = ("likeness_version", "rights_version", "likeness_checked", "rights_checked")


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger()))
    op.create_table(
        "registry_changes",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("registry_name", sa.String(16), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("parties", J, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("swept_at", TS),
        sa.Column("acted", J),
        sa.UniqueConstraint("registry_name", "version", name="uq_registry_changes_version"),
    )
    op.create_index("ix_registry_changes_unswept", "registry_changes", ["swept_at", "id"])
    op.create_table(
        "registry_rechecks",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("registry_name", sa.String(16), nullable=False),
        sa.Column("upto", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("decision_id", "registry_name", name="uq_registry_rechecks_once"),
    )
    # The rows the atomic bump updates (0005/0006 created them; kept idempotent for old databases).
    op.execute(
        "INSERT INTO rights_registry (id, version) SELECT 1, 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM rights_registry WHERE id = 1)"
    )
    op.execute(
        "INSERT INTO likeness_registry (id, version, updated_at) SELECT 1, 0, CURRENT_TIMESTAMP "
        "WHERE NOT EXISTS (SELECT 1 FROM likeness_registry WHERE id = 1)"
    )


def downgrade() -> None:
    op.drop_table("registry_rechecks")
    op.drop_index("ix_registry_changes_unswept", table_name="registry_changes")
    op.drop_table("registry_changes")
    with op.batch_alter_table("decisions") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
