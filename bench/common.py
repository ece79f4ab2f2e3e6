"""What every bench script shares: the machine record, one JSON line per figure, databases."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tests.labels.invariants` and the bench modules themselves
    sys.path.insert(0, str(ROOT))

#: Server URLs on loopback (override with the same variables the tests use).
SERVERS = {
    "postgres": os.environ.get("WIKILOOM_TEST_POSTGRES_URL")
    or "postgresql+psycopg://root@127.0.0.1:5432/postgres",
    "mariadb": os.environ.get("WIKILOOM_TEST_MARIADB_URL")
    or "mysql+pymysql://root@127.0.0.1:3306/test",
}
TIERS = ("postgres", "sqlite", "mariadb")
BENCH_DATABASE = "wikiloom_bench"

SCRIPT = Path(sys.argv[0]).stem


def emit(figure: str, value: float | int | str | None, unit: str, **context: Any) -> None:
    """Print one figure as one JSON line (and flush, so run.py streams it)."""
    record = {
        "figure": figure,
        "value": round(value, 3) if isinstance(value, float) else value,
        "unit": unit,
        "script": SCRIPT,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **context,
    }
    sys.stdout.write(orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """Progress for humans, on stderr (stdout carries only JSON lines)."""
    print(f"[{SCRIPT}] {message}", file=sys.stderr, flush=True)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def server_version(tier: str) -> str | None:
    """The database server's version string, or None when it is unreachable."""
    if tier == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version
    try:
        engine = create_engine(SERVERS[tier])
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version()")).scalar_one()
        engine.dispose()
        return str(version)
    except Exception as error:  # unreachable server: record why
        return f"unreachable: {type(error).__name__}"


def machine() -> dict[str, Any]:
    """The machine and software a run used."""
    return {
        "host": platform.node(),
        "os": platform.platform(),
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "packages": {
            name: _version(name)
            for name in ("wikiloom", "sqlalchemy", "psycopg", "psycopg-binary", "pymysql", "orjson")
        },
        "servers": {tier: server_version(tier) for tier in TIERS},
    }


def available(tier: str) -> bool:
    """Tell whether a tier's server answers."""
    version = server_version(tier)
    return version is not None and not version.startswith("unreachable")


@contextmanager
def fresh_database(tier: str, name: str = BENCH_DATABASE) -> Iterator[str]:
    """Yield the URL of an empty, migrated database (dropped first, and dropped after)."""
    from wikiloom.migrations import upgrade

    if tier == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="wikiloom-bench-"))
        url = f"sqlite:///{directory / 'bench.db'}"
        upgrade(url)
        try:
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    base = make_url(SERVERS[tier])
    admin = create_engine(base, isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as connection:
            if tier == "postgres":
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))

    drop()
    with admin.connect() as connection:
        if tier == "postgres":
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = base.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        if not os.environ.get("WIKILOOM_BENCH_KEEP"):
            drop()
        admin.dispose()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (fraction in 0..1)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def parser(description: str) -> argparse.ArgumentParser:
    """The options every bench script takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument(
        "--tiers",
        default=",".join(TIERS),
        help=f"comma-separated database tiers to run on (default: {','.join(TIERS)})",
    )
    return parser


def tiers(option: str) -> list[str]:
    """The requested tiers that are reachable; the others are reported as skipped."""
    chosen = []
    for tier in (t.strip() for t in option.split(",") if t.strip()):
        if tier not in TIERS:
            raise SystemExit(f"unknown tier {tier!r}; one of {', '.join(TIERS)}")
        if available(tier):
            chosen.append(tier)
        else:
            emit("skipped", None, "", tier=tier, reason=server_version(tier))
    return chosen


def make_settings(url: str, **options: Any) -> Any:
    """Settings for `url`, ignoring any .env file."""
    from wikiloom.config import Settings

    return Settings(database_url=url, _env_file=None, **options)  # type: ignore[call-arg]


def known_forms() -> list[str]:
    """The built-in forms' names."""
    from wikiloom.labels.catalog import load_catalog

    return list(load_catalog())


