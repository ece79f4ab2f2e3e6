"""Task inserts: `insert_tasks` and `wikiloom task_inserts` against a plain-driver baseline.

Every measurement loads the same file of `{"rev_id": N}` lines into a fresh, migrated
database (so each one starts from empty indexes) and counts the commit in its time.

Figures, per tier:

* `task_inserts.baseline`: the driver alone (PostgreSQL: COPY, and executemany;
  SQLite and MariaDB: executemany), the same rows, no wikiloom code.
* `task_inserts.insert_tasks`: `insert_tasks` in one `transaction(factory, write=True)`.
* `task_inserts.cli`: `wikiloom task_inserts <id>` as a subprocess, stdin from the file
  (wall time, interpreter start included).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from common import (
    emit,
    fresh_database,
    make_settings,
    new_campaign,
    note,
    parser,
    tiers,
    write_task_file,
)
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.labels.tables import Task
from wikiloom.labels.tasks import insert_tasks

GOAL = {"postgres": 50_000}  # tasks/s


def _rows(path: Path, campaign_id: int) -> Iterator[tuple[int, str, int, float]]:
    rng = random.Random(1)
    with path.open("rb") as lines:
        for line in lines:
            yield (campaign_id, line.decode().strip(), 0, rng.random())


def _count(url: str, campaign_id: int) -> int:
    engine = make_engine(make_settings(url))
    with transaction(session_factory(engine)) as session:
        count = session.scalar(select(func.count()).where(Task.campaign_id == campaign_id))
    engine.dispose()
    return int(count or 0)


def _baseline(tier: str, url: str, campaign_id: int, path: Path, method: str) -> float:
    """Insert the file's rows with the bare driver; return seconds."""
    sql_values = "(campaign_id, data, assigned, priority) VALUES (%s, %s, %s, %s)"
    started = time.perf_counter()
    if tier == "postgres":
        import psycopg

        conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
            if method == "copy":
                copy_sql = "COPY tasks (campaign_id, data, assigned, priority) FROM STDIN"
                with cursor.copy(copy_sql) as copy:
                    for row in _rows(path, campaign_id):
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO tasks {sql_values}", _rows(path, campaign_id))
    elif tier == "sqlite":
        import sqlite3

        connection = sqlite3.connect(make_url(url).database or "")
        with connection:
            connection.executemany(
                "INSERT INTO tasks (campaign_id, data, assigned, priority) VALUES (?, ?, ?, ?)",
                _rows(path, campaign_id),
            )
        connection.close()
    else:
        import pymysql

        parsed = make_url(url)
        connection = pymysql.connect(
            host=parsed.host,
            port=parsed.port or 3306,
            user=parsed.username,
            password=parsed.password or "",
            database=parsed.database,
            charset="utf8mb4",
        )
        with connection.cursor() as cursor:
            rows = list(_rows(path, campaign_id))
            for start in range(0, len(rows), 5000):
                cursor.executemany(f"INSERT INTO tasks {sql_values}", rows[start : start + 5000])
        connection.commit()
        connection.close()
    return time.perf_counter() - started


def _insert_tasks(url: str, campaign_id: int, path: Path) -> float:
    engine = make_engine(make_settings(url))
    factory = session_factory(engine)
    started = time.perf_counter()
    with path.open("rb") as lines, transaction(factory, write=True) as session:
        insert_tasks(session, campaign_id, lines, seed=1)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _cli(url: str, campaign_id: int, path: Path) -> float:
    wikiloom = Path(sys.executable).with_name("wikiloom")
    env = {**os.environ, "WIKILOOM_DATABASE_URL": url}
    started = time.perf_counter()
    with path.open("rb") as stdin:
        done = subprocess.run(
            [str(wikiloom), "task_inserts", str(campaign_id)],
            stdin=stdin,
            capture_output=True,
            env=env,
            check=False,
        )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"wikiloom task_inserts failed: {done.stderr.decode()[-2000:]}")
    return elapsed


def measure(tier: str, method: str, path: Path, tasks: int) -> float:
    """Load the file once with `method` into a fresh database; return tasks/s."""
    with fresh_database(tier) as url:
        campaign_id = new_campaign(session_factory(make_engine(make_settings(url))))
        if method in ("copy", "executemany"):
            elapsed = _baseline(tier, url, campaign_id, path, method)
        elif method == "insert_tasks":
            elapsed = _insert_tasks(url, campaign_id, path)
        else:
            elapsed = _cli(url, campaign_id, path)
        loaded = _count(url, campaign_id)
    if loaded != tasks:
        raise RuntimeError(f"{tier} {method}: {loaded} tasks loaded, expected {tasks}")
    rate = tasks / elapsed
    note(f"{tier} {method}: {tasks} tasks in {elapsed:.2f} s = {rate:,.0f}/s")
    return rate


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    tasks = 100_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="wikiloom-bench-") as directory:
        path = write_task_file(Path(directory) / "tasks.jsonl", tasks)
        for tier in tiers(args.tiers):
            baselines = ["copy", "executemany"] if tier == "postgres" else ["executemany"]
            rates = {method: measure(tier, method, path, tasks) for method in baselines}
            reference = baselines[0]
            for method, rate in rates.items():
                emit(
                    "task_inserts.baseline",
                    rate,
                    "tasks/s",
                    tier=tier,
                    method=method,
                    tasks=tasks,
                    what="bare driver, same rows, no wikiloom code",
                )
            for method in ("insert_tasks", "cli"):
                rate = measure(tier, method, path, tasks)
                goal = GOAL.get(tier)
                emit(
                    f"task_inserts.{method}",
                    rate,
                    "tasks/s",
                    tier=tier,
                    tasks=tasks,
                    baseline=reference,
                    ratio_to_baseline=round(rate / rates[reference], 3),
                    **(
                        {"ratio_to_executemany": round(rate / rates["executemany"], 3)}
                        if reference != "executemany"
                        else {}
                    ),
                    goal=goal,
                    goal_met=None if goal is None else rate >= goal,
                )


if __name__ == "__main__":
    main()
