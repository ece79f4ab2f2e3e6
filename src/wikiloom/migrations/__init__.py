"""Alembic migrations of every context's tables, run by `wikiloom db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from wikiloom.db import normalize_url

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """Build the Alembic configuration for `database_url` without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", normalize_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at `database_url` up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Migrate the database at `database_url` down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)
