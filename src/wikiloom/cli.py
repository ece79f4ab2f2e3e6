"""The `wikiloom` command: administration, loading data, and starting the processes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import orjson
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
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
def _database() -> Iterator[tuple[Settings, Engine, sessionmaker[Session]]]:
    settings = Settings()
    engine = make_engine(settings)
    try:
        yield settings, engine, session_factory(engine)
    finally:
        engine.dispose()


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


@contextmanager
def _errors() -> Iterator[None]:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        yield
    except AppError as error:
        raise _fail(error.message) from error
    except (OperationalError, ProgrammingError) as error:
        text = str(error.orig).lower()
        if "no such table" in text or "does not exist" in text or "doesn't exist" in text:
            raise _fail("the database has no tables yet: run `wikiloom db upgrade`") from error
        raise


def _known_forms(settings: Settings) -> list[str]:
    from wikiloom.labels.catalog import load_catalog

    return list(load_catalog(settings.forms_dir))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database schema to the latest version."""
    from wikiloom.migrations import upgrade

    upgrade(Settings().database_url, revision)
    typer.echo("database is up to date")


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

    with _errors(), _database() as (settings, _, factory), transaction(factory) as session:
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
            known_forms=_known_forms(settings),
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
        _errors(),
        _database() as (_, _, factory),
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

    with _errors(), _database() as (settings, _, factory), transaction(factory) as session:
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
    with _errors(), _database() as (_, _, factory), transaction(factory, write=True) as session:
        for campaign in list_campaigns(session, include_inactive=True):
            while reclaimed := reclaim_expired(session, campaign.id):
                total += reclaimed
    typer.echo(f"{total} expired worksets closed")


@app.command("demo")
def demo() -> None:
    """Load the demo campaigns and model (real enwiki data); running it twice changes nothing."""
    from wikiloom.labels.demo import demo_rev_ids, load_demo
    from wikiloom.learn.demo import load_demo_model

    with (
        _errors(),
        _database() as (settings, _, factory),
        transaction(factory, write=True) as session,
    ):
        created = load_demo(session, _known_forms(settings))
        model = load_demo_model(session, demo_rev_ids())
        version = None if model is None else model.version
    typer.echo(f"{len(created)} demo campaigns created" if created else "demo data already loaded")
    if version is not None:
        typer.echo(f"demo model enwiki reverted {version} trained and activated")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes, each with its own database pool.")
    ] = 1,
) -> None:
    """Serve the web interface and the APIs."""
    import uvicorn

    from wikiloom.http import create_app

    settings = Settings()
    if workers > 1:
        from wikiloom.http.serving import serve_workers

        address = host or settings.host, port or settings.port
        serve_workers(
            *address, workers, log_level=settings.log_level, secret_key=settings.secret_key
        )
        return
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
    )


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
        raise _fail(f"unknown time zone {timezone!r}") from error
    source = create_engine(normalize_url(source_url))
    try:
        with (
            _errors(),
            _database() as (_, _, factory),
            transaction(factory, write=True) as session,
        ):
            report = run_import(session, source, timezone=zone)
            if dry_run:
                session.rollback()
    except SQLAlchemyError as error:
        raise _fail(f"import failed, nothing was copied: {error}".splitlines()[0]) from error
    finally:
        source.dispose()
    for line in report.lines():
        typer.echo(line)
    if dry_run:
        typer.echo("dry run: nothing was written")


def _pairs(values: list[str], what: str) -> dict[str, Any]:
    """`name=value` options as a dict, values read as JSON where they parse."""
    out: dict[str, Any] = {}
    for item in values:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise _fail(f"{what} takes name=value, not {item!r}")
        try:
            out[name.strip()] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[name.strip()] = value
    return out


@app.command("train")
def train(
    label: Annotated[str, typer.Option(help="The column (or form field) to predict.")],
    from_file: Annotated[
        Path | None,
        typer.Option(help="Labelled observations: CSV, TSV or JSON lines (.bz2/.gz too)."),
    ] = None,
    evaluate_on: Annotated[
        Path | None, typer.Option(help="Held-out observations to measure the model on.")
    ] = None,
    wiki: Annotated[str, typer.Option(help="The wiki the model is for.")] = "enwiki",
    model: Annotated[
        str | None, typer.Option(help="The model's name (default: the label).")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="The version to register (default: the next one).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="An estimator parameter name=value.")
    ] = None,
    pop_rate: Annotated[
        list[str] | None, typer.Option(help="A label's rate in the population, label=rate.")
    ] = None,
    label_weight: Annotated[
        list[str] | None, typer.Option(help="A label's weight while boosting, label=weight.")
    ] = None,
    seed: Annotated[int, typer.Option(help="The seed: the same seed, the same model.")] = 0,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    actor: Annotated[
        str | None, typer.Option(help="Who registers the version (for the audit log).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the statistics tree as JSON.")
    ] = False,
) -> None:
    """Train a model, register it as a new version, and print its statistics."""
    from wikiloom.learn.datasets import read_dataset
    from wikiloom.learn.registry import create_model, find_model, register_version
    from wikiloom.learn.training import TrainingOptions
    from wikiloom.learn.training import train as fit

    if from_file is None:
        raise _fail("say what to train on: --from-file")
    with _errors():
        dataset = read_dataset(from_file, label)
        holdout = None if evaluate_on is None else read_dataset(evaluate_on, label)
        options = TrainingOptions(
            params=_pairs(param or [], "--param"),
            seed=seed,
            folds=folds,
            population_rates=_pairs(pop_rate or [], "--pop-rate") or None,
            class_weight=_pairs(label_weight or [], "--label-weight") or None,
        )
        trained = fit(dataset, options, evaluate_on=holdout)
        with _database() as (_, _, factory), transaction(factory, write=True) as session:
            name = model or label
            row = find_model(session, wiki, name) or create_model(
                session, wiki, name, label, actor=actor
            )
            registered = register_version(session, row, trained, version=version, actor=actor)
            number = registered.version
    statistics = trained.statistics
    if as_json:
        sys.stdout.write(orjson.dumps(statistics, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    evaluation = statistics["evaluation"]
    typer.echo(f"registered {wiki} {name} {number} ({evaluation['method']})")
    for key in ("roc_auc", "pr_auc", "accuracy"):
        typer.echo(f"  {key}: {statistics[key]['labels']}")


def main() -> None:
    """Run the command line."""
    app()
