"""Job runs and wiki gates: idempotent background jobs and per-wiki politeness.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("key", sa.String(191), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(191), nullable=False),
        sa.Column("started", TIMESTAMP, nullable=False),
        sa.Column("heartbeat", TIMESTAMP, nullable=False),
        sa.Column("finished", TIMESTAMP, nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_job_runs_status"),
        sa.CheckConstraint("attempts >= 1", name="ck_job_runs_attempts"),
    )
    op.create_table(
        "wiki_gates",
        sa.Column("wiki", sa.String(64), primary_key=True),
        sa.Column("next_at", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wiki_gates")
    op.drop_table("job_runs")
