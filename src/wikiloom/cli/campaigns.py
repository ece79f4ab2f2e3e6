"""Commands of the labeling side: campaigns, tasks, labels, and importing Wiki labels."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, BinaryIO

import orjson
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from wikiloom.cli.common import app, database, errors, fail, known_forms
from wikiloom.db import transaction


@app.command("new_campaign")
def new_campaign(
    wiki: str,
    name: str,
    form: str,
    view: str,
    labels_per_task: int,
    tasks_per_assignment: int,
    info_url: Annotated[str | None, typer.Option("--info-url", help="Campaign page.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Allow a duplicate name.")] = False,
    expiry: Annotated[int | None, typer.Option(help="Workset lifetime in seconds.")] = None,
    required_group: Annotated[
        list[str] | None,
        typer.Option("--required-group", help="Labelers need one of these groups on the wiki."),
    ] = None,
    min_edit_count: Annotated[
        int, typer.Option(help="Labelers need at least this many edits on the wiki.")
    ] = 0,
) -> None:
    """Create an active campaign and print it as JSON."""
    from wikiloom.labels.campaigns import campaign_record, create_campaign
    from wikiloom.labels.requirements import Requirements, parse_groups

    with errors(), database() as (settings, _, factory), transaction(factory) as session:
        campaign = create_campaign(
            session,
            wiki=wiki,
            name=name,
            form=form,
            view=view,
            labels_per_task=labels_per_task,
            tasks_per_assignment=tasks_per_assignment,
            info_url=info_url,
            force=force,
            workset_expiry=expiry or settings.workset_expiry,
            known_forms=known_forms(settings),
            requirements=Requirements(parse_groups(required_group or ()), min_edit_count),
        )
        record = campaign_record(campaign)
    typer.echo(orjson.dumps(record).decode())


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int], None] | None]:
    if not sys.stderr.isatty():
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}"))
    with Progress(*columns, TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda n: progress.advance(task, n)


def _stdin() -> BinaryIO:
    return sys.stdin.buffer


@app.command("task_inserts")
def task_inserts(campaign_id: int) -> None:
    """Insert tasks, one JSON object per line on stdin; a bad line inserts nothing."""
    from wikiloom.labels.tasks import insert_tasks

    with (
        errors(),
        database() as (_, _, factory),
        _progress("inserting tasks") as progress,
        transaction(factory, write=True) as session,
    ):
        count = insert_tasks(session, campaign_id, _stdin(), progress=progress)
    typer.echo(f"{count} tasks inserted")


@app.command("export-labels")
def export_labels(
    campaign_id: int,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
) -> None:
    """Write a campaign's labels to stdout, one line per task and labeler."""
    from wikiloom.labels.campaigns import get_campaign
    from wikiloom.labels.catalog import load_catalog
    from wikiloom.labels.export import export_labels as export

    with errors(), database() as (settings, _, factory), transaction(factory) as session:
        campaign = get_campaign(session, campaign_id)
        form = load_catalog(settings.forms_dir).get(campaign.form)
        fields = list(form.fields) if form is not None else []
        out = sys.stdout
        for chunk in export(session, campaign_id, fmt, fields):
            out.write(chunk)
        out.flush()


@app.command("remove_expired_tasks")
def remove_expired_tasks() -> None:
    """Give back the leases of expired worksets now (assignment also does it by itself)."""
    from wikiloom.labels.campaigns import list_campaigns
    from wikiloom.labels.worksets import reclaim_expired

    total = 0
    with errors(), database() as (_, _, factory), transaction(factory, write=True) as session:
        for campaign in list_campaigns(session, include_inactive=True):
            while reclaimed := reclaim_expired(session, campaign.id):
                total += reclaimed
    typer.echo(f"{total} expired worksets closed")


@app.command("import-wikilabels")
def import_wikilabels(
    source_url: Annotated[str, typer.Argument(help="The Wiki labels PostgreSQL database URL.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the report, then roll back.")
    ] = False,
    timezone: Annotated[
        str, typer.Option("--timezone", help="Time zone of the source's naive timestamps.")
    ] = "UTC",
) -> None:
    """Copy a Wiki labels database (ids kept); running it again copies only what is new."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from wikiloom.db import normalize_url
    from wikiloom.labels.imports import import_wikilabels as run_import

    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise fail(f"unknown time zone {timezone!r}") from error
    source = create_engine(normalize_url(source_url))
    try:
        with (
            errors(),
            database() as (_, _, factory),
            transaction(factory, write=True) as session,
        ):
            report = run_import(session, source, timezone=zone)
            if dry_run:
                session.rollback()
    except SQLAlchemyError as error:
        raise fail(f"import failed, nothing was copied: {error}".splitlines()[0]) from error
    finally:
        source.dispose()
    for line in report.lines():
        typer.echo(line)
    if dry_run:
        typer.echo("dry run: nothing was written")
