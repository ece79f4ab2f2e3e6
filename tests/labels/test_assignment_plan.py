"""Assignment walks the index in serving order: each engine's plan of the picking query on a
campaign of 50,000 tasks uses `ix_tasks_assignment` and never sorts the campaign."""

from __future__ import annotations

import random
import re
from typing import Any

import orjson
from sqlalchemy import Engine, bindparam, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from wikiloom.db import transaction
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tables import Campaign, Task
from wikiloom.labels.tasks import insert_tasks
from wikiloom.labels.worksets import TASKS, assign_workset, candidate_tasks, workset_tasks

SIZE = 50_000
FORM = load_catalog()["damaging_and_goodfaith"]


def plan(engine: Engine, session: Session, campaign: Campaign, user_id: int) -> list[Any]:
    """The engine's plan of the picking query (as `_pick_tasks` runs it), as rows."""
    walk = candidate_tasks(campaign, user_id).limit(campaign.tasks_per_assignment)
    walk = walk.with_for_update(key_share=True, skip_locked=True)
    sql = str(walk.compile(engine, compile_kwargs={"literal_binds": True}))
    explain = {"postgresql": "EXPLAIN ", "mysql": "EXPLAIN ", "sqlite": "EXPLAIN QUERY PLAN "}
    return list(session.execute(text(explain[engine.dialect.name] + sql)))


def test_the_picking_query_walks_the_assignment_index(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions, write=True) as session:
        campaign = campaign_with_tasks(session, 0, labels_per_task=2, tasks_per_assignment=20)
        other = campaign_with_tasks(session, 0, name="other campaign")
        lines = [orjson.dumps({"rev_id": n}) for n in range(1, SIZE + 1)]
        insert_tasks(session, campaign.id, lines, seed=1)
        insert_tasks(session, other.id, lines[:5000], seed=2)
    # Active learning re-prioritised part of the campaign; someone labeled a workset.
    rng = random.Random(0)
    with transaction(sessions, write=True) as session:
        ids = session.scalars(select(Task.id).where(Task.campaign_id == campaign.id)).all()
        session.execute(
            update(TASKS).where(TASKS.c.id == bindparam("task_id")).values(priority=bindparam("p")),
            [{"task_id": task_id, "p": rng.random()} for task_id in ids[::3]],
        )
    with transaction(sessions, write=True) as session:
        workset = assign_workset(session, campaign.id, 1)
        for task in workset_tasks(session, workset.id):
            save_label(
                session, form=FORM, workset_id=workset.id, task_id=task.id, user_id=1,
                data=GOOD_LABEL,
            )  # fmt: skip
    with engine.begin() as connection:  # the statistics a production database keeps
        analyze = {"postgresql": "ANALYZE tasks", "mysql": "ANALYZE TABLE tasks"}
        connection.execute(text(analyze.get(engine.dialect.name, "ANALYZE")))

    with transaction(sessions) as session:
        found = session.get_one(Campaign, campaign.id)
        rows = plan(engine, session, found, 1)
    shown = "\n".join(" | ".join(str(cell) for cell in row) for row in rows)
    if engine.dialect.name == "postgresql":
        assert "ix_tasks_assignment" in shown, shown
        assert "Sort" not in shown, shown
        assert "Seq Scan on tasks" not in shown, shown
    elif engine.dialect.name == "mysql":
        tasks = [row._mapping for row in rows if row._mapping["table"] == "tasks"]
        assert [row["key"] for row in tasks] == ["ix_tasks_assignment"], shown
        assert all("filesort" not in (row._mapping["Extra"] or "") for row in rows), shown
    else:
        assert re.search(r"SEARCH tasks USING (COVERING )?INDEX ix_tasks_assignment", shown), shown
        assert "TEMP B-TREE" not in shown, shown
