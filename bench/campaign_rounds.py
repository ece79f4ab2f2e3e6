"""Active-learning rounds of a large campaign: how long reading, fitting and writing take.

A campaign of `--tasks` revisions (100,000; 20,000 with --quick), each with a stored
feature vector (a row of the enwiki editquality sample, jittered), of which 1,000 are
labeled through the labeling service (`damaging` = the row's real `reverted`), runs
`run_round` with margin sampling. Figures, per tier:

* `campaign_rounds.read`, `.fit`, `.write`: seconds of the round's phases (`RoundReport.seconds`);
  `.write` re-prioritises every unlabeled non-holdout task (one executemany by primary key)
  and marks the holdout, in the caller's transaction, commit excluded.
* `campaign_rounds.write_per_task`: microseconds per updated task.
* `campaign_rounds.baseline_update_per_task`: the same executemany, with new random
  priorities, on the same rows without wikiloom's code: the write's floor on this tier.
* `campaign_rounds.due`: milliseconds of `due_campaigns` (what the scheduler asks each minute).
* `campaign_rounds.assign_after`: milliseconds of the first `assign_workset` after the round.

The tables are analyzed after the build (see `analyze`).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import orjson
from sqlalchemy import Engine, bindparam, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from common import emit, fresh_database, machine, make_settings, note, parser, tiers
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.learning import LearningSettings
from wikiloom.labels.tables import Task
from wikiloom.labels.tasks import insert_tasks
from wikiloom.labels.worksets import TASKS, assign_workset, workset_tasks
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.featurestore import store_vectors
from wikiloom.learn.rounds import due_campaigns, plan_round, record_round

SAMPLE = (
    Path(__file__).resolve().parent.parent / "tests/data/editquality" / "enwiki.reverted.sample.csv"
)
FORM = load_catalog()["damaging_and_goodfaith"]
LABELS, WORKSET = 1000, 100


def build(factory: sessionmaker[Session], size: int) -> tuple[int, dict[int, bool]]:
    """A campaign of `size` revisions with stored features; the truth by rev_id."""
    data = read_dataset(SAMPLE, "reverted")
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(data.y), size)
    X = data.X[rows] * rng.normal(1.0, 0.05, (size, data.X.shape[1]))
    truth = {
        rev_id: bool(data.y[row]) for rev_id, row in zip(range(1, size + 1), rows, strict=True)
    }
    learning = LearningSettings("margin", 0.2, 50, "damaging", "ores.enwiki.demo")
    with transaction(factory, write=True) as session:
        campaign = create_campaign(
            session, wiki="enwiki", name="Rounds bench", form=FORM.key, view="DiffToPrevious",
            labels_per_task=1, tasks_per_assignment=WORKSET, known_forms=[FORM.key],
            learning=learning, form_fields=FORM.fields,
        )  # fmt: skip
        insert_tasks(session, campaign.id, (orjson.dumps({"rev_id": r}) for r in truth), seed=1)
        for start in range(0, size, 10_000):
            chunk = range(start + 1, min(size, start + 10_000) + 1)
            vectors = {rev_id: X[rev_id - 1].tolist() for rev_id in chunk}
            store_vectors(session, "enwiki", "ores.enwiki.demo", 1, X.shape[1], vectors)
        campaign_id = campaign.id
    for user in range(1, LABELS // WORKSET + 1):
        with transaction(factory, write=True) as session:
            workset = assign_workset(session, campaign_id, user)
            for task in workset_tasks(session, workset.id):
                value = {"damaging": truth[task.data["rev_id"]], "goodfaith": True, "unsure": False}
                save_label(
                    session, form=FORM, workset_id=workset.id, task_id=task.id, user_id=user,
                    data=value,
                )  # fmt: skip
    return campaign_id, truth


def analyze(engine: Engine) -> None:
    """Give the planner the statistics a production database has (autovacuum, in PostgreSQL).

    Right after the build PostgreSQL has none for `feature_vectors`, and its plan for the
    feature store's lookups scans every vector of the wiki per chunk of 500 (10-20 times
    slower); a store filled by a job a minute earlier is in the same state.
    """
    statements = {
        "postgresql": ["ANALYZE"],
        "mysql": ["ANALYZE TABLE tasks, labels, feature_vectors, workset_tasks"],
        "sqlite": ["ANALYZE"],
    }
    with engine.begin() as connection:
        for statement in statements[engine.dialect.name]:
            connection.execute(text(statement))


def main() -> None:
    options = parser(__doc__ or "").parse_args()
    size = 20_000 if options.quick else 100_000
    emit("machine", None, "", **machine())
    for tier in tiers(options.tiers):
        with fresh_database(tier, "wikiloom_bench_rounds") as url:  # apart from the others
            engine = make_engine(make_settings(url))
            factory = session_factory(engine)
            note(f"{tier}: building a campaign of {size:,} tasks")
            campaign_id, _ = build(factory, size)
            analyze(engine)
            with transaction(factory) as session:
                plan = plan_round(session, campaign_id)
            with transaction(factory, write=True) as session:
                report = record_round(session, plan)
            updated = len(plan.updates)
            context = {"tier": tier, "tasks": size, "labels": report.labels, "updated": updated}
            for phase in ("read", "fit", "write"):
                emit(f"campaign_rounds.{phase}", report.seconds[phase], "s", **context)
            emit("campaign_rounds.write_per_task", 1e6 * report.seconds["write"] / updated, "us",
                 **context)  # fmt: skip
            rng = random.Random(2)
            with transaction(factory, write=True) as session:
                ids = [task_id for task_id, _, _ in plan.updates]
                started = time.perf_counter()
                session.execute(
                    update(TASKS)
                    .where(TASKS.c.id == bindparam("task_id"))
                    .values(priority=bindparam("p")),
                    [{"task_id": task_id, "p": rng.random()} for task_id in ids],
                )
                seconds = time.perf_counter() - started
            emit("campaign_rounds.baseline_update_per_task", 1e6 * seconds / updated, "us",
                 **context)  # fmt: skip
            started = time.perf_counter()
            with transaction(factory) as session:
                due_campaigns(session)
            emit("campaign_rounds.due", 1000 * (time.perf_counter() - started), "ms", **context)
            started = time.perf_counter()
            with transaction(factory, write=True) as session:
                assign_workset(session, campaign_id, 10_000)
            emit("campaign_rounds.assign_after", 1000 * (time.perf_counter() - started), "ms",
                 **context)  # fmt: skip
            with transaction(factory) as session:
                count = session.scalar(select(Task.id).where(Task.holdout.is_(True)).limit(1))
            assert count is not None
            engine.dispose()


if __name__ == "__main__":
    main()
