"""Commands of the learning side: training, and the model registry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from wikiloom.cli.common import app, database, errors, fail, pairs
from wikiloom.db import transaction


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
        raise fail("say what to train on: --from-file")
    with errors():
        dataset = read_dataset(from_file, label)
        holdout = None if evaluate_on is None else read_dataset(evaluate_on, label)
        options = TrainingOptions(
            params=pairs(param or [], "--param"),
            seed=seed,
            folds=folds,
            population_rates=pairs(pop_rate or [], "--pop-rate") or None,
            class_weight=pairs(label_weight or [], "--label-weight") or None,
        )
        trained = fit(dataset, options, evaluate_on=holdout)
        with database() as (_, _, factory), transaction(factory, write=True) as session:
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
