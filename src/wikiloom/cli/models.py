"""Commands of the learning side: training, and the model registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from wikiloom.cli.common import app, database, errors, fail, pairs
from wikiloom.config import Settings
from wikiloom.db import transaction


@app.command("train")
def train(
    label: Annotated[str, typer.Option(help="The column (or form field) to predict.")],
    from_file: Annotated[
        Path | None,
        typer.Option(help="Labelled observations: CSV, TSV or JSON lines (.bz2/.gz too)."),
    ] = None,
    from_campaign: Annotated[
        int | None, typer.Option(help="A campaign whose labels of the field to learn.")
    ] = None,
    evaluate_on: Annotated[
        Path | None, typer.Option(help="Held-out observations to measure the model on.")
    ] = None,
    wiki: Annotated[
        str, typer.Option(help="The wiki the model is for (a campaign's own wiki otherwise).")
    ] = "enwiki",
    model: Annotated[
        str | None, typer.Option(help="The model's name (default: the label).")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="The version to register (default: the next one).")
    ] = None,
    feature_set: Annotated[
        str, typer.Option(help="The features of a campaign's revisions (editquality, ...).")
    ] = "editquality",
    aggregation: Annotated[
        str, typer.Option(help="How a campaign's labels become one: majority or dawid-skene.")
    ] = "majority",
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
    from wikiloom.learn.training import TrainingOptions

    if (from_file is None) == (from_campaign is None):
        raise fail("say what to train on: --from-file or --from-campaign")
    with errors():
        options = TrainingOptions(
            params=pairs(param or [], "--param"),
            seed=seed,
            folds=folds,
            population_rates=pairs(pop_rate or [], "--pop-rate") or None,
            class_weight=pairs(label_weight or [], "--label-weight") or None,
        )
        if from_campaign is not None:
            from wikiloom.jobs.training import train_campaign

            with database() as (settings, _, factory):
                report = train_campaign(
                    settings, factory, from_campaign, label, feature_set_name=feature_set,
                    model_name=model, aggregation=aggregation, options=options,
                    version=version, actor=actor,
                )  # fmt: skip
            wiki, name, number, statistics = (
                report.wiki, report.model, report.version, report.statistics
            )  # fmt: skip
            problems = report.extraction.problems
            if problems:
                typer.echo(f"{len(problems)} revisions left out: {problems}", err=True)
        else:
            assert from_file is not None
            name = model or label
            number, statistics = _train_file(
                from_file, label, evaluate_on, wiki, name, options, version, actor
            )
    if as_json:
        sys.stdout.write(orjson.dumps(statistics, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    evaluation = statistics["evaluation"]
    typer.echo(f"registered {wiki} {name} {number} ({evaluation['method']})")
    for key in ("roc_auc", "pr_auc", "accuracy"):
        typer.echo(f"  {key}: {statistics[key]['labels']}")


def _train_file(
    path: Path,
    label: str,
    evaluate_on: Path | None,
    wiki: str,
    name: str,
    options: Any,
    version: str | None,
    actor: str | None,
) -> tuple[str, dict[str, Any]]:
    """Train on a labelled file and register the version; its label and statistics."""
    from wikiloom.learn.datasets import read_dataset
    from wikiloom.learn.featuresets import feature_set_of_columns
    from wikiloom.learn.registry import create_model, find_model, register_version
    from wikiloom.learn.training import train as fit

    dataset = read_dataset(path, label)
    holdout = None if evaluate_on is None else read_dataset(evaluate_on, label)
    trained = fit(
        dataset, options, evaluate_on=holdout, feature_set=feature_set_of_columns(dataset.features)
    )
    with database() as (_, _, factory), transaction(factory, write=True) as session:
        row = find_model(session, wiki, name) or create_model(
            session, wiki, name, label, actor=actor
        )
        registered = register_version(session, row, trained, version=version, actor=actor)
        return registered.version, dict(trained.statistics)


models_app = typer.Typer(help="The model registry: models, versions, cards, states.")
app.add_typer(models_app, name="models")


def _version_record(version: Any) -> dict[str, Any]:
    statistics = version.statistics
    return {
        "version": version.version,
        "created": version.created.isoformat(),
        "created_by": version.created_by,
        "feature_set": version.feature_set,
        "features": len(version.features),
        "sha256": version.sha256,
        "roc_auc": statistics.get("roc_auc", {}).get("labels"),
        "pr_auc": statistics.get("pr_auc", {}).get("labels"),
        "evaluation": statistics.get("evaluation", {}).get("method"),
    }


@models_app.command("list")
def list_models(
    wiki: Annotated[str | None, typer.Option(help="Only this wiki's models.")] = None,
) -> None:
    """Print every model as a JSON line: wiki, name, status, current version."""
    from wikiloom.learn.registry import get_version, models_of

    with errors(), database() as (_, _, factory), transaction(factory) as session:
        for model in models_of(session, wiki):
            current = get_version(session, model).version if model.current_version_id else None
            record = {
                "wiki": model.wiki,
                "name": model.name,
                "predicts": model.target,
                "status": model.status,
                "current_version": current,
            }
            typer.echo(orjson.dumps(record).decode())


@models_app.command("show")
def show_model(wiki: str, name: str) -> None:
    """Print a model, its versions and its audit log as JSON."""
    from wikiloom.learn.registry import events_of, get_model, versions_of

    with errors(), database() as (_, _, factory), transaction(factory) as session:
        model = get_model(session, wiki, name)
        record = {
            "wiki": model.wiki,
            "name": model.name,
            "predicts": model.target,
            "description": model.description,
            "status": model.status,
            "versions": [_version_record(v) for v in versions_of(session, model)],
            "log": [
                {
                    "at": e.at.isoformat(),
                    "kind": e.kind,
                    "old": e.old,
                    "new": e.new,
                    "actor": e.actor,
                    "reason": e.reason,
                }
                for e in events_of(session, model)
            ],
        }
    sys.stdout.write(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode() + "\n")


def _card(wiki: str, name: str, version: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The card of a version (the current one by default), and the version's statistics."""
    from wikiloom.learn.cards import model_card
    from wikiloom.learn.governance import requests_of
    from wikiloom.learn.registry import events_of, get_model, get_version

    with errors(), database() as (_, _, factory), transaction(factory) as session:
        model = get_model(session, wiki, name)
        row = get_version(session, model, version)
        card = model_card(model, row, events_of(session, model), requests_of(session, model))
        return card, row.statistics


