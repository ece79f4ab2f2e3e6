"""Form proposals: forms submitted through the form builder for an admin's review.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
#: A form's YAML may be up to 100 KiB: more than MariaDB's TEXT (64 KiB) holds.
LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_proposals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("form_key", sa.String(64), nullable=False),
        sa.Column("yaml", LONG_TEXT, nullable=False),
        sa.Column("i18n", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("user_name", sa.String(255), nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reviewer_id", sa.BigInteger(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reviewer_name", sa.String(255), nullable=True),
        sa.Column("reviewed", TIMESTAMP, nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected')", name="ck_form_proposals_status"
        ),
        sa.CheckConstraint(
            "(status = 'pending' AND reviewed IS NULL AND reviewer_id IS NULL)"
            " OR (status <> 'pending' AND reviewed IS NOT NULL AND reviewer_id IS NOT NULL)",
            name="ck_form_proposals_review",
        ),
    )
    op.create_index("ix_form_proposals_status", "form_proposals", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_form_proposals_status", table_name="form_proposals")
    op.drop_table("form_proposals")
