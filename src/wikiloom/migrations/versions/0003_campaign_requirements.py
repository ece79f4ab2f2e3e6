"""Campaign requirements: user groups and an edit count on the campaign's wiki.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("required_groups", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("min_edit_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_check_constraint("ck_campaigns_min_edit_count", "min_edit_count >= 0")


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("ck_campaigns_min_edit_count", type_="check")
        batch.drop_column("min_edit_count")
        batch.drop_column("required_groups")
