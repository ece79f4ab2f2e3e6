"""Commands of the labeling side: campaigns, tasks, labels, and importing Wiki labels."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, BinaryIO

import orjson
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from wikiloom.cli.common import app, database, errors, fail
from wikiloom.db import transaction
from wikiloom.labels.tables import SAMPLING_STRATEGIES


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
    sampling: Annotated[str, typer.Option(help=SAMPLING_HELP)] = "random",
    holdout_fraction: Annotated[float, typer.Option(help=HOLDOUT_HELP)] = 0.2,
    retrain_every: Annotated[int, typer.Option(help=RETRAIN_HELP)] = 50,
    learning_field: Annotated[str | None, typer.Option(help=FIELD_HELP)] = None,
    feature_set: Annotated[str, typer.Option(help=FEATURE_SET_HELP)] = "editquality",
) -> None:
    """Create an active campaign and print it as JSON."""
    from wikiloom.labels.campaigns import campaign_record, create_campaign
    from wikiloom.labels.catalog import load_catalog
    from wikiloom.labels.learning import LearningSettings
    from wikiloom.labels.requirements import Requirements, parse_groups
    from wikiloom.learn.featuresets import FEATURE_SETS

    learning = LearningSettings(
        sampling, holdout_fraction, retrain_every, learning_field or None, feature_set
    )
    with errors(), database() as (settings, _, factory), transaction(factory) as session:
        catalog = load_catalog(settings.forms_dir)
        chosen = catalog.get(form)
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
            known_forms=catalog,
            requirements=Requirements(parse_groups(required_group or ()), min_edit_count),
            learning=learning,
            form_fields=None if chosen is None else chosen.fields,
            known_feature_sets=FEATURE_SETS,
        )
        record = campaign_record(campaign)
    typer.echo(orjson.dumps(record).decode())


SAMPLING_HELP = "random, or the model's most informative tasks first: " + ", ".join(
    s for s in SAMPLING_STRATEGIES if s != "random"
)
HOLDOUT_HELP = "Share of tasks kept in random order for unbiased evaluation (0 to below 1)."
RETRAIN_HELP = "New labeled tasks between two rounds of the campaign's model."
FIELD_HELP = "The form field the campaign's model learns (active sampling needs one)."
FEATURE_SET_HELP = "The feature set the campaign's model reads."
campaigns_app = typer.Typer(
    help="Campaigns' active learning: settings, rounds, retraining.", no_args_is_help=True
)
app.add_typer(campaigns_app, name="campaigns")


@campaigns_app.command("learning")
def learning_settings(
    campaign_id: int,
    sampling: Annotated[str | None, typer.Option(help=SAMPLING_HELP)] = None,
    holdout_fraction: Annotated[float | None, typer.Option(help=HOLDOUT_HELP)] = None,
    retrain_every: Annotated[int | None, typer.Option(help=RETRAIN_HELP)] = None,
    learning_field: Annotated[str | None, typer.Option(help=FIELD_HELP + ' "" clears it.')] = None,
    feature_set: Annotated[str | None, typer.Option(help=FEATURE_SET_HELP)] = None,
) -> None:
    """Change a campaign's active-learning settings (those given) and print them as JSON."""
    from dataclasses import replace

    from wikiloom.labels.campaigns import edit_campaign, get_campaign
    from wikiloom.labels.catalog import load_catalog
    from wikiloom.labels.learning import learning_of
    from wikiloom.learn.featuresets import FEATURE_SETS
    from wikiloom.learn.learningcurve import learning_summary

    given = {
        "sampling": sampling, "holdout_fraction": holdout_fraction,
        "retrain_every": retrain_every, "feature_set": feature_set,
    }  # fmt: skip
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if learning_field is not None:
        changes["learning_field"] = learning_field or None
    with (
        errors(),
        database() as (settings, _, factory),
        transaction(factory, write=True) as session,
    ):
        campaign = get_campaign(session, campaign_id)
        if changes:
            form = load_catalog(settings.forms_dir).get(campaign.form)
            edit_campaign(
                session, campaign_id, learning=replace(learning_of(campaign), **changes),
                form_fields=None if form is None else form.fields,
                known_feature_sets=FEATURE_SETS,
            )  # fmt: skip
        summary = learning_summary(session, campaign)
    typer.echo(orjson.dumps(summary).decode())


@campaigns_app.command("rounds")
def rounds(
    campaign_id: int,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead.")] = False,
) -> None:
    """List a campaign's active-learning rounds and whether labeling more still helps."""
    from wikiloom.labels.campaigns import get_campaign
    from wikiloom.learn.learningcurve import campaign_rounds, learning_summary, round_record

    with errors(), database() as (_, _, factory), transaction(factory) as session:
        summary = learning_summary(session, get_campaign(session, campaign_id))
        found = [round_record(row) for row in campaign_rounds(session, campaign_id)]
    if as_json:
        settings = {k: v for k, v in summary.items() if k not in ("rounds", "last_round")}
        typer.echo(orjson.dumps(settings | {"rounds": found}).decode())
        return
    typer.echo(f"sampling {summary['sampling']}, learning {summary['learning_field'] or '-'}")
    if not found:
        typer.echo("no round yet")
        return
    columns = ("number", "finished", "labels", "holdout_labels", "holdout_roc_auc",
               "holdout_pr_auc", "agreement", "rescored")  # fmt: skip
    typer.echo("\t".join(columns))
    for row in found:
        typer.echo("\t".join(_cell(row[column]) for column in columns))
    if summary["stop_suggested"]:
        typer.echo("The model has stopped changing: labeling more is unlikely to help.")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)[:19]


@campaigns_app.command("retrain")
def retrain(campaign_id: int) -> None:
    """Run a campaign's next active-learning round now (features extracted first) and print
    what it did as JSON."""
    from dataclasses import asdict

    from wikiloom.jobs.rounds import retrain_campaign

    with errors(), database() as (settings, _, factory):
        report = retrain_campaign(settings, factory, campaign_id)
    typer.echo(orjson.dumps(asdict(report)).decode())


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
