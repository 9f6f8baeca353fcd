"""Accounts, review queue, reports, appeals and the outbox.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("state", sa.String(16)))
        batch.create_index("ix_videos_state", ["state"])
    op.execute(
        "UPDATE videos SET state = (SELECT d.outcome FROM decisions d WHERE d.video_id = videos.video_id "
        "ORDER BY d.created_at DESC LIMIT 1)"
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("verified_at", TS),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False, index=True),
        sa.Column("organisation_id", sa.String(64), sa.ForeignKey("organisations.id")),
        sa.Column("creator_id", sa.String(128), unique=True),
        sa.Column("password_hash", sa.String(256)),
        sa.Column("blur_sensitive", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("revoked_at", TS),
        sa.Column("last_used_at", TS),
        sa.UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("reasons", J, nullable=False),
        sa.Column("decision_id", sa.String(36)),
        sa.Column("appeal_id", sa.String(36)),
        sa.Column("creator_age_band", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", TS),
        sa.Column("excluded_moderator", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("decided_at", TS),
    )
    op.create_index("ix_review_queue", "review_items", ["status", "priority", "created_at"])
    op.create_index("ix_review_video_kind", "review_items", ["video_id", "kind"])
    op.create_table(
        "review_actions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("review_items.id"), nullable=False, index=True),
        sa.Column("video_id", sa.String(128), nullable=False, index=True),
        sa.Column("moderator_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("audience", sa.String(16)),
        sa.Column("reasons", J, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("asset_uri", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column("reporter_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("details", sa.Text),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("video_id", "reporter_id", "reason", name="uq_reports_once"),
    )
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column("creator_id", sa.String(128), nullable=False, index=True),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rejected_by", sa.String(64)),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("review_items.id"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", J, nullable=False),
        sa.Column("headers", J, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, index=True),
    )


def downgrade() -> None:
    for table in (
        "outbox",
        "appeals",
        "reports",
        "review_actions",
        "review_items",
        "api_keys",
        "users",
        "organisations",
    ):
        op.drop_table(table)
    with op.batch_alter_table("videos") as batch:
        batch.drop_index("ix_videos_state")
        batch.drop_column("state")
