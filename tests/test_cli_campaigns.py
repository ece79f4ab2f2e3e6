"""The `wikiloom campaigns` commands and new_campaign's active-learning options, on every engine."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from tests.learn.rounds_support import label, make_campaign
from wikiloom.cli import app
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory

NEW = ["new_campaign", "enwiki", "Active 2026", "damaging_and_goodfaith", "DiffToPrevious", "1"]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", settings.database_url)
    return CliRunner()


def test_new_campaign_takes_the_learning_settings(cli: CliRunner) -> None:
    refused = cli.invoke(app, [*NEW, "10", "--sampling", "margin"])
    assert refused.exit_code == 1
    assert "sampling 'margin' needs a learning_field" in refused.stderr
    made = cli.invoke(app, [*NEW, "10", "--sampling", "margin", "--learning-field", "damaging",
                            "--holdout-fraction", "0.25", "--retrain-every", "30"])  # fmt: skip
    assert made.exit_code == 0, made.output
    campaign_id = orjson.loads(made.stdout)["id"]
    shown = cli.invoke(app, ["campaigns", "learning", str(campaign_id)])
    assert orjson.loads(shown.stdout) == {
        "sampling": "margin", "holdout_fraction": 0.25, "retrain_every": 30,
        "learning_field": "damaging", "feature_set": "editquality", "rounds": 0,
        "last_round": None, "stop_suggested": False,
    }  # fmt: skip
    changed = cli.invoke(
        app, ["campaigns", "learning", str(campaign_id), "--sampling", "random",
              "--learning-field", "", "--feature-set", "ores.enwiki.demo"],
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    learning = orjson.loads(changed.stdout)
    assert (learning["sampling"], learning["learning_field"]) == ("random", None)
    bad = cli.invoke(app, ["campaigns", "learning", str(campaign_id), "--learning-field", "x"])
    assert bad.exit_code == 1
    assert "'x' is not a field of the form 'damaging_and_goodfaith'" in bad.stderr


def test_retrain_runs_a_round_and_rounds_lists_them(cli: CliRunner, settings: Settings) -> None:
    engine = make_engine(settings)
    sessions = session_factory(engine)
    campaign_id = make_campaign(sessions, 200, deleted=())
    label(sessions, campaign_id, 1, 80)
    engine.dispose()
    empty = cli.invoke(app, ["campaigns", "rounds", str(campaign_id)])
    assert empty.stdout.splitlines() == ["sampling margin, learning damaging", "no round yet"]
    ran = cli.invoke(app, ["campaigns", "retrain", str(campaign_id)])
    assert ran.exit_code == 0, ran.output
    report = orjson.loads(ran.stdout)
    assert (report["number"], report["labels"], report["strategy"]) == (1, 80, "margin")
    assert report["rescored"] > 80
    listed = cli.invoke(app, ["campaigns", "rounds", str(campaign_id)]).stdout.splitlines()
    assert listed[1].split("\t")[0] == "number"
    assert listed[2].split("\t")[:3:2] == ["1", "80"]
    assert len(listed) == 3  # no stop suggested after one round
    as_json = orjson.loads(
        cli.invoke(app, ["campaigns", "rounds", str(campaign_id), "--json"]).stdout
    )
    assert [r["number"] for r in as_json["rounds"]] == [1]
    assert as_json["stop_suggested"] is False
    missing = cli.invoke(app, ["campaigns", "retrain", "9999"])
    assert missing.exit_code == 1
    assert "campaign_id=9999" in missing.stderr