def new_campaign(factory: Any, *, labels_per_task: int = 2, tasks_per_assignment: int = 10) -> int:
    """Create a damaging/goodfaith DiffToPrevious campaign and return its id."""
    from wikiloom.db import transaction
    from wikiloom.labels.campaigns import create_campaign

    with transaction(factory, write=True) as session:
        campaign = create_campaign(
            session,
            wiki="enwiki",
            name="bench",
            form="damaging_and_goodfaith",
            view="DiffToPrevious",
            labels_per_task=labels_per_task,
            tasks_per_assignment=tasks_per_assignment,
            known_forms=known_forms(),
            force=True,
        )
        return campaign.id


def task_lines(count: int, start: int = 1) -> Iterator[bytes]:
    """`{"rev_id": N}` JSON lines, as a file of tasks holds them."""
    for rev_id in range(start, start + count):
        yield b'{"rev_id": %d}\n' % rev_id


def write_task_file(path: Path, count: int) -> Path:
    """Write `count` task lines to `path`."""
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for line in task_lines(count):
            chunk.append(line)
            if len(chunk) == 100_000:
                out.writelines(chunk)
                chunk.clear()
        out.writelines(chunk)
    return path


def analyze(url: str) -> None:
    """Refresh the planner's statistics after a bulk load."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("VACUUM ANALYZE"))
        elif engine.dialect.name == "sqlite":
            connection.execute(text("ANALYZE"))
        else:
            for table in ("tasks", "worksets", "workset_tasks", "labels"):
                connection.execute(text(f"ANALYZE TABLE {table}"))
    engine.dispose()


def server_settings(url: str) -> dict[str, Any]:
    """The server settings that move latency figures (durability, memory, connections)."""
    engine = create_engine(url)
    found: dict[str, Any] = {}
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            for name in ("synchronous_commit", "fsync", "shared_buffers", "max_connections"):
                found[name] = connection.execute(text(f"SHOW {name}")).scalar_one()
        elif engine.dialect.name == "mysql":
            for name in (
                "innodb_flush_log_at_trx_commit",
                "innodb_buffer_pool_size",
                "max_connections",
                "transaction_isolation",
            ):
                row = connection.execute(text(f"SHOW VARIABLES LIKE '{name}'")).first()
                found[name] = row[1] if row is not None else None
        else:
            found["journal_mode"] = "wal"
            found["synchronous"] = "normal"
    engine.dispose()
    return found


def latency_summary(seconds: Sequence[float]) -> dict[str, Any]:
    """Count, p50, p90, p99 and max of latencies, in milliseconds."""
    return {
        "count": len(seconds),
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 2),
        "p90_ms": round(percentile(seconds, 0.90) * 1000, 2),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 2),
        "max_ms": round(max(seconds, default=float("nan")) * 1000, 2),
    }


GOOD_LABEL = {"damaging": False, "goodfaith": True, "unsure": False}


@dataclass
class Labelers:
    """What labeler threads measured: transaction latencies in seconds, and failures."""

    assign: list[float] = field(default_factory=list)
    label: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    #: CPU seconds of this (client) process per wall second: near 1.0 means the GIL is the limit.
    client_cpu: float = 0.0
    #: Server sessions by (state, wait event), sampled every 50 ms (PostgreSQL only).
    waits: Counter[str] = field(default_factory=Counter)


def _labeler(
    factory: Any, campaign_id: int, user_id: int, deadline: float, think: float
) -> Labelers:
    """One labeler's loop until `deadline`: assign, label each task, assign again."""
    from wikiloom.db import transaction
    from wikiloom.labels.catalog import load_catalog
    from wikiloom.labels.labeling import save_label
    from wikiloom.labels.worksets import assign_workset, workset_tasks

    form = load_catalog()["damaging_and_goodfaith"]
    rng = random.Random(user_id)
    measured = Labelers()
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        try:
            with transaction(factory, write=True) as session:
                workset_id = assign_workset(session, campaign_id, user_id).id
                task_ids = [task.id for task in workset_tasks(session, workset_id)]
        except Exception as error:
            measured.errors[f"assign: {type(error).__name__}: {error}"[:200]] += 1
            time.sleep(0.01)
            continue
        measured.assign.append(time.perf_counter() - began)
        for task_id in task_ids:
            if think:
                time.sleep(think * rng.uniform(0.5, 1.5))
            began = time.perf_counter()
            try:
                with transaction(factory, write=True) as session:
                    save_label(
                        session,
                        form=form,
                        workset_id=workset_id,
                        task_id=task_id,
                        user_id=user_id,
                        data=GOOD_LABEL,
                    )
            except Exception as error:
                measured.errors[f"label: {type(error).__name__}: {error}"[:200]] += 1
                continue
            measured.label.append(time.perf_counter() - began)
    return measured


