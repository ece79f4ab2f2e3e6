"""The `wikiloom` command line, end to end against each database engine."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.labels.factories import GOOD_LABEL
from wikiloom.cli import app
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tables import Campaign, Event, Task
from wikiloom.labels.worksets import assign_workset, workset_tasks
from wikiloom.learn.registry import get_model, get_version
from wikiloom.learn.tables import FeatureVector, ModelVersion


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", settings.database_url)
    return CliRunner()


def count(settings: Settings, model: type[Any]) -> int:
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        total = session.scalar(select(func.count()).select_from(model)) or 0
    engine.dispose()
    return total


NEW = ["new_campaign", "enwiki", "Damage 2026", "damaging_and_goodfaith", "DiffToPrevious"]


def test_new_campaign_prints_it_as_json(cli: CliRunner) -> None:
    result = cli.invoke(app, [*NEW, "2", "10", "--info-url", "https://example.org/c"])
    assert result.exit_code == 0, result.output
    record = orjson.loads(result.stdout)
    assert set(record) == {
        "id", "name", "wiki", "form", "view", "created", "labels_per_task",
        "tasks_per_assignment", "active", "info_url",
    }  # fmt: skip
    assert record["name"] == "Damage 2026"
    assert record["active"] is True
    assert isinstance(record["created"], float)


def test_new_campaign_refuses_a_duplicate_unless_forced(cli: CliRunner, settings: Settings) -> None:
    assert cli.invoke(app, [*NEW, "2", "10"]).exit_code == 0
    refused = cli.invoke(app, [*NEW, "2", "10"])
    assert refused.exit_code == 1
    assert "Duplicate campaign: Damage 2026 already exists for enwiki" in refused.stderr
    assert count(settings, Campaign) == 1
    forced = cli.invoke(app, [*NEW, "2", "10", "--force"])
    assert forced.exit_code == 0, forced.output
    assert count(settings, Campaign) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enwiki", "x", "nope", "DiffToPrevious", "1", "1"], "unknown form 'nope'"),
        (["enwiki", "x", "wp10", "Diff", "1", "1"], "unknown view 'Diff'"),
        (["enwiki", "x", "wp10", "View", "0", "1"], "labels_per_task must be a positive"),
        (["enwiki", "x", "wp10", "View", "1", "0"], "tasks_per_assignment must be a positive"),
    ],
)
def test_new_campaign_refuses_bad_arguments(
    cli: CliRunner, settings: Settings, args: list[str], message: str
) -> None:
    result = cli.invoke(app, ["new_campaign", *args])
    assert result.exit_code == 1
    assert message in result.stderr
    assert count(settings, Campaign) == 0


def test_task_inserts_is_all_or_nothing(cli: CliRunner, settings: Settings) -> None:
    campaign = orjson.loads(cli.invoke(app, [*NEW, "1", "5"]).stdout)["id"]
    good = "".join(f'{{"rev_id": {n}}}\n' for n in range(1, 101))
    result = cli.invoke(app, ["task_inserts", str(campaign)], input=good)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "100 tasks inserted"
    bad = '{"rev_id": 1}\n{"rev_id": 2}\n{"rev_id": 3\n{"rev_id": 4}\n'
    result = cli.invoke(app, ["task_inserts", str(campaign)], input=bad)
    assert result.exit_code == 1
    assert "line 3: invalid JSON" in result.stderr
    wrong = '{"rev_id": 1}\n{"revid": 2}\n'
    result = cli.invoke(app, ["task_inserts", str(campaign)], input=wrong)
    assert result.exit_code == 1
    assert "line 2: the DiffToPrevious view needs 'rev_id' in every task" in result.stderr
    assert count(settings, Task) == 100


def test_task_inserts_into_an_unknown_campaign(cli: CliRunner) -> None:
    result = cli.invoke(app, ["task_inserts", "4242"], input='{"rev_id": 1}\n')
    assert result.exit_code == 1
    assert "campaign_id=4242" in result.stderr


def test_export_labels_as_jsonl_and_csv(cli: CliRunner, settings: Settings) -> None:
    campaign = orjson.loads(cli.invoke(app, [*NEW, "2", "3"]).stdout)["id"]
    cli.invoke(app, ["task_inserts", str(campaign)], input='{"rev_id": 1}\n{"rev_id": 2}\n')
    engine = make_engine(settings)
    form = load_catalog()["damaging_and_goodfaith"]
    with transaction(session_factory(engine), write=True) as session:
        for user in (11, 12):
            workset = assign_workset(session, campaign, user)
            for task in workset_tasks(session, workset.id):
                save_label(
                    session, form=form, workset_id=workset.id, task_id=task.id,
                    user_id=user, data=GOOD_LABEL,
                )  # fmt: skip
    engine.dispose()
    jsonl = cli.invoke(app, ["export-labels", str(campaign)])
    assert jsonl.exit_code == 0, jsonl.output
    records = [orjson.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(records) == 4
    assert {r["user_id"] for r in records} == {11, 12}
    assert all(r["label"] == GOOD_LABEL and r["task"]["rev_id"] in (1, 2) for r in records)
    assert all(r["timestamp"].endswith("Z") for r in records)
    exported = cli.invoke(app, ["export-labels", str(campaign), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 4
    assert rows[0]["damaging"] == "false"
    assert rows[0]["goodfaith"] == "true"
    assert orjson.loads(rows[0]["label"]) == GOOD_LABEL
    bad = cli.invoke(app, ["export-labels", str(campaign), "--format", "xml"])
    assert bad.exit_code == 1
    assert "unknown export format 'xml'" in bad.stderr


def test_demo_loads_once(cli: CliRunner, settings: Settings) -> None:
    first = cli.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines() == [
        "2 demo campaigns created",
        "demo model enwiki reverted 1.0 trained and activated",
    ]
    tasks = count(settings, Task)
    assert tasks == 800
    assert count(settings, FeatureVector) == 499  # every demo revision but one has features
    second = cli.invoke(app, ["demo"])
    assert second.stdout.strip() == "demo data already loaded"
    assert (count(settings, Task), count(settings, Campaign)) == (tasks, 2)
    assert (count(settings, ModelVersion), count(settings, FeatureVector)) == (1, 499)
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        model = get_model(session, "enwiki", "reverted")
        version = get_version(session, model)
        assert model.status == "active"
        assert version.feature_set == "ores.enwiki.demo"
        assert version.statistics["evaluation"]["rows"] == 4862  # the testing split
        assert version.statistics["roc_auc"]["labels"]["true"] > 0.87
    engine.dispose()


def test_remove_expired_tasks_reports_closed_worksets(cli: CliRunner, settings: Settings) -> None:
    campaign = orjson.loads(cli.invoke(app, [*NEW, "1", "2", "--expiry", "1"]).stdout)["id"]
    cli.invoke(app, ["task_inserts", str(campaign)], input='{"rev_id": 1}\n')
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        workset = assign_workset(session, campaign, 5)
        workset.expires = workset.created  # already over
    engine.dispose()
    result = cli.invoke(app, ["remove_expired_tasks"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "1 expired worksets closed"
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        types = set(session.scalars(select(Event.type)))
    engine.dispose()
    assert "workset.expired" in types


def test_db_upgrade_creates_the_schema(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    settings = Settings(database_url=url)
    assert count(settings, Campaign) == 0
