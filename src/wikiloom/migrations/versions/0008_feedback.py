"""Feedback on scores: agree or disagree, the correct label, disputes per model.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "score_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("wiki", sa.String(64), nullable=False),
        sa.Column("rev_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("correct_label", sa.JSON(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("score", sa.JSON(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("updated", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(255), nullable=True),
        sa.Column("resolved", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("model_id", "rev_id", "user_id", name="uq_score_feedback_user"),
        sa.CheckConstraint("verdict IN ('agree', 'disagree')", name="ck_score_feedback_verdict"),
        sa.CheckConstraint(
            "status IN ('open', 'queued', 'resolved', 'dismissed')",
            name="ck_score_feedback_status",
        ),
        sa.CheckConstraint("rev_id > 0", name="ck_score_feedback_rev_id"),
        sa.CheckConstraint(
            "status <> 'queued' OR campaign_id IS NOT NULL", name="ck_score_feedback_queued"
        ),
    )
    op.create_index(
        "ix_score_feedback_disputes", "score_feedback", ["model_id", "verdict", "status", "id"]
    )
    op.create_index("ix_score_feedback_wiki", "score_feedback", ["wiki", "rev_id"])


def downgrade() -> None:
    op.drop_table("score_feedback")  # with its indexes (MariaDB's foreign keys need them)
