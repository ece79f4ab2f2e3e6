"""Labeling core: users, campaigns, tasks, worksets, leases, labels, history, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:58:59.148958
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wiki", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_seq", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=255), nullable=False),
        sa.Column("view", sa.String(length=255), nullable=False),
        sa.Column("labels_per_task", sa.Integer(), nullable=False),
        sa.Column("tasks_per_assignment", sa.Integer(), nullable=False),
        sa.Column("info_url", sa.String(length=2000), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("workset_expiry", sa.Integer(), nullable=False),
        sa.Column("sampling", sa.String(length=32), nullable=False),
        sa.Column("evaluation_fraction", sa.Float(), nullable=False),
        sa.Column("archived", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "sampling IN ('random', 'uncertainty', 'margin', 'entropy', 'committee', 'density')",
            name="ck_campaigns_sampling",
        ),
        sa.CheckConstraint(
            "evaluation_fraction >= 0 AND evaluation_fraction <= 1",
            name="ck_campaigns_evaluation_fraction",
        ),
        sa.CheckConstraint("labels_per_task > 0", name="ck_campaigns_labels_per_task"),
        sa.CheckConstraint("name_seq >= 0", name="ck_campaigns_name_seq"),
        sa.CheckConstraint("tasks_per_assignment > 0", name="ck_campaigns_tasks_per_assignment"),
        sa.CheckConstraint("workset_expiry > 0", name="ck_campaigns_workset_expiry"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("wiki", "name", "name_seq", name="uq_campaigns_wiki_name"),
    )
    op.create_index("ix_campaigns_wiki", "campaigns", ["wiki"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_type_timestamp", "events", ["type", "timestamp"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("assigned", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.CheckConstraint("assigned >= 0", name="ck_tasks_assigned"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "id", name="uq_tasks_campaign_id"),
    )
    op.create_index(
        "ix_tasks_assignment", "tasks", ["campaign_id", "assigned", "priority", "id"], unique=False
    )

    op.create_table(
        "worksets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("expires", TIMESTAMP, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.SmallInteger(), nullable=True),
        sa.CheckConstraint(
            "(state = 'open' AND open_key IS NOT NULL) OR (state <> 'open' AND open_key IS NULL)",
            name="ck_worksets_open_state",
        ),
        sa.CheckConstraint(
            "state IN ('open', 'complete', 'abandoned', 'expired')", name="ck_worksets_state"
        ),
        sa.CheckConstraint("open_key = 1", name="ck_worksets_open_key"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "user_id", "open_key", name="uq_worksets_open"),
        sa.UniqueConstraint("id", "user_id", "campaign_id", name="uq_worksets_id_user_campaign"),
    )
    op.create_index(
        "ix_worksets_expiry", "worksets", ["campaign_id", "open_key", "expires"], unique=False
    )
    op.create_index("ix_worksets_user", "worksets", ["user_id", "campaign_id"], unique=False)

    op.create_table(
        "workset_tasks",
        sa.Column("workset_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('leased', 'labeled', 'skipped', 'released', 'expired')",
            name="ck_workset_tasks_state",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id", "task_id"],
            ["tasks.campaign_id", "tasks.id"],
            name="fk_workset_tasks_task",
        ),
        sa.ForeignKeyConstraint(
            ["workset_id", "user_id", "campaign_id"],
            ["worksets.id", "worksets.user_id", "worksets.campaign_id"],
            name="fk_workset_tasks_workset",
        ),
        sa.PrimaryKeyConstraint("workset_id", "task_id"),
        sa.UniqueConstraint("task_id", "user_id", name="uq_workset_tasks_task_user"),
    )
    op.create_index(
        "ix_workset_tasks_user", "workset_tasks", ["user_id", "campaign_id"], unique=False
    )

    op.create_table(
        "label_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("replaced", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.CheckConstraint("reason IN ('relabel', 'skip')", name="ck_label_history_reason"),
        sa.ForeignKeyConstraint(
            ["task_id", "user_id"],
            ["workset_tasks.task_id", "workset_tasks.user_id"],
            name="fk_label_history_workset_task",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_label_history_task_user", "label_history", ["task_id", "user_id"], unique=False
    )

    op.create_table(
        "labels",
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id", "user_id"],
            ["workset_tasks.task_id", "workset_tasks.user_id"],
            name="fk_labels_workset_task",
        ),
        sa.PrimaryKeyConstraint("task_id", "user_id"),
    )
    op.create_index("ix_labels_user", "labels", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("labels")
    op.drop_table("label_history")
    op.drop_table("workset_tasks")
    op.drop_table("worksets")
    op.drop_table("tasks")
    op.drop_table("events")
    op.drop_table("users")
    op.drop_table("campaigns")
