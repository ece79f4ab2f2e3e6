"""Restoring a backup (see `backups`) into a database of any of the three engines.

Nothing changes when the file is refused: its header and every table's checksum are read
first. The schema comes from the migrations (up to the backup's revision), the rows in one
transaction, then the sequences are moved past the loaded ids and the schema to the head.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    bindparam,
    func,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError

from wikiloom.backups import (
    CODECS,
    Progress,
    Summary,
    batches,
    counts,
    current_revision,
    decode,
    read_header,
    scripts,
    verify_backup,
)
from wikiloom.db import Base
from wikiloom.errors import Conflict
from wikiloom.migrations import downgrade, upgrade


def _state(connection: Connection, names: set[str]) -> tuple[str | None, dict[str, int]]:
    """The database's revision and the row counts of its tables among `names`."""
    present = set(inspect(connection).get_table_names())
    ours = sorted(present & names)
    if "alembic_version" not in present:
        if ours:
            raise Conflict(
                f"the target database holds wikiloom tables ({', '.join(ours[:3])}, …) but no "
                "schema revision (alembic_version): restore into an empty database"
            )
        return None, {}
    counts = {
        n: int(connection.scalar(select(func.count()).select_from(table(n))) or 0) for n in ours
    }
    return current_revision(connection), counts


def _empty(connection: Connection, names: list[str]) -> None:
    """Delete every row of these tables, foreign keys notwithstanding, in the transaction."""
    quote = connection.dialect.identifier_preparer.quote
    name = connection.dialect.name
    if name == "postgresql":
        connection.execute(text(f"TRUNCATE {', '.join(map(quote, names))} CASCADE"))
        return
    # The tables are emptied whole: the foreign keys are checked at commit (SQLite), or not
    # during the deletes (MariaDB, a session variable, no implicit commit).
    if name == "sqlite":
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    else:
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
    try:
        for each in names:
            connection.execute(text(f"DELETE FROM {quote(each)}"))
    finally:
        if name != "sqlite":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")


def _migrate(url: str, current: str | None, wanted: str, script: ScriptDirectory) -> None:
    """Bring the (empty) database's schema to the backup's revision, up or down."""
    if current == wanted:
        return
    if current is not None and wanted in {
        r.revision for r in script.iterate_revisions(current, "base")
    }:
        downgrade(url, wanted)
    else:
        upgrade(url, wanted)


def _target(entry: dict[str, Any]) -> Table:
    """A table of the backup's columns, typed by their codecs (the schema is Alembic's)."""
    columns = [Column(name, CODECS[codec]()) for name, codec in entry["columns"]]
    return Table(entry["name"], MetaData(), *columns)


def _check_columns(connection: Connection, header: dict[str, Any]) -> None:
    """Every table and column of the backup exists in the migrated database."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    for entry in header["tables"]:
        if entry["name"] not in present:
            raise Conflict(f"the backup's table {entry['name']!r} is not in the database")
        have = {column["name"] for column in inspector.get_columns(entry["name"])}
        missing = [name for name, _ in entry["columns"] if name not in have]
        if missing:
            raise Conflict(f"the database's table {entry['name']!r} lacks columns {missing}")


def _keyed(target: Table, keys: list[str], values: list[str]) -> Any:
    """`UPDATE target SET values WHERE keys`, its parameters named k0…, v0…."""
    where = and_(*(target.c[key] == bindparam(f"k{i}") for i, key in enumerate(keys)))
    return (
        target.update().where(where).values({v: bindparam(f"v{i}") for i, v in enumerate(values)})
    )


def _load(
    connection: Connection, path: Path, header: dict[str, Any], progress: Progress | None
) -> None:
    """Insert every row of the file, then set the deferred foreign keys."""
    later: list[tuple[Table, dict[str, Any], list[dict[str, Any]]]] = []
    current: dict[str, Any] | None = None
    for entry, lines in batches(path, header):
        if entry is not current:
            current, done, target = entry, 0, _target(entry)
            names = [name for name, _ in entry["columns"]]
            codecs = [codec for _, codec in entry["columns"]]
            deferred: list[dict[str, Any]] = []
            if entry["deferred"]:
                later.append((target, entry, deferred))
        rows = [
            {
                n: decode(c, cell)
                for n, c, cell in zip(names, codecs, orjson.loads(line), strict=True)
            }
            for line in lines
        ]
        for row in rows:
            values = {column: row[column] for column in entry["deferred"]}
            if any(value is not None for value in values.values()):
                keys = {f"k{i}": row[key] for i, key in enumerate(entry["primary_key"])}
                deferred.append(keys | {f"v{i}": v for i, v in enumerate(values.values())})
                row.update(dict.fromkeys(values))
        try:
            if rows:
                connection.execute(target.insert(), rows)
        except DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0]
            raise Conflict(f"restoring table {entry['name']!r} failed: {reason}") from error
        done += len(rows)
        if progress:
            progress("restore", entry["name"], done, int(entry["rows"]))
    for target, entry, deferred in later:
        if deferred:
            connection.execute(_keyed(target, entry["primary_key"], entry["deferred"]), deferred)


def _serial_columns(header: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(table, column) of the single-column integer primary keys."""
    for entry in header["tables"]:
        codecs = dict(map(tuple, entry["columns"]))
        if len(entry["primary_key"]) == 1 and codecs[entry["primary_key"][0]] == "int":
            yield entry["name"], entry["primary_key"][0]


