"""Backups of the whole database as one portable file (`restores` loads them on any engine).

A backup is a sequence of gzip members: the first holds one JSON line, the header (format,
versions, Alembic revision, source dialect, and per table its columns with their codecs, row
count and the SHA-256 of its row lines); then one member per table, in foreign-key order: a
line `{"table": name}` and one JSON array per row, in primary-key order. Cells are encoded
by the column's codec (`CODECS`), SQL NULL is `null` whatever the codec.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import math
import os
import shutil
import sqlite3
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    cast,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

import wikiloom
import wikiloom.faces.tables
import wikiloom.jobs.tables
import wikiloom.labels.tables
import wikiloom.learn.tables  # (these imports register the tables on Base.metadata)
from wikiloom.db import Base, UTCDateTime, utcnow
from wikiloom.errors import BadRequest, Conflict
from wikiloom.migrations import alembic_config

FORMAT, FORMAT_VERSION = "wikiloom-backup", 1
#: Codec of a column -> the type its values are bound with on restore.
CODECS: dict[str, Any] = {
    "int": BigInteger, "float": Float, "decimal": Numeric, "bool": Boolean, "str": Text,
    "datetime": DateTime, "bytes": LargeBinary, "json": lambda: JSON(none_as_null=True),
}  # fmt: skip
#: Rows fetched (and inserted) at a time: at most this many, and about this many bytes.
FIRST_BATCH_ROWS, BATCH_ROWS, BATCH_BYTES = 16, 1000, 8 << 20
#: No line of a backup is longer (a model file of 1 GiB, base64-encoded).
MAX_LINE = 3 << 29
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Called as work goes on: stage ("backup", "check", "restore"), table, rows done, rows in all.
Progress = Callable[[str, str, int, int | None], None]


@dataclass(frozen=True)
class Summary:
    """What a backup holds, or what a restore loaded."""

    revision: str
    dialect: str
    tables: dict[str, int]
    size: int = 0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def codec_of(column: Column[Any]) -> str:
    """The codec of a column's values (the most specific type first)."""
    kind = column.type
    for codec, types in (
        ("datetime", (UTCDateTime, DateTime)), ("json", (JSON,)), ("bool", (Boolean,)),
        ("int", (Integer,)), ("float", (Float,)), ("decimal", (Numeric,)),
        ("bytes", (LargeBinary,)), ("str", (String,)),
    ):  # fmt: skip
        if isinstance(kind, types):
            return codec
    raise TypeError(f"{column.table.name}.{column.name}: no backup codec for {kind!r}")


def encode(codec: str, value: Any) -> Any:
    """A value as its JSON cell (`json` values arrive as their stored text)."""
    if value is None:
        return None
    if codec == "float":
        number = float(value)
        return number if math.isfinite(number) else str(number)  # "nan", "inf", "-inf"
    if codec == "datetime":
        return value.isoformat()
    if codec == "bytes":
        return base64.b64encode(value).decode("ascii")
    if codec == "decimal":
        return str(value)
    if codec == "bool":
        return bool(value)
    return value


def decode(codec: str, cell: Any) -> Any:
    """A JSON cell as the value to bind: datetimes naive UTC, JSON null apart from SQL NULL."""
    if cell is None:
        return None
    if codec == "float":
        return float(cell)
    if codec == "datetime":
        moment = dt.datetime.fromisoformat(cell)
        return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)
    if codec == "bytes":
        return base64.b64decode(cell, validate=True)
    if codec == "decimal":
        return Decimal(cell)
    if codec == "json":
        value = orjson.loads(cell)
        return JSON.NULL if value is None else value
    return cell


def scripts() -> ScriptDirectory:
    """The Alembic revisions this code knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def current_revision(connection: Connection) -> str | None:
    """The database's Alembic revision (None before the first migration)."""
    return MigrationContext.configure(connection).get_current_revision()


