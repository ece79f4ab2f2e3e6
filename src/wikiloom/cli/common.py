"""What every command shares: the app, the database, and errors as one line on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, table_names
from wikiloom.errors import AppError

app = typer.Typer(
    help="wikiloom: human-in-the-loop machine learning for Wikimedia wikis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@contextmanager
def database() -> Iterator[tuple[Settings, Engine, sessionmaker[Session]]]:
    """The settings, an engine and a session factory (of a migrated database), then disposal."""
    settings = Settings()
    engine = make_engine(settings)
    try:
        if "alembic_version" not in table_names(engine):
            raise fail("the database has no tables yet: run `wikiloom db upgrade`")
        yield settings, engine, session_factory(engine)
    finally:
        engine.dispose()


def fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


@contextmanager
def errors() -> Iterator[None]:
    """Turn our errors into one line on stderr and exit status 1."""
    try:
        yield
    except AppError as error:
        raise fail(error.message) from error


def known_forms(settings: Settings) -> list[str]:
    """The names of the forms campaigns may use."""
    from wikiloom.labels.catalog import load_catalog

    return list(load_catalog(settings.forms_dir))


def pairs(values: list[str], what: str) -> dict[str, Any]:
    """`name=value` options as a dict, values read as JSON where they parse."""
    out: dict[str, Any] = {}
    for item in values:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise fail(f"{what} takes name=value, not {item!r}")
        try:
            out[name.strip()] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[name.strip()] = value
    return out