def _reset_sequences(connection: Connection, header: dict[str, Any]) -> None:
    """PostgreSQL: move each serial or identity column's sequence past the loaded ids."""
    quote = connection.dialect.identifier_preparer.quote
    for name, column in _serial_columns(header):
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": quote(name), "column": column},
        )
        if sequence is not None:
            connection.execute(
                text(f"SELECT setval(:sequence, COALESCE(MAX({quote(column)}), 0) + 1, false) "
                     f"FROM {quote(name)}"),
                {"sequence": sequence},
            )  # fmt: skip


def _reset_auto_increment(engine: Engine, header: dict[str, Any]) -> None:
    """MariaDB: set each AUTO_INCREMENT past the loaded ids (DDL: after the load's commit)."""
    names = {entry["name"] for entry in header["tables"]}
    with engine.begin() as connection:
        found = connection.execute(
            text(
                "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND EXTRA LIKE '%auto_increment%'"
            )
        ).all()
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        for name, column in found:
            if name in names:
                top = connection.scalar(text(f"SELECT MAX({quote(column)}) FROM {quote(name)}"))
                connection.execute(
                    text(f"ALTER TABLE {quote(name)} AUTO_INCREMENT = {int(top or 0) + 1}")
                )
        connection.commit()


def restore_backup(
    engine: Engine, path: Path, *, force: bool = False, progress: Progress | None = None
) -> Summary:
    """Load a backup into the database of `engine` (one of `make_engine`).

    Refused, with nothing changed, when the file is damaged, not a backup, or of a schema
    newer than this code's, and when the database holds rows, unless `force`: that empties
    it in the load's own transaction (or just before, when the schema must change first).
    """
    path = Path(path)
    header = read_header(path)
    script = scripts()
    known = {revision.revision for revision in script.walk_revisions()}
    head = script.get_current_head()
    if header["revision"] not in known:
        raise Conflict(
            f"the backup is of schema revision {header['revision']}, newer than this wikiloom "
            f"(at {head}): restore it with wikiloom {header.get('wikiloom_version')} or later"
        )
    verify_backup(path, progress=progress)
    names = set(Base.metadata.tables) | {entry["name"] for entry in header["tables"]}
    with engine.connect() as connection:
        revision, present = _state(connection, names)
    occupied = [name for name, rows in present.items() if rows]
    if occupied and not force:
        shown = ", ".join(f"{name} ({present[name]} rows)" for name in occupied[:4])
        raise Conflict(
            f"the target database is not empty: {shown}{', …' if len(occupied) > 4 else ''}; "
            "restore into an empty database, or pass --force to replace its contents"
        )
    if revision is not None and revision not in known:
        raise Conflict(
            f"the target database is at schema revision {revision}, newer than this wikiloom"
        )
    url = engine.url.render_as_string(hide_password=False)
    if revision != header["revision"] and occupied:
        with engine.begin() as connection:  # the schema changes first: emptied on its own
            _empty(connection, occupied)
        occupied = []
    _migrate(url, revision, header["revision"], script)
    # SQLite: take the write lock up front (the engines of `make_engine` honour this).
    options = {"sqlite_begin": "IMMEDIATE"} if engine.dialect.name == "sqlite" else {}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        if occupied:
            _empty(connection, occupied)
        _check_columns(connection, header)
        _load(connection, path, header, progress)
        if engine.dialect.name == "postgresql":
            _reset_sequences(connection, header)
    if engine.dialect.name == "mysql":
        _reset_auto_increment(engine, header)
    if header["revision"] != head:
        upgrade(url, "head")
    return Summary(
        header["revision"], str(header.get("dialect")), counts(header), path.stat().st_size
    )