def _deferred(table: Table, order: dict[str, int]) -> list[str]:
    """Columns of foreign keys to this table or a later one: loaded NULL, set at the end."""
    return sorted(
        {
            element.parent.name
            for constraint in table.foreign_key_constraints
            for element in constraint.elements
            if element.use_alter
            or order.get(constraint.referred_table.name, -1) >= order[table.name]
        }
    )


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction that sees a single consistent state of every table."""
    # SQLite (WAL): a read transaction is a snapshot already.
    options = {} if engine.dialect.name == "sqlite" else {"isolation_level": "REPEATABLE READ"}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        yield connection


def _rows(connection: Connection, source: Table, codecs: list[str]) -> Iterator[list[bytes]]:
    """The table's rows as encoded lines, in primary-key order, from a server-side cursor a
    batch at a time: about `BATCH_BYTES` (a few rows of model files, 1000 small rows)."""
    columns: list[ColumnElement[Any]] = [
        cast(column, Text).label(column.name) if codec == "json" else column
        for column, codec in zip(source.columns, codecs, strict=True)
    ]
    size = FIRST_BATCH_ROWS
    query = select(*columns).order_by(*source.primary_key.columns)
    result = connection.execute(query.execution_options(yield_per=size))
    while batch := result.fetchmany(size):
        lines = [
            orjson.dumps([encode(c, v) for c, v in zip(codecs, row, strict=True)]) + b"\n"
            for row in batch
        ]
        yield lines
        size = max(1, min(BATCH_ROWS, BATCH_BYTES * len(lines) // sum(map(len, lines))))
        result.yield_per(size)


@contextmanager
def _scratch(path: Path, suffix: str) -> Iterator[Path]:
    """A file beside `path` (so that it moves in place atomically), removed afterwards."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _write_table(
    out: BinaryIO,
    connection: Connection,
    source: Table,
    deferred: list[str],
    progress: Progress | None,
) -> dict[str, Any]:
    """Write one table as a gzip member; return its header entry."""
    codecs = [codec_of(column) for column in source.columns]
    digest, count = hashlib.sha256(), 0
    if progress:
        progress("backup", source.name, 0, None)
    with gzip.GzipFile("", "wb", 6, out, mtime=0) as member:
        member.write(orjson.dumps({"table": source.name}) + b"\n")
        for lines in _rows(connection, source, codecs):
            chunk = b"".join(lines)
            digest.update(chunk)
            member.write(chunk)
            count += len(lines)
            if progress:
                progress("backup", source.name, count, None)
    return {
        "name": source.name,
        "columns": [
            [column.name, codec] for column, codec in zip(source.columns, codecs, strict=True)
        ],
        "primary_key": [column.name for column in source.primary_key.columns],
        "deferred": deferred,
        "rows": count,
        "sha256": digest.hexdigest(),
    }


