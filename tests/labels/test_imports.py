"""Importing a real Wiki labels PostgreSQL database into each of our engines."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.conftest import fresh_database
from tests.labels.factories import FORMS
from tests.labels.invariants import CHECKS, violations
from wikiloom.cli import app
from wikiloom.config import Settings
from wikiloom.db import Base, normalize_url, transaction
from wikiloom.errors import BadRequest, Conflict
from wikiloom.labels.campaigns import create_campaign, set_active
from wikiloom.labels.imports import ImportReport, import_wikilabels
from wikiloom.labels.tables import (
    Campaign,
    Event,
    Label,
    LabelHistory,
    Task,
    User,
    Workset,
    WorksetTask,
)
from wikiloom.labels.tasks import insert_tasks
from wikiloom.labels.worksets import assign_workset, skip_task

SCHEMA = Path(__file__).with_name("wikilabels_schema.sql")
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
Factory = sessionmaker[Session]

#: Legacy data can hand a task to more users than labels_per_task wants, and a synthetic
#: workset holds all of a user's stray labels in a campaign; the import keeps both as they were.
NOT_GUARANTEED = {
    "task over-assigned (live assignments > labels_per_task)",
    "workset larger than tasks_per_assignment",
}
GUARANTEED = set(CHECKS) - NOT_GUARANTEED


def utc(text_: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_).replace(tzinfo=dt.UTC)


def load_sql(engine: Engine, sql: str) -> None:
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute(sql)  # type: ignore[union-attr]
        raw.commit()
    finally:
        raw.close()


@pytest.fixture
def source() -> Iterator[Engine]:
    """A fresh Wiki labels database on PostgreSQL holding the fixture."""
    engine = create_engine(normalize_url(fresh_database("postgres", "wikilabels_source")))
    load_sql(engine, SCHEMA.read_text())
    yield engine
    engine.dispose()


def run(sessions: Factory, source: Engine, now: dt.datetime = NOW) -> ImportReport:
    with transaction(sessions, write=True) as session:
        return import_wikilabels(session, source, now=now)


def check(sessions: Factory, now: dt.datetime = NOW) -> dict[str, int]:
    """Assert the invariants the import guarantees; return the others' counts."""
    with transaction(sessions) as session:
        found = violations(session, now)
    assert {name: n for name, n in found.items() if name in GUARANTEED} == {}
    return found


