"""Engines, sessions and the dialect specifics that the contexts share."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from sqlalchemy import DateTime, Engine, create_engine, event, inspect
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import Insert
from sqlalchemy.types import TypeDecorator

from wikiloom.config import Settings

#: Key, in an SQLite session factory's `info`, of the lock its write transactions share.
_WRITE_LOCK = "wikiloom.sqlite_write_lock"


def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC on every engine and returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: wikiloom stores only aware UTC times")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every table; the contexts' `tables.py` modules subclass it."""


def normalize_url(url: str) -> str:
    """Pick our drivers for bare `postgresql://` and `mysql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername="mysql+pymysql")
    return parsed.render_as_string(hide_password=False)


def _dump_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(settings: Settings) -> Engine:
    """Create the engine for `settings.database_url` with each dialect's needs applied."""
    url = make_url(normalize_url(settings.database_url))
    json_options: dict[str, Any] = {
        "json_serializer": _dump_json,
        "json_deserializer": orjson.loads,
    }
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout, "check_same_thread": False},
            **json_options,
        )
        _configure_sqlite(engine, settings)
        return engine
    options: dict[str, Any] = {
        **json_options,
        "pool_pre_ping": True,
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_pool_size,
        "pool_timeout": settings.database_pool_timeout,
        "pool_recycle": 3600,
    }
    if url.get_backend_name() == "mysql":
        options["isolation_level"] = "READ COMMITTED"
        url = url.update_query_dict({"charset": "utf8mb4"})
    return create_engine(url, **options)


def _configure_sqlite(engine: Engine, settings: Settings) -> None:
    """Use WAL, foreign keys and a busy timeout; let us issue BEGIN ourselves."""
    busy_ms = int(settings.sqlite_busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Python's sqlite3 would otherwise open transactions lazily and defeat BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory bound to `engine`.

    On SQLite its sessions share one lock that write transactions take before BEGIN
    IMMEDIATE: the threads of one process then queue for the write lock in order instead of
    polling SQLite's busy handler (whose growing sleeps made p99 latency hundreds of ms).
    Other processes still wait through the busy timeout.
    """
    info = {_WRITE_LOCK: threading.Lock()} if engine.dialect.name == "sqlite" else {}
    return sessionmaker(engine, expire_on_commit=False, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session], *, write: bool = False) -> Iterator[Session]:
    """Run a unit of work: commit on success, roll back on error.

    `write=True` takes SQLite's write lock up front (BEGIN IMMEDIATE) so that a
    read-then-write transaction cannot deadlock with another writer.
    """
    with factory() as session:
        lock: threading.Lock | None = session.info.get(_WRITE_LOCK) if write else None
        if lock is not None:
            lock.acquire()
        try:
            if lock is not None:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()
        finally:
            if lock is not None:
                lock.release()


T = TypeVar("T")

#: PostgreSQL SQLSTATEs and MariaDB error numbers of a transaction the server gave up on
#: (deadlock victim, serialization failure, lock wait timeout): running it again is safe.
_RETRYABLE_STATES = frozenset({"40P01", "40001"})
_RETRYABLE_ERRNOS = frozenset({1213, 1205})


def is_retryable(error: BaseException) -> bool:
    """Tell whether a database error means "this transaction was rolled back, run it again".

    MariaDB rolls a deadlocked transaction back whole, savepoints included, so inside a
    savepoint the error raised is "SAVEPOINT does not exist" with the deadlock as its
    context: the chain of causes is searched.
    """
    seen: BaseException | None = error
    while seen is not None:
        orig = getattr(seen, "orig", seen)
        if getattr(orig, "sqlstate", None) in _RETRYABLE_STATES:
            return True
        args = getattr(orig, "args", ())
        if isinstance(orig, Exception) and args and args[0] in _RETRYABLE_ERRNOS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def run_transaction(
    factory: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    write: bool = False,
    attempts: int = 5,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run `work` in a transaction, again (up to `attempts` times) when the server aborted it.

    Deadlocks are a normal outcome on PostgreSQL and MariaDB under contention (InnoDB's
    unique-index checks take next-key locks); the aborted transaction changed nothing, so it
    is run again after a short random pause.
    """
    for attempt in range(1, attempts + 1):
        try:
            with transaction(factory, write=write) as session:
                return work(session)
        except DBAPIError as error:
            if attempt == attempts or not is_retryable(error):
                raise
            if on_retry is not None:
                on_retry(error)
            time.sleep(random.uniform(0, 0.005 * attempt))
    raise AssertionError("unreachable")


def is_sqlite(session: Session) -> bool:
    """Tell whether the session talks to SQLite."""
    return session.get_bind().dialect.name == "sqlite"


def insert_ignore(session: Session, table: Any) -> Insert:
    """An INSERT that silently skips rows whose key already exists, on every engine."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing()
    if name in ("mysql", "mariadb"):
        return mysql_insert(table).prefix_with("IGNORE")
    return sqlite_insert(table).on_conflict_do_nothing()


def table_names(engine: Engine) -> list[str]:
    """List the tables present in the database."""
    return sorted(inspect(engine).get_table_names())
