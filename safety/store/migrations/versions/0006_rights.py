"""Rights registry: characters, references, versioned rules, per-video matches, takedowns/relabels,
the registry version workers poll, and the obligations a published decision carries.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rights_characters",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "organisation_id", sa.String(64), sa.ForeignKey("organisations.id"), nullable=False, index=True
        ),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("names", J, nullable=False),
        sa.Column("descriptions", J, nullable=False),
        sa.Column("official_clips", J, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("organisation_id", "slug", name="uq_rights_characters_slug"),
    )
    op.create_table(
        "rights_references",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "character_id", sa.String(40), sa.ForeignKey("rights_characters.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("asset_key", sa.Text, nullable=False),
        sa.Column("frame_keys", J, nullable=False),
        sa.Column("frame_times", J, nullable=False),
        sa.Column("fingerprint", sa.LargeBinary),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("meta", J, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "rights_rules",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "character_id", sa.String(40), sa.ForeignKey("rights_characters.id"), nullable=False, index=True
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec", J, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("activated_at", TS),
        sa.Column("retired_at", TS),
        sa.UniqueConstraint("character_id", "version", name="uq_rights_rules_version"),
    )
    op.create_table(
        "rights_registry",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", BIG, nullable=False),
    )
    op.execute("INSERT INTO rights_registry (id, version) VALUES (1, 0)")
    op.create_table(
        "rights_matches",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column("decision_id", sa.String(36)),
        sa.Column("character_id", sa.String(40), sa.ForeignKey("rights_characters.id"), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("methods", J, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("decision_outcome", sa.String(16), nullable=False),
        sa.Column("rule_id", sa.String(64), index=True),
        sa.Column("effect", sa.String(32), nullable=False),
        sa.Column("reasons", J, nullable=False),
        sa.Column("obligations", J),
        sa.Column("shadow_rule_id", sa.String(64)),
        sa.Column("shadow_outcome", sa.String(16)),
        sa.Column("facts", J, nullable=False),
        sa.Column("evidence", J, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("decision_id", "character_id", name="uq_rights_matches_decision"),
    )
    op.create_index("ix_rights_matches_character_at", "rights_matches", ["character_id", "created_at"])
    op.create_table(
        "rights_actions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column(
            "character_id", sa.String(40), sa.ForeignKey("rights_characters.id"), nullable=False, index=True
        ),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("video_id", "rule_id", name="uq_rights_actions_once"),
    )
    op.add_column("decisions", sa.Column("obligations", J))


def downgrade() -> None:
    op.drop_column("decisions", "obligations")
    for table in (
        "rights_actions",
        "rights_matches",
        "rights_registry",
        "rights_rules",
        "rights_references",
        "rights_characters",
    ):
        op.drop_table(table)
