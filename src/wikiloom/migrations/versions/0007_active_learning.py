"""Active learning: sampling settings, holdout tasks and training rounds of campaigns.

The unused `evaluation_fraction` becomes `holdout_fraction` (below 1: a campaign whose
every task is held out could never be actively sampled).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
STRATEGIES = "strategy IN ('random', 'uncertainty', 'margin', 'entropy', 'committee', 'density')"

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("ck_campaigns_evaluation_fraction", type_="check")
        batch.alter_column(
            "evaluation_fraction",
            new_column_name="holdout_fraction",
            existing_type=sa.Float(),
            existing_nullable=False,
        )
        batch.add_column(
            sa.Column("retrain_every", sa.Integer(), nullable=False, server_default="50")
        )
        batch.add_column(sa.Column("learning_field", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("feature_set", sa.String(64), nullable=False, server_default="editquality")
        )
        batch.create_check_constraint(
            "ck_campaigns_holdout_fraction", "holdout_fraction >= 0 AND holdout_fraction < 1"
        )
        batch.create_check_constraint("ck_campaigns_retrain_every", "retrain_every >= 1")
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("holdout", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "campaign_rounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started", TIMESTAMP, nullable=False),
        sa.Column("finished", TIMESTAMP, nullable=False),
        sa.Column("labeled_tasks", sa.Integer(), nullable=False),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("holdout_labels", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("estimator", sa.JSON(), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("holdout_roc_auc", sa.Float(), nullable=True),
        sa.Column("holdout_pr_auc", sa.Float(), nullable=True),
        sa.Column("agreement", sa.Float(), nullable=True),
        sa.Column("stop_suggested", sa.Boolean(), nullable=False),
        sa.Column("rescored", sa.Integer(), nullable=False),
        sa.Column("without_features", sa.Integer(), nullable=False),
        sa.Column("stop_set", sa.JSON(), nullable=False),
        sa.UniqueConstraint("campaign_id", "number", name="uq_campaign_rounds_number"),
        sa.CheckConstraint("number >= 1", name="ck_campaign_rounds_number"),
        sa.CheckConstraint(STRATEGIES, name="ck_campaign_rounds_strategy"),
    )


def downgrade() -> None:
    op.drop_table("campaign_rounds")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("holdout")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("ck_campaigns_retrain_every", type_="check")
        batch.drop_constraint("ck_campaigns_holdout_fraction", type_="check")
        batch.drop_column("feature_set")
        batch.drop_column("learning_field")
        batch.drop_column("retrain_every")
        batch.alter_column(
            "holdout_fraction",
            new_column_name="evaluation_fraction",
            existing_type=sa.Float(),
            existing_nullable=False,
        )
        batch.create_check_constraint(
            "ck_campaigns_evaluation_fraction",
            "evaluation_fraction >= 0 AND evaluation_fraction <= 1",
        )
