"""Alembic environment: migrate the URL handed over in the Config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import wikiloom.faces.tables
import wikiloom.jobs.tables
import wikiloom.labels.tables
import wikiloom.learn.tables  # noqa: F401  (these imports register the tables on Base.metadata)
from wikiloom.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Connect and migrate."""
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
