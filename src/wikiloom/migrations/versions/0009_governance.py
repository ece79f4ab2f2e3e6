"""Governance: change requests of models, their discussion and outcome.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_by_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("decided", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "kind IN ('retrain', 'threshold', 'turn_off')", name="ck_change_requests_kind"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'declined', 'withdrawn', 'done')",
            name="ck_change_requests_status",
        ),
        sa.CheckConstraint(
            "(status = 'open' AND decided IS NULL AND decided_by IS NULL AND outcome IS NULL)"
            " OR (status <> 'open' AND decided IS NOT NULL AND decided_by IS NOT NULL)",
            name="ck_change_requests_decision",
        ),
    )
    op.create_index("ix_change_requests_model", "change_requests", ["model_id", "id"])
    op.create_table(
        "change_request_comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("change_requests.id"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
    )
    op.create_index(
        "ix_change_request_comments_request", "change_request_comments", ["request_id", "id"]
    )
    with op.batch_alter_table("model_events") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_model_events_request", "change_requests", ["request_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("model_events") as batch:
        batch.drop_constraint("fk_model_events_request", type_="foreignkey")
        batch.drop_column("request_id")
    # Their indexes go with them (MariaDB refuses to drop an index a foreign key uses).
    op.drop_table("change_request_comments")
    op.drop_table("change_requests")