def run_labelers(
    factory: Any,
    campaign_id: int,
    users: Sequence[int],
    seconds: float,
    *,
    think: float = 0.0,
) -> Labelers:
    """Run one thread per user (each its own pooled connection) for `seconds`.

    Each assignment is one `transaction(factory, write=True)` holding `assign_workset`
    and `workset_tasks` (what a request for a workset does); each label is one
    transaction holding `save_label` (what a label submission does). With `think`, a
    labeler pauses a random 0.5-1.5 x `think` seconds before each label, as people do,
    and arrives at a random moment of the first 10 x `think` seconds; without it the
    loop is closed (a new transaction as soon as the last one ends).
    """
    result = Labelers()
    lock = threading.Lock()
    start = threading.Barrier(len(users) + 1)

    def run(user_id: int) -> None:
        with factory() as session:  # open this thread's connection before the clock starts
            try:
                session.execute(text("SELECT 1"))
            except Exception as error:  # e.g. the server's max_connections: run without it
                with lock:
                    result.errors[f"connect: {type(error).__name__}: {error}"[:200]] += 1
            start.wait(timeout=300)
            deadline = time.perf_counter() + seconds
            session.rollback()
        if think:  # people arrive at random moments, not all at once
            time.sleep(random.Random(-user_id).uniform(0, min(think * 10, seconds / 3)))
        measured = _labeler(factory, campaign_id, user_id, deadline, think)
        with lock:
            result.assign.extend(measured.assign)
            result.label.extend(measured.label)
            result.errors.update(measured.errors)

    threads = [threading.Thread(target=run, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    stop = threading.Event()
    sampler = threading.Thread(target=_sample_waits, args=(factory, stop, result.waits))
    start.wait(timeout=300)
    began, cpu = time.perf_counter(), time.process_time()
    sampler.start()
    for thread in threads:
        thread.join()
    result.wall = time.perf_counter() - began
    result.client_cpu = (time.process_time() - cpu) / result.wall
    stop.set()
    sampler.join()
    return result


def _sample_waits(factory: Any, stop: threading.Event, waits: Counter[str]) -> None:
    """Count what the server's sessions are doing, from a connection of their own."""
    engine = factory.kw["bind"]
    if engine.dialect.name != "postgresql":
        return
    query = text(
        "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'"
    )
    with engine.connect() as connection:
        while not stop.wait(0.05):
            for state, kind, name in connection.execute(query):
                waits[f"{state}: {kind or '-'}/{name or '-'}"] += 1
            connection.commit()


def load_campaign(url: str, tasks: int, **options: int) -> int:
    """Create a campaign and load `tasks` tasks into it through `insert_tasks`."""
    from wikiloom.db import make_engine, session_factory, transaction
    from wikiloom.labels.tasks import insert_tasks

    engine = make_engine(make_settings(url))
    factory = session_factory(engine)
    campaign_id = new_campaign(factory, **options)
    with transaction(factory, write=True) as session:
        insert_tasks(session, campaign_id, task_lines(tasks), seed=1)
    engine.dispose()
    analyze(url)
    return campaign_id


def violation_counts(url: str) -> dict[str, int]:
    """Run the test suite's invariant checks (tests/labels/invariants.py) over the database."""
    from tests.labels.invariants import violations

    from wikiloom.db import make_engine, session_factory, transaction, utcnow

    engine = make_engine(make_settings(url))
    with transaction(session_factory(engine)) as session:
        found = violations(session, utcnow())
    engine.dispose()
    return found
