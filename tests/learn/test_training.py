"""Training from labelled files: statistics, seeds, priors, options, and `wikiloom train`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from wikiloom.cli import app
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.errors import BadRequest
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.registry import events_of, get_model, get_version, load_estimator
from wikiloom.learn.training import TrainingOptions, train

SAMPLE = Path(__file__).parent.parent / "data" / "editquality" / "enwiki.reverted.sample.csv"
FAST = {"max_iter": 40}


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample split in two files: 1,000 rows to train on and 500 to test on."""
    lines = SAMPLE.read_text().splitlines(keepends=True)
    folder = tmp_path_factory.mktemp("halves")
    (folder / "train.csv").write_text("".join(lines[:1001]))
    (folder / "test.csv").write_text(lines[0] + "".join(lines[1001:]))
    return folder / "train.csv", folder / "test.csv"


def test_cross_validated_statistics_describe_the_training_data() -> None:
    dataset = read_dataset(SAMPLE, "reverted")
    trained = train(dataset, TrainingOptions(params=FAST, seed=7))
    statistics = trained.statistics
    assert statistics["evaluation"] == {"method": "cross-validation", "folds": 5}
    assert statistics["counts"]["n"] == 1500
    assert statistics["counts"]["labels"] == {"false": 1350, "true": 150}
    assert 0.7 < statistics["roc_auc"]["labels"]["true"] < 0.95
    assert statistics["thresholds"]["true"][0]["recall"] == 1.0
    assert set(statistics["extra"]) >= {"brier", "log_loss", "calibration_error"}
    assert trained.labels == [False, True]
    assert trained.provenance["seed"] == 7
    assert trained.provenance["label_counts"] == {"false": 1350, "true": 150}
    assert trained.estimator_info["params"]["random_state"] == 7
    assert trained.estimator_info["environment"]["scikit-learn"]
    assert not hasattr(trained.estimator, "oof_proba_")  # not saved with the model


def test_a_holdout_is_measured_with_the_fitted_model(halves: tuple[Path, Path]) -> None:
    training, testing = (read_dataset(path, "reverted") for path in halves)
    trained = train(training, TrainingOptions(params=FAST), evaluate_on=testing)
    assert trained.statistics["evaluation"]["method"] == "holdout"
    assert trained.statistics["evaluation"]["rows"] == 500
    assert trained.statistics["counts"]["n"] == 500
    proba = trained.estimator.predict_proba(testing.X)[:, 1]
    exact = trained.statistics["extra"]["roc_auc"]["labels"]["true"]
    assert exact == pytest.approx(roc_auc_score(testing.y, proba))


def test_the_seed_makes_training_reproducible() -> None:
    dataset = read_dataset(SAMPLE, "reverted")
    first = train(dataset, TrainingOptions(params=FAST, seed=1))
    again = train(dataset, TrainingOptions(params=FAST, seed=1))
    other = train(dataset, TrainingOptions(params=FAST, seed=2))
    assert first.statistics["thresholds"] == again.statistics["thresholds"]
    assert first.statistics["thresholds"] != other.statistics["thresholds"]
    assert np.array_equal(
        first.estimator.predict_proba(dataset.X), again.estimator.predict_proba(dataset.X)
    )


def test_population_rates_report_statistics_for_the_population() -> None:
    dataset = read_dataset(SAMPLE, "reverted")
    options = TrainingOptions(params=FAST, population_rates={"true": 0.034, "false": 0.966})
    trained = train(dataset, options)
    rates = trained.statistics["rates"]
    assert rates["sample"] == {"false": 0.9, "true": 0.1}
    assert rates["population"] == {"false": 0.966, "true": 0.034}
    assert trained.estimator.population_rates == {True: 0.034, False: 0.966}
    mean = trained.estimator.predict_proba(dataset.X)[:, 1].mean()
    assert 0.02 < mean < 0.06  # near the population's rate, not the sample's 0.1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            TrainingOptions(params={"max_leaves": 3}),
            r"unknown estimator parameters \['max_leaves'\]",
        ),
        (TrainingOptions(folds=1), "needs 2 folds at least"),
        (TrainingOptions(population_rates={"yes": 0.5, "false": 0.5}), "names 'yes', which is not"),
        (TrainingOptions(population_rates={"true": 0.5}), "a population rate for every label"),
        (TrainingOptions(population_rates={"true": 0.5, "false": 0.6}), "sum to 1"),
        (TrainingOptions(class_weight={"maybe": 3}), "a label weight names 'maybe'"),
    ],
)
def test_bad_options_are_refused(options: TrainingOptions, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        train(read_dataset(SAMPLE, "reverted"), options)


def test_the_train_command_registers_a_version_and_prints_statistics(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, halves: tuple[Path, Path]
) -> None:
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", settings.database_url)
    training, testing = halves
    command = ["train", "--from-file", str(training), "--label", "reverted"]
    result = CliRunner().invoke(
        app, [*command, "--evaluate-on", str(testing), "--json", "-p", "max_iter=40"]
    )
    assert result.exit_code == 0, result.output
    statistics = orjson.loads(result.stdout)
    assert statistics["evaluation"]["method"] == "holdout"
    assert statistics["counts"]["n"] == 500
    again = CliRunner().invoke(app, [*command, "-p", "max_iter=40", "--actor", "Builder"])
    assert again.exit_code == 0, again.output
    assert "registered enwiki reverted 2.0 (cross-validation)" in again.stdout
    refused = CliRunner().invoke(app, [*command, "--version", "2.0"])
    assert refused.exit_code == 1
    assert "already has a version 2.0" in refused.stderr
    bad = CliRunner().invoke(app, [*command, "-p", "max_iter"])
    assert bad.exit_code == 1
    assert "--param takes name=value" in bad.stderr
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        model = get_model(session, "enwiki", "reverted")
        assert get_version(session, model).version == "1.0"
        estimator = load_estimator(session, get_version(session, model, "2.0"))
        assert estimator.get_params()["max_iter"] == 40
        assert [event.actor for event in events_of(session, model)][-1] == "Builder"
    engine.dispose()
