"""Commands that back the whole database up to one file and restore it, on any engine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from wikiloom.cli.common import app, database, errors, fail
from wikiloom.config import Settings
from wikiloom.db import make_engine

if TYPE_CHECKING:
    from wikiloom.backups import Progress as OnProgress

STAGES = {"backup": "backing up", "check": "checking", "restore": "restoring"}


@contextmanager
def _progress() -> Iterator[OnProgress | None]:
    """A bar per table on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), transient=True) as bars:
        task = bars.add_task("", total=None)

        def show(stage: str, table: str, rows: int, total: int | None) -> None:
            description = f"{STAGES.get(stage, stage)} {table}"
            bars.update(task, description=description, completed=rows, total=total)

        yield show


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


@app.command("backup")
def backup(
    path: Annotated[Path, typer.Argument(help="The file to write (replaced once complete).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="wikiloom: the portable file any engine restores; sqlite: a copy of an "
            "SQLite database by SQLite's online backup.",
        ),
    ] = "wikiloom",
) -> None:
    """Back the whole database up to one file, as one consistent snapshot."""
    from wikiloom.backups import snapshot_sqlite, write_backup

    if fmt not in ("wikiloom", "sqlite"):
        raise fail(f"--format is wikiloom or sqlite, not {fmt!r}")
    with errors(), database() as (_, engine, _), _progress() as progress:
        try:
            if fmt == "sqlite":
                size = snapshot_sqlite(engine, path)
                typer.echo(f"SQLite snapshot written to {path} ({_size(size)})")
                return
            summary = write_backup(engine, path, progress=progress)
        except OSError as error:
            raise fail(f"cannot write {path}: {error.strerror or error}") from error
    typer.echo(
        f"{summary.rows:,} rows of {len(summary.tables)} tables backed up to {path} "
        f"({_size(summary.size)}, schema revision {summary.revision}, from {summary.dialect})"
    )


@app.command("restore")
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `wikiloom backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace what the database holds (emptied first).")
    ] = False,
) -> None:
    """Restore a backup into the database (an empty one, unless --force)."""
    from wikiloom.restores import restore_backup

    engine = make_engine(Settings())
    try:
        with errors(), _progress() as progress:
            try:
                summary = restore_backup(engine, path, force=force, progress=progress)
            except OSError as error:
                raise fail(f"cannot read {path}: {error.strerror or error}") from error
    finally:
        engine.dispose()
    typer.echo(
        f"{summary.rows:,} rows of {len(summary.tables)} tables restored from {path} "
        f"(schema revision {summary.revision}, backed up from {summary.dialect}); "
        "the schema is up to date"
    )
