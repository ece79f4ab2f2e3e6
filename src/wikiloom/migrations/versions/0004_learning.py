"""The learning context: the feature store, models, model versions and their audit log.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATES = "status IN ('proposed', 'trial', 'active', 'paused', 'retired')"


def upgrade() -> None:
    op.create_table(
        "feature_vectors",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("wiki", sa.String(64), nullable=False),
        sa.Column("rev_id", sa.BigInteger(), nullable=False),
        sa.Column("feature_set", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.UniqueConstraint(
            "wiki", "rev_id", "feature_set", "version", name="uq_feature_vectors_key"
        ),
        sa.CheckConstraint("version > 0", name="ck_feature_vectors_version"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("wiki", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_version_id", sa.Integer(), nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.UniqueConstraint("wiki", "name", name="uq_models_wiki_name"),
        sa.CheckConstraint(STATES, name="ck_models_status"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("feature_set", sa.String(64), nullable=True),
        sa.Column("feature_set_version", sa.Integer(), nullable=True),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("estimator", sa.JSON(), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column(
            "file",
            sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
            nullable=False,
        ),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
        sa.CheckConstraint("size > 0", name="ck_model_versions_size"),
    )
    op.create_index("ix_model_versions_model", "model_versions", ["model_id", "created"])
    with op.batch_alter_table("models") as batch:
        batch.create_foreign_key(
            "fk_models_current_version", "model_versions", ["current_version_id"], ["id"]
        )
    op.create_table(
        "model_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("old", sa.String(255), nullable=True),
        sa.Column("new", sa.String(255), nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
    )
    op.create_index("ix_model_events_model", "model_events", ["model_id", "id"])


def downgrade() -> None:
    op.drop_table("model_events")  # with its index (MariaDB's foreign key needs it)
    with op.batch_alter_table("models") as batch:
        batch.drop_constraint("fk_models_current_version", type_="foreignkey")
    op.drop_table("model_versions")
    op.drop_table("models")
    op.drop_table("feature_vectors")
