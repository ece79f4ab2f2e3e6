"""Database tiers: SQLite always, PostgreSQL and MariaDB where reachable.

Every test that asks for `settings` (or `engine`, `sessions`) runs once per engine and
starts from an empty, migrated database. With CI=true an unreachable PostgreSQL or
MariaDB fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import Base, make_engine, session_factory
from wikiloom.migrations import upgrade

DEFAULT_URLS = {
    "postgres": "postgresql+psycopg://root@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}
ENV = {"postgres": "WIKILOOM_TEST_POSTGRES_URL", "mariadb": "WIKILOOM_TEST_MARIADB_URL"}
TEST_DATABASE = "wikiloom_test"

# The MediaWiki tier: the session-scoped `mediawiki` fixture and its marker.
pytest_plugins = ["tests.support.mediawiki", "tests.support.models", "tests.support.browser"]


def server_url(tier: str) -> str:
    """The configured server URL of a tier (its default on loopback when unset)."""
    return os.environ.get(ENV[tier]) or DEFAULT_URLS[tier]


def unavailable(tier: str, reason: str) -> None:
    """Skip a tier that is not reachable, or fail when CI demands every tier."""
    message = f"{tier} tier unavailable ({reason}); set {ENV[tier]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


def fresh_database(tier: str, name: str) -> str:
    """Create (or recreate) an empty database on the tier's server and return its URL.

    `WIKILOOM_TEST_DATABASE_SUFFIX` is appended to the name, so that test runs sharing a
    server (two checkouts, parallel sessions) do not drop each other's databases, and so
    is the pytest-xdist worker's name (`gw0`, `gw1`).
    """
    name += os.environ.get("WIKILOOM_TEST_DATABASE_SUFFIX", "")
    name += os.environ.get("PYTEST_XDIST_WORKER", "")  # each parallel test process its own
    base = make_url(server_url(tier))
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            if tier == "postgres":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        admin.dispose()
    except Exception as error:  # any driver or network failure means "not reachable"
        unavailable(tier, f"{type(error).__name__}: {error}".splitlines()[0])
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Lazily migrated databases, one per tier, shared by the session."""
    return {}


def _migrated(tier: str, urls: dict[str, str], tmp: pytest.TempPathFactory) -> str:
    if tier not in urls:
        if tier == "sqlite":
            path = tmp.mktemp("template") / "template.db"
            url = f"sqlite:///{path}"
        else:
            url = fresh_database(tier, TEST_DATABASE)
        upgrade(url)
        urls[tier] = url
    return urls[tier]


def empty_tables(engine: Engine) -> None:
    """Delete every row of every table (children first), keeping the schema."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:  # break the cycles first (foreign keys made with use_alter)
                cyclic = [fk.parent for fk in table.foreign_keys if fk.use_alter]
                if cyclic:
                    connection.execute(table.update().values({c.name: None for c in cyclic}))
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def settings(
    request: pytest.FixtureRequest,
    migrated_urls: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> Iterator[Settings]:
    """Settings pointing at an empty, migrated database of each tier."""
    tier: str = request.param
    template = _migrated(tier, migrated_urls, tmp_path_factory)
    if tier == "sqlite":
        path = tmp_path / "wikiloom.db"
        shutil.copy(make_url(template).database or "", path)
        yield Settings(database_url=f"sqlite:///{path}", _env_file=None)  # type: ignore[call-arg]
        return
    settings = Settings(database_url=template, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings)
    empty_tables(engine)
    engine.dispose()
    yield settings


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The engine of the test's database."""
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory of the test's database."""
    return session_factory(engine)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that touches a database engine."""
    for item in items:
        if "settings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
