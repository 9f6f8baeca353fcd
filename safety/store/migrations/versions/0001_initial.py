"""Initial schema: videos, decisions (unique per video and policy version), append-only audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

J = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "videos",
        sa.Column("video_id", sa.String(128), primary_key=True),
        sa.Column("creator_id", sa.String(128), nullable=False, index=True),
        sa.Column("creator_age_band", sa.String(16), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("cameos", J, nullable=False),
        sa.Column("remix_of", sa.String(128)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("event", J, nullable=False),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("video_id", sa.String(128), sa.ForeignKey("videos.video_id"), nullable=False, index=True),
        sa.Column("policy_version", sa.String(128), nullable=False),
        sa.Column("policy_digest", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("audience", sa.String(16)),
        sa.Column("reasons", J, nullable=False),
        sa.Column("creator_message", sa.Text),
        sa.Column("priority", sa.String(16)),
        sa.Column("labels", J, nullable=False),
        sa.Column("signals", J, nullable=False),
        sa.Column("trace", J, nullable=False),
        sa.Column("shadow", J, nullable=False),
        sa.Column("detectors", J, nullable=False),
        sa.Column("failed_stage", sa.String(64)),
        sa.Column("error", sa.Text),
        sa.Column("stage_ms", J, nullable=False),
        sa.Column("asset_uri", sa.Text),
        sa.Column("worker_id", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("emitted_at", TS),
        sa.UniqueConstraint("video_id", "policy_version", name="uq_decisions_video_policy"),
    )
    op.create_index("ix_decisions_outcome_created", "decisions", ["outcome", "created_at"])
    op.create_table(
        "audit_log",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("at", TS, nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("subject_type", sa.String(32), nullable=False),
        sa.Column("subject_id", sa.String(128), nullable=False, index=True),
        sa.Column("details", J, nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION feedguard_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION feedguard_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION feedguard_audit_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("decisions")
    op.drop_table("videos")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS feedguard_audit_append_only()")