@models_app.command("card")
def card(
    wiki: str,
    name: str,
    version: Annotated[str | None, typer.Option(help="The version (default: current).")] = None,
    output: Annotated[
        str, typer.Option("--format", help="markdown, json or wikitext.")
    ] = "markdown",
    plots: Annotated[
        Path | None, typer.Option(help="Write ROC, precision-recall and calibration SVGs here.")
    ] = None,
) -> None:
    """Print a version's model card; with --plots, write its plots as SVG files."""
    from wikiloom.learn.cards import card_markdown, card_wikitext
    from wikiloom.learn.plots import PLOTS, plot_svg

    renderers = {"markdown": card_markdown, "wikitext": card_wikitext}
    if output not in (*renderers, "json"):
        raise fail(f"--format is markdown, json or wikitext, not {output!r}")
    content, statistics = _card(wiki, name, version)
    if plots is not None:
        plots.mkdir(parents=True, exist_ok=True)
        labels = content["model_details"]["labels"]
        for label in ["true"] if "true" in labels else labels:
            for kind in PLOTS:
                path = (
                    plots
                    / f"{wiki}.{name}.{content['model_details']['version']}.{kind}.{label}.svg"
                )
                path.write_text(plot_svg(statistics, kind, label))
                typer.echo(f"wrote {path}", err=True)
    if output == "json":
        sys.stdout.write(orjson.dumps(content, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(renderers[output](content))


@models_app.command("status")
def status(
    wiki: str,
    name: str,
    new_status: Annotated[str, typer.Argument(help="proposed, trial, active, paused, retired")],
    reason: Annotated[str, typer.Option(help="Why (kept in the public audit log).")],
    actor: Annotated[str, typer.Option(help="Who decides.")],
) -> None:
    """Move a model to another state on its wiki, saying who and why."""
    from wikiloom.learn.registry import get_model, set_status

    with errors(), database() as (_, _, factory), transaction(factory, write=True) as session:
        model = set_status(
            session, get_model(session, wiki, name), new_status, actor=actor, reason=reason
        )
        typer.echo(f"{wiki} {name} is {model.status}")


@models_app.command("current")
def current(
    wiki: str,
    name: str,
    version: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the public audit log).")],
    actor: Annotated[str, typer.Option(help="Who decides.")],
) -> None:
    """Serve another version of a model."""
    from wikiloom.learn.registry import get_model, set_current_version

    with errors(), database() as (_, _, factory), transaction(factory, write=True) as session:
        set_current_version(
            session, get_model(session, wiki, name), version, actor=actor, reason=reason
        )
        typer.echo(f"{wiki} {name} serves {version}")


@models_app.command("publish")
def publish(
    wiki: str,
    name: str,
    title: Annotated[str, typer.Option(help="The page to write the card to.")],
    to_wiki: Annotated[
        str | None, typer.Option(help="The wiki of the page (default: the model's wiki).")
    ] = None,
    version: Annotated[str | None, typer.Option(help="The version (default: current).")] = None,
    username: Annotated[
        str, typer.Option(envvar="WIKILOOM_BOT_USERNAME", help="Bot password user, Name@app.")
    ] = "",
    password: Annotated[
        str, typer.Option(envvar="WIKILOOM_BOT_PASSWORD", help="The bot password.")
    ] = "",
) -> None:
    """Publish a version's model card as a wiki page, logged in with a bot password."""
    import asyncio

    from wikiloom.jobs.training import wiki_client
    from wikiloom.learn.cards import publish_card
    from wikiloom.learn.registry import get_model, log_event

    if not username or not password:
        raise fail("log in with --username and --password (or WIKILOOM_BOT_USERNAME/_PASSWORD)")
    content, _ = _card(wiki, name, version)
    target = to_wiki or wiki

    async def write() -> dict[str, Any]:
        client = wiki_client(Settings())
        try:
            await client.login(target, username, password)
            return await publish_card(client, target, title, content)
        finally:
            await client.aclose()

    with errors():
        result = asyncio.run(write())
        with database() as (_, _, factory), transaction(factory, write=True) as session:
            log_event(
                session,
                get_model(session, wiki, name),
                "published",
                new=f"{target}:{title}",
                actor=username,
                reason=f"revision {result.get('newrevid', result.get('oldrevid'))}",
            )
    typer.echo(f"published on {target}: {title} (revision {result.get('newrevid')})")
