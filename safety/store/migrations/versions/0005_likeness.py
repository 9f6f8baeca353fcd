"""Likeness consent: cameos, protected likenesses, per-video matches and face tracks, takedowns,
and the registry version workers poll.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cameos",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("owner_id", sa.String(128), nullable=False, unique=True),
        sa.Column("owner_user_id", sa.String(64)),
        sa.Column("age_band", sa.String(16), nullable=False),
        sa.Column("permission", sa.String(16), nullable=False),
        sa.Column("approved", J, nullable=False),
        sa.Column("limits", J, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("embedding_model", sa.String(64), nullable=False),
        sa.Column("enrolment", J, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.Column("deleted_at", TS),
    )
    op.create_table(
        "cameo_embeddings",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("cameo_id", sa.String(40), sa.ForeignKey("cameos.id"), nullable=False, index=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("quality", sa.Float, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "protected_likenesses",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("cameo_id", sa.String(40), sa.ForeignKey("cameos.id"), index=True),
        sa.Column("embedding_model", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("removed_at", TS),
    )
    op.create_table(
        "protected_embeddings",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column(
            "protected_id",
            sa.String(40),
            sa.ForeignKey("protected_likenesses.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "likeness_matches",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column("decision_id", sa.String(36)),
        sa.Column("cameo_id", sa.String(40), index=True),
        sa.Column("protected_id", sa.String(40), index=True),
        sa.Column("track", sa.Integer, nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("evidence", J, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "video_face_tracks",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column("decision_id", sa.String(36)),
        sa.Column("track", sa.Integer, nullable=False),
        sa.Column("vectors", sa.LargeBinary, nullable=False),
        sa.Column("evidence", J, nullable=False),
        sa.Column("embedding_model", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("video_id", "decision_id", "track", name="uq_face_tracks_track"),
    )
    op.create_table(
        "likeness_takedowns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("video_id", sa.String(128), nullable=False, index=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("video_id", "subject", name="uq_likeness_takedowns_once"),
    )
    op.create_table(
        "likeness_registry",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", BIG, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.execute("INSERT INTO likeness_registry (id, version, updated_at) VALUES (1, 0, CURRENT_TIMESTAMP)")


def downgrade() -> None:
    for table in (
        "likeness_registry",
        "likeness_takedowns",
        "video_face_tracks",
        "likeness_matches",
        "protected_embeddings",
        "protected_likenesses",
        "cameo_embeddings",
        "cameos",
    ):
        op.drop_table(table)