def write_backup(engine: Engine, path: Path, *, progress: Progress | None = None) -> Summary:
    """Write every table of the database, as one consistent snapshot, to `path` (replaced
    only once the backup is complete)."""
    path = Path(path)
    head = scripts().get_current_head()
    tables = Base.metadata.sorted_tables
    order = {source.name: i for i, source in enumerate(tables)}
    created = utcnow().isoformat()
    with _scratch(path, ".body") as body, _scratch(path, ".partial") as partial:
        with body.open("wb") as out, _snapshot(engine) as connection:
            revision = current_revision(connection)
            if revision != head:
                raise Conflict(
                    f"the database is at schema revision {revision}, this wikiloom at {head}: "
                    "run `wikiloom db upgrade` (or use the wikiloom that migrated it)"
                )
            entries = [
                _write_table(out, connection, source, _deferred(source, order), progress)
                for source in tables
            ]
        header = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "wikiloom_version": wikiloom.__version__, "revision": revision,
            "dialect": engine.dialect.name, "created": created, "tables": entries,
        }  # fmt: skip
        with partial.open("wb") as out:
            with gzip.GzipFile("", "wb", 9, out, mtime=0) as member:
                member.write(orjson.dumps(header) + b"\n")
            with body.open("rb") as members:
                shutil.copyfileobj(members, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    return Summary(str(revision), engine.dialect.name, counts(header), path.stat().st_size)


def snapshot_sqlite(engine: Engine, path: Path) -> int:
    """Copy an SQLite database to `path` with SQLite's online backup (a consistent snapshot)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        raise BadRequest(
            "the sqlite format copies an SQLite database file; for PostgreSQL and MariaDB use "
            "the wikiloom format (or pg_dump, mariadb-dump)"
        )
    path = Path(path)
    raw = engine.raw_connection()
    try:
        with _scratch(path, ".partial") as partial:
            target = sqlite3.connect(partial)
            try:
                source = raw.driver_connection
                assert isinstance(source, sqlite3.Connection)
                source.backup(target)
            finally:
                target.close()
            os.replace(partial, path)
    finally:
        raw.close()
    return path.stat().st_size


# Reading


def counts(header: dict[str, Any]) -> dict[str, int]:
    """Rows per table, as the header says."""
    return {entry["name"]: int(entry["rows"]) for entry in header["tables"]}


class _Members:
    """A file of gzip members read one member at a time, so that damage is found in the member
    (the table) it is in: zlib checks each member's CRC-32 and length as it ends."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.pending = raw, b""

    def lines(self) -> Iterator[bytes]:
        """The lines of the next member, its end checked once they are all read."""
        inflater, tail = zlib.decompressobj(wbits=31), b""
        while not inflater.eof:
            chunk, self.pending = self.pending or self.raw.read(1 << 16), b""
            if not chunk:
                raise EOFError("the file ends early")
            *complete, tail = (tail + inflater.decompress(chunk)).split(b"\n")
            if len(tail) > MAX_LINE:
                raise ValueError("a line longer than any backup writes")
            for line in complete:
                yield line + b"\n"
        self.pending = inflater.unused_data
        if tail:
            yield tail

    def done(self) -> bool:
        """Whether the file ends here."""
        return not self.pending and not self.raw.read(1)


def read_header(path: Path) -> dict[str, Any]:
    """The header of a backup file, checked: a wikiloom backup of a format this code reads."""
    try:
        with Path(path).open("rb") as raw:
            start = raw.read(len(SQLITE_MAGIC))
            raw.seek(0)
            if start.startswith(SQLITE_MAGIC):
                raise BadRequest(
                    f"{path} is an SQLite database (such as a `--format sqlite` snapshot), "
                    "not a wikiloom backup: to use it, stop wikiloom and put it in place of the "
                    "database file"
                )
            if not start.startswith(b"\x1f\x8b"):
                raise BadRequest(f"{path} is not a wikiloom backup (not a gzip file)")
            first = next(_Members(raw).lines(), b"")
    except OSError as error:
        raise BadRequest(f"cannot read {path}: {error}") from error
    except (EOFError, ValueError, zlib.error) as error:
        raise BadRequest(f"the backup file {path} is damaged in its header: {error}") from error
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BadRequest(f"{path} is not a wikiloom backup (no wikiloom backup header)")
    if header.get("format_version") != FORMAT_VERSION:
        raise BadRequest(
            f"{path} is a wikiloom backup of format {header.get('format_version')}; this "
            f"wikiloom reads format {FORMAT_VERSION}: restore it with the wikiloom that made it"
        )
    if not _well_formed(header):
        raise BadRequest(f"the backup file {path} is damaged in its header")
    return header


def _well_formed(header: dict[str, Any]) -> bool:
    """Whether the header holds what a restore reads, of the types it expects."""
    tables = header.get("tables")
    if not isinstance(header.get("revision"), str) or not isinstance(tables, list):
        return False
    for entry in tables:
        if not isinstance(entry, dict):
            return False
        columns = entry.get("columns")
        if not (
            isinstance(entry.get("name"), str)
            and isinstance(entry.get("rows"), int)
            and isinstance(entry.get("sha256"), str)
            and isinstance(columns, list)
            and all(isinstance(c, list) and len(c) == 2 and c[1] in CODECS for c in columns)
            and isinstance(entry.get("primary_key"), list)
            and isinstance(entry.get("deferred"), list)
        ):
            return False
    return True


def batches(path: Path, header: dict[str, Any]) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
    """Each table's raw row lines, a batch at a time, checked against the header's counts and
    checksums: a damaged file raises BadRequest naming the table."""
    where = "in its header"
    with Path(path).open("rb") as raw:
        members = _Members(raw)
        try:
            for _ in members.lines():
                pass
            for entry in header["tables"]:
                name, rows = entry["name"], int(entry["rows"])
                where = f"in table {name!r}"
                lines = members.lines()
                if orjson.loads(next(lines, b"null")) != {"table": name}:
                    raise BadRequest(f"the backup file is damaged: table {name!r} is missing")
                digest, count, batch, size = hashlib.sha256(), 0, [], 0
                for line in lines:
                    if count == rows or not line.endswith(b"\n"):
                        raise BadRequest(
                            f"the backup file is damaged: table {name!r} holds other rows "
                            f"than the {rows} its header counts"
                        )
                    digest.update(line)
                    batch.append(line)
                    count, size = count + 1, size + len(line)
                    if len(batch) >= BATCH_ROWS or size >= BATCH_BYTES:
                        yield entry, batch
                        batch, size = [], 0
                if count != rows or digest.hexdigest() != entry["sha256"]:
                    raise BadRequest(
                        f"the backup file is damaged: the SHA-256 checksum of table {name!r} "
                        f"does not match ({count} rows {digest.hexdigest()[:12]}…, the header "
                        f"says {rows} rows {str(entry['sha256'])[:12]}…)"
                    )
                yield entry, batch
            where = "after its last table"
            if not members.done():
                raise BadRequest("the backup file is damaged: data after its last table")
        except (OSError, EOFError, ValueError, zlib.error) as error:
            raise BadRequest(f"the backup file is damaged {where}: {error}") from error


def verify_backup(path: Path, *, progress: Progress | None = None) -> dict[str, Any]:
    """Read the whole file and check every table's rows; return its header."""
    header = read_header(path)
    done: dict[str, int] = {}
    for entry, batch in batches(path, header):
        done[entry["name"]] = done.get(entry["name"], 0) + len(batch)
        if progress:
            progress("check", entry["name"], done[entry["name"]], int(entry["rows"]))
    return header
