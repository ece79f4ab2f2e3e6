"""Floating-point columns in double precision on MariaDB (its FLOAT keeps 6 digits).

PostgreSQL's FLOAT and SQLite's REAL are double precision already; MariaDB's FLOAT is single
precision, which rounded task priorities (active-learning order), holdout figures and
agreements to about 6 significant digits.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: (table, column, nullable) of the floating-point columns created before 0010.
COLUMNS = (
    ("campaigns", "holdout_fraction", False),
    ("tasks", "priority", False),
    ("campaign_rounds", "holdout_roc_auc", True),
    ("campaign_rounds", "holdout_pr_auc", True),
    ("campaign_rounds", "agreement", True),
)


def _alter(old: sa.types.TypeEngine[float], new: sa.types.TypeEngine[float]) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=nullable)


def upgrade() -> None:
    _alter(sa.Float(), sa.Double())


def downgrade() -> None:
    _alter(sa.Double(), sa.Float())
