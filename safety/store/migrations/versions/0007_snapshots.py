"""Media snapshots and publish jobs: decisions pinned to the bytes they read.

Videos and decisions record the SHA-256 of the snapshot every stage read; moderator approvals
become publish jobs that publish that snapshot; pipeline outcomes are written to the outbox in the
decision's own transaction (channel ``worker``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("media_sha256", sa.String(64)))
        batch.add_column(sa.Column("media_bytes", sa.BigInteger()))
        batch.create_index("ix_videos_media_sha256", ["media_sha256"])
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("media_sha256", sa.String(64)))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("channel", sa.String(16), nullable=False, server_default="relay"))
        batch.add_column(sa.Column("decision_id", sa.String(36)))
        batch.create_index("ix_outbox_decision_id", ["decision_id"])
    op.create_table(
        "media_snapshots",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", TS, nullable=False),
        sa.Column("deleted_at", TS),
    )
    op.create_index("ix_media_snapshots_deleted_at", "media_snapshots", ["deleted_at"])
    op.create_table(
        "publish_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("decision_id", sa.String(36)),
        sa.Column("media_sha256", sa.String(64), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("labels", J, nullable=False),
        sa.Column("obligations", J, nullable=False),
        sa.Column("policy_version", sa.String(128), nullable=False),
        sa.Column("reviewed_by", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(128)),
        sa.Column("claimed_until", TS),
        sa.Column("error", sa.Text()),
        sa.Column("asset_uri", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
    )
    op.create_index("ix_publish_jobs_video_id", "publish_jobs", ["video_id"])
    op.create_index("ix_publish_jobs_status_created", "publish_jobs", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("publish_jobs")
    op.drop_table("media_snapshots")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_decision_id")
        batch.drop_column("decision_id")
        batch.drop_column("channel")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("media_sha256")
    with op.batch_alter_table("videos") as batch:
        batch.drop_index("ix_videos_media_sha256")
        batch.drop_column("media_bytes")
        batch.drop_column("media_sha256")