def snapshot(sessions: Factory) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order."""
    with transaction(sessions) as session:
        return {
            table.name: [
                tuple(row)
                for row in session.execute(table.select().order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def test_import_keeps_ids_and_times_and_records_what_it_cannot_hold(
    sessions: Factory, source: Engine
) -> None:
    report = run(sessions, source)
    assert dict(report.copied) == {
        "campaigns": 4,
        "users": 5,
        "tasks": 50,
        "worksets": 7,
        "workset_tasks": 23,
        "labels": 12,
        "label_history": 0,
        "events": 11,
    }
    assert sum(report.rejected.values()) == 10
    assert report.rejected[("workset_task", "task of another campaign")] == 5
    assert report.rejected[("workset_task", "task and user already in a workset")] == 1
    assert report.rejected[("workset_task", "workset does not exist")] == 1
    assert report.rejected[("workset", "no importable task")] == 2
    assert report.rejected[("label", "task does not exist (or was rejected)")] == 1
    assert "rejected (recorded as import.rejected events): 10" in report.lines()

    with transaction(sessions) as session:
        campaigns = {c.id: c for c in session.scalars(select(Campaign))}
        assert [(c.id, c.name_seq, c.active) for c in campaigns.values()] == [
            (1, 0, True),
            (2, 1, False),
            (3, 0, False),  # active NULL
            (4, 0, True),
        ]
        assert campaigns[2].created == utc("2015-06-02 08:30:00.250000")
        assert campaigns[1].info_url == "https://meta.wikimedia.org/wiki/Wiki_labels"
        assert (campaigns[4].form, campaigns[4].view) == ("item_quality", "ItemPage")
        assert {c.workset_expiry for c in campaigns.values()} == {86400}

        tasks = {t.id: t for t in session.scalars(select(Task))}
        assert sorted(tasks) == list(range(1, 51))
        assert tasks[50].data == {"wikitext": "{{:WP:Sandbox}}"}
        assert tasks[36].campaign_id == 3
        assert len({t.priority for t in tasks.values()}) == 50
        assert all(0 <= t.priority < 1 for t in tasks.values())
        assert (tasks[1].assigned, tasks[36].assigned, tasks[41].assigned) == (2, 2, 1)
        assert (tasks[3].assigned, tasks[37].assigned, tasks[11].assigned) == (0, 0, 0)

        worksets = {w.id: w for w in session.scalars(select(Workset))}
        states = {wid: (w.state, w.open_key) for wid, w in worksets.items()}
        assert states == {
            -1: ("complete", None),  # synthetic: user 555755's labels outside worksets
            1: ("expired", None),
            3: ("complete", None),
            4: ("expired", None),  # unexpired, but 5 is the user's newer open one
            5: ("open", 1),
            6: ("expired", None),
            7: ("complete", None),
        }
        assert (worksets[1].created, worksets[1].expires) == (
            utc("2015-06-02 10:00:00"),
            utc("2015-06-03 10:00:00"),
        )
        assert worksets[-1].user_id == 555755
        assert worksets[-1].created == utc("2015-07-02 10:10:00")

        rows = session.execute(
            select(WorksetTask.workset_id, WorksetTask.task_id, WorksetTask.state)
            .where(WorksetTask.workset_id.in_((-1, 1, 4, 5)))
            .order_by(WorksetTask.workset_id, WorksetTask.position)
        ).all()
        assert [tuple(r) for r in rows] == [
            (-1, 1, "labeled"),
            (-1, 22, "labeled"),
            (1, 1, "labeled"),
            (1, 2, "labeled"),
            (1, 3, "expired"),
            (1, 4, "expired"),
            (1, 5, "expired"),
            (4, 36, "labeled"),
            *((4, t, "expired") for t in range(37, 41)),
            *((5, t, "leased") for t in range(41, 44)),
        ]

        label = session.get(Label, (1, 608705))
        assert label is not None
        assert label.timestamp == utc("2015-06-02 10:05:00.123456")
        assert label.data == {"damaging": False, "good-faith": True}
        assert sorted(session.scalars(select(User.id))) == [
            555755,
            608705,
            700001,
            700002,
            700003,
        ]

    assert check(sessions) == {"task over-assigned (live assignments > labels_per_task)": 1}


def test_what_our_keys_cannot_hold_is_recorded_as_events(sessions: Factory, source: Engine) -> None:
    run(sessions, source)
    with transaction(sessions) as session:
        events = session.scalars(select(Event).order_by(Event.id)).all()
        rejected = {e.data["key"]: e for e in events if e.type == "import.rejected"}
        assert sorted(rejected) == sorted(
            [f"workset_task:2:{t}" for t in range(21, 26)]
            + ["workset_task:7:37", "workset_task:999:11", "workset:2", "workset:8"]
            + ["label:99999:555755"]
        )
        cross = rejected["workset_task:2:22"].data
        assert cross["row"] == {"workset_id": 2, "task_id": 22}
        assert cross["reason"] == "task of another campaign: task in campaign 1, workset in 3"
        stray = rejected["label:99999:555755"]
        assert stray.user_id == 555755
        assert stray.data["row"] == {
            "task_id": 99999,
            "user_id": 555755,
            "timestamp": "2015-07-02T10:30:00",
            "data": {"anything": [1, 2, 3]},
        }
        assert rejected["workset:2"].data["row"]["created"] == "2015-07-02T10:00:00"
        (synthetic,) = [e for e in events if e.type == "import.synthetic_workset"]
        assert (synthetic.user_id, synthetic.campaign_id) == (555755, 1)
        assert synthetic.data["workset_id"] == -1
        assert sorted(synthetic.data["task_ids"]) == [1, 22]


def test_a_second_run_changes_nothing(sessions: Factory, source: Engine) -> None:
    run(sessions, source)
    before = snapshot(sessions)
    report = run(sessions, source, NOW + dt.timedelta(days=1))
    assert sum(report.copied.values()) == 0
    assert sum(report.updated.values()) == 0
    assert sum(report.rejected.values()) == 0
    assert report.skipped["campaigns"] == 4
    assert report.skipped["tasks"] == 50
    assert report.skipped["workset_tasks"] == 21
    assert report.skipped["labels"] == 12
    assert report.skipped["rejected rows (recorded earlier)"] == 10
    assert snapshot(sessions) == before


def test_a_later_run_copies_what_the_source_gained(sessions: Factory, source: Engine) -> None:
    run(sessions, source)
    load_sql(
        source,
        """
        INSERT INTO campaign (id, name, wiki, form, view, created, labels_per_task,
                              tasks_per_assignment, active)
        VALUES (5, 'Edit quality (20k random sample, 2015)', 'enwiki', 'damaging_and_goodfaith',
                'DiffToPrevious', '2026-05-01 00:00:00', 1, 5, TRUE);
        INSERT INTO task (id, campaign_id, data) VALUES
            (51, 5, '{"rev_id": 1}'), (52, 5, '{"rev_id": 2}');
        -- User 700001 gets a newer workset in campaign 3: it is the open one now.
        INSERT INTO workset VALUES (9, 3, 700001, '2026-05-02 00:00:00', '2099-02-01 00:00:00');
        INSERT INTO workset_task VALUES (9, 44), (9, 45);
        INSERT INTO label VALUES
            (41, 700001, '2026-05-02 01:00:00', '{"damaging": false}'),
            (3, 555755, '2026-05-03 00:00:00', '{"damaging": true}');
        UPDATE label SET data = '{"damaging": true, "good-faith": true}',
                         "timestamp" = '2026-05-04 00:00:00'
        WHERE task_id = 1 AND user_id = 608705;
        """,
    )
    later = NOW + dt.timedelta(days=1)
    report = run(sessions, source, later)
    assert {k: n for k, n in report.copied.items() if n} == {
        "campaigns": 1,
        "tasks": 2,
        "worksets": 1,
        "workset_tasks": 3,  # 44 and 45 in workset 9, and 3 in the synthetic workset
        "labels": 2,
        "label_history": 1,
        "events": 1,  # the synthetic workset grew
    }
    assert report.updated["labels"] == 1
    assert report.updated["workset_tasks labeled"] == 1
    assert report.updated["worksets closed (a newer one is open)"] == 1
    assert sum(report.rejected.values()) == 0

    with transaction(sessions) as session:
        assert session.get(Campaign, 5).name_seq == 2  # type: ignore[union-attr]
        states = dict(session.execute(select(Workset.id, Workset.state)).all())
        assert (states[5], states[9], states[-1]) == ("expired", "open", "complete")
        in_5 = select(WorksetTask.task_id, WorksetTask.state).where(WorksetTask.workset_id == 5)
        slots = dict(session.execute(in_5).all())
        assert slots == {41: "labeled", 42: "expired", 43: "expired"}
        synthetic = session.scalars(
            select(WorksetTask.task_id).where(WorksetTask.workset_id == -1)
        ).all()
        assert sorted(synthetic) == [1, 3, 22]
        label = session.get(Label, (1, 608705))
        assert label is not None
        assert label.data == {"damaging": True, "good-faith": True}
        assert label.timestamp == utc("2026-05-04 00:00:00")
        (history,) = session.scalars(select(LabelHistory)).all()
        assert (history.task_id, history.user_id, history.reason) == (1, 608705, "relabel")
        assert history.data == {"damaging": False, "good-faith": True}
        assert history.timestamp == utc("2015-06-02 10:05:00.123456")
        counts = dict(session.execute(select(Task.id, Task.assigned)).all())
        assert (counts[3], counts[41], counts[42], counts[44]) == (1, 1, 0, 1)
    check(sessions, later)

    before = snapshot(sessions)
    again = run(sessions, source, later)
    assert sum(again.copied.values()) + sum(again.updated.values()) == 0
    assert snapshot(sessions) == before


def test_our_ids_continue_after_the_imported_ones(sessions: Factory, source: Engine) -> None:
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "mysql":
            # The tier empties tables with DELETE, which leaves InnoDB's counters where earlier
            # tests left them; start from a counter as fresh as a new database's.
            for table in ("campaigns", "tasks", "worksets"):
                session.execute(text(f"ALTER TABLE {table} AUTO_INCREMENT = 1"))
    run(sessions, source)
    with transaction(sessions, write=True) as session:
        campaign = create_campaign(
            session,
            wiki="enwiki",
            name="After the import",
            form="damaging_and_goodfaith",
            view="DiffToPrevious",
            labels_per_task=1,
            tasks_per_assignment=2,
            known_forms=FORMS,
        )
        assert campaign.id == 5
        insert_tasks(session, campaign.id, [b'{"rev_id": 1}', b'{"rev_id": 2}'])
        assert max(session.scalars(select(Task.id))) == 52
        workset = assign_workset(session, campaign.id, 42, now=NOW)
        assert workset.id == 8
        # The imported open workset still blocks its user, as Wiki labels did.
        set_active(session, 3, True)
        with pytest.raises(Conflict, match="workset_id=5"):
            assign_workset(session, 3, 700001, now=NOW)
    check(sessions)


def test_a_040_database_without_info_url(sessions: Factory, source: Engine) -> None:
    load_sql(source, "ALTER TABLE campaign DROP COLUMN info_url")
    report = run(sessions, source)
    assert report.copied["campaigns"] == 4
    with transaction(sessions) as session:
        assert set(session.scalars(select(Campaign.info_url))) == {None}


def test_a_database_that_is_not_wiki_labels(sessions: Factory) -> None:
    engine = create_engine(normalize_url(fresh_database("postgres", "wikilabels_empty")))
    try:
        with transaction(sessions) as session, pytest.raises(BadRequest, match="no table"):
            import_wikilabels(session, engine)
    finally:
        engine.dispose()


def test_a_20k_task_campaign_imports_in_seconds(sessions: Factory, source: Engine) -> None:
    load_sql(
        source,
        """
        INSERT INTO campaign (id, name, wiki, form, view, created, labels_per_task,
                              tasks_per_assignment, active)
        VALUES (10, 'Big', 'enwiki', 'damaging_and_goodfaith', 'DiffToPrevious',
                '2017-01-01 00:00:00', 1, 10, TRUE);
        INSERT INTO task (id, campaign_id, data)
        SELECT 1000 + g, 10, json_build_object('rev_id', g) FROM generate_series(1, 20000) g;
        INSERT INTO workset (id, campaign_id, user_id, created, expires)
        SELECT 100 + g, 10, 1000 + g, '2017-01-02', '2017-01-03' FROM generate_series(1, 1000) g;
        INSERT INTO workset_task (workset_id, task_id)
        SELECT 100 + g / 10, 1000 + g FROM generate_series(10, 10009) g;
        INSERT INTO label (task_id, user_id, "timestamp", data)
        SELECT 1000 + g, 1000 + g / 10, '2017-01-02 01:00:00', '{"damaging": false}'
        FROM generate_series(10, 10009) g WHERE g % 2 = 0;
        """,
    )
    started = time.perf_counter()
    report = run(sessions, source)
    elapsed = time.perf_counter() - started
    assert report.copied["tasks"] == 20050
    assert report.copied["workset_tasks"] == 23 + 10000
    assert report.copied["labels"] == 12 + 5000
    assert elapsed < 30, f"import took {elapsed:.1f} s"
    check(sessions)


def test_the_command_line_imports_and_dry_runs(
    settings: Settings, sessions: Factory, source: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", settings.database_url)
    url = source.url.set(drivername="postgresql").render_as_string(hide_password=False)
    cli = CliRunner()

    def campaigns() -> int:
        with transaction(sessions) as session:
            return session.scalar(select(func.count()).select_from(Campaign)) or 0

    dry = cli.invoke(app, ["import-wikilabels", url, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "copied: campaigns 4, users 5, tasks 50" in dry.output
    assert "dry run: nothing was written" in dry.output
    assert campaigns() == 0

    done = cli.invoke(app, ["import-wikilabels", url])
    assert done.exit_code == 0, done.output
    assert "rejected (recorded as import.rejected events): 10" in done.output
    assert "  workset_task: task of another campaign: 5" in done.output
    assert campaigns() == 4

    again = cli.invoke(app, ["import-wikilabels", url])
    assert again.exit_code == 0, again.output
    assert "copied: nothing" in again.output

    bad = cli.invoke(app, ["import-wikilabels", url + "_missing"])
    assert bad.exit_code == 1
    assert "import failed, nothing was copied" in bad.output
    with transaction(sessions) as session:
        assert session.scalar(text("SELECT COUNT(*) FROM events")) == 11


def test_a_label_withdrawn_here_stays_withdrawn(sessions: Factory, source: Engine) -> None:
    run(sessions, source)
    with transaction(sessions, write=True) as session:
        skip_task(session, 1, 1, 608705, now=NOW)
    before = snapshot(sessions)
    report = run(sessions, source, NOW + dt.timedelta(hours=1))
    assert report.skipped["labels (withdrawn in wikiloom)"] == 1
    assert snapshot(sessions) == before


def test_an_id_taken_here_since_stops_a_later_run(sessions: Factory, source: Engine) -> None:
    run(sessions, source)
    with transaction(sessions, write=True) as session:
        create_campaign(
            session,
            wiki="enwiki",
            name="Made here",
            form="damaging_and_goodfaith",
            view="DiffToPrevious",
            labels_per_task=1,
            tasks_per_assignment=2,
            known_forms=FORMS,
        )
        taken = max(session.scalars(select(Campaign.id)))
    load_sql(
        source,
        f"""INSERT INTO campaign (id, name, wiki, form, view, created, labels_per_task,
                                  tasks_per_assignment, active)
            VALUES ({taken}, 'Made there', 'dewiki', 'damaging_and_goodfaith', 'DiffToPrevious',
                    '2026-05-01 00:00:00', 1, 5, TRUE)""",
    )
    before = snapshot(sessions)
    with pytest.raises(Conflict, match=f"campaigns id {taken} exists in wikiloom"):
        run(sessions, source)
    assert snapshot(sessions) == before
