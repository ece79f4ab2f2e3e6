"""What every bench script shares: the machine record, one JSON line per figure, databases."""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

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
    # A new admin connection each time (no pool): the server may restart in between (faults).
    admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)

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
    """What labeler threads measured: transaction latencies in seconds, failures, CPU use."""

    assign: list[float] = field(default_factory=list)
    label: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    #: CPU seconds used by every client process (labelers and the wait sampler) over the run.
    client_cpu_seconds: float = 0.0
    #: Client processes, and labeler threads in each (the last may have fewer).
    processes: int = 1
    threads: int = 0
    #: Connection pool size of each client process's engine.
    pool_size: int = 0
    #: CPU seconds of the database server's processes per wall second (None: no local server).
    server_cpu: float | None = None
    #: Share of all the machine's CPU time that was busy (not idle, not I/O wait) in the run.
    machine_busy: float | None = None
    #: Server sessions by (state, wait event), sampled every 50 ms (PostgreSQL only).
    waits: Counter[str] = field(default_factory=Counter)

    @property
    def client_cpu(self) -> float:
        """Client CPU seconds per wall second (all client processes together)."""
        return self.client_cpu_seconds / self.wall if self.wall else float("nan")

    def context(self) -> dict[str, Any]:
        """The keys every line of this run carries: who was busy, client or server."""
        cores = os.cpu_count() or 1
        return {
            "client_processes": self.processes,
            "threads_per_process": self.threads,
            "pool_size": self.pool_size,
            "cpus": cores,
            "client_cpu_per_wall": round(self.client_cpu, 2),
            "client_cpu_per_wall_per_core": round(self.client_cpu / cores, 2),
            "server_cpu_per_wall": None if self.server_cpu is None else round(self.server_cpu, 2),
            "machine_cpu_busy": None if self.machine_busy is None else round(self.machine_busy, 2),
        }


def _labeler(
    factory: Any,
    campaign_id: int,
    user_id: int,
    deadline: float,
    think: float,
    *,
    rounds: int | None = None,
) -> Labelers:
    """One labeler's loop until `deadline` (or `rounds` assignments): assign, label each
    task, assign again."""
    from wikiloom.db import transaction
    from wikiloom.labels.catalog import load_catalog
    from wikiloom.labels.labeling import save_label
    from wikiloom.labels.worksets import assign_workset, workset_tasks

    form = load_catalog()["damaging_and_goodfaith"]
    rng = random.Random(user_id)
    measured = Labelers()
    while time.perf_counter() < deadline and rounds != 0:
        rounds = None if rounds is None else rounds - 1
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


def run_together(
    users: Sequence[int],
    seconds: float,
    think: float,
    ready: Callable[[], object],
    body: Callable[[int, Callable[[], float]], None],
) -> tuple[float, float]:
    """Run `body(user, start)` in one thread per user, all released at the same moment.

    Each thread connects, then calls `start()`: it waits until every thread has connected and
    `ready()` has run (in a client process: the other processes are ready too), then returns
    the thread's deadline, `seconds` from now; with `think`, people then arrive at random
    moments, not all at once. Answers the wall and CPU seconds of the run in this process.
    """
    connected = threading.Barrier(len(users) + 1)
    go = threading.Event()
    window = [seconds]  # set to 0 when the start failed: the threads then stop at once

    def start_of(user: int) -> Callable[[], float]:
        def start() -> float:
            connected.wait(timeout=600)
            go.wait()
            deadline = time.perf_counter() + window[0]
            if think and window[0]:
                time.sleep(random.Random(-user).uniform(0, min(think * 10, seconds / 3)))
            return deadline

        return start

    threads = [threading.Thread(target=body, args=(user, start_of(user))) for user in users]
    for thread in threads:
        thread.start()
    try:
        connected.wait(timeout=600)
        ready()
    except BaseException:
        window[0] = 0.0
        raise
    finally:
        began, cpu = time.perf_counter(), time.process_time()
        go.set()
        for thread in threads:
            thread.join()
    return time.perf_counter() - began, time.process_time() - cpu


#: Each client process warms up as user WARM_UP_USERS + its first labeler's id.
WARM_UP_USERS = 1_000_000_000


def _run_threads(
    url: str,
    campaign_id: int,
    users: Sequence[int],
    seconds: float,
    think: float,
    ready: Callable[[], object],
) -> Labelers:
    """Run one labeler thread per user in this process, its own engine and pool.

    The process first warms up (imports, mappers, the engine's statement cache: what a
    long-running worker has done long ago) with one workset of a user of its own, labeled
    to the end. Every thread then opens its connection; `ready()` runs (in a client
    process: wait for the other client processes) and the clock starts.
    """
    from wikiloom.db import make_engine, session_factory

    result = Labelers(processes=1, threads=len(users), pool_size=len(users) + 2)
    engine = make_engine(make_settings(url, database_pool_size=result.pool_size))
    factory = session_factory(engine)
    _labeler(factory, campaign_id, WARM_UP_USERS + users[0], float("inf"), 0.0, rounds=1)
    lock = threading.Lock()

    def run(user_id: int, start: Callable[[], float]) -> None:
        with factory() as session:  # open this thread's connection before the clock starts
            try:
                session.execute(text("SELECT 1"))
            except Exception as error:  # e.g. the server's max_connections: run without it
                with lock:
                    result.errors[f"connect: {type(error).__name__}: {error}"[:200]] += 1
            session.rollback()
            deadline = start()
        measured = _labeler(factory, campaign_id, user_id, deadline, think)
        with lock:
            result.assign.extend(measured.assign)
            result.label.extend(measured.label)
            result.errors.update(measured.errors)

    try:
        result.wall, result.client_cpu_seconds = run_together(users, seconds, think, ready, run)
    finally:
        engine.dispose()
    return result


def _labeler_process(
    url: str,
    campaign_id: int,
    users: list[int],
    seconds: float,
    think: float,
    start: Any,
    results: Any,
) -> None:
    """A client process (multiprocessing spawn): its labeler threads; results go to `results`."""
    try:
        measured = _run_threads(
            url, campaign_id, users, seconds, think, lambda: start.wait(timeout=600)
        )
    except BaseException as error:
        start.abort()  # the parent and the other processes stop waiting for this one
        measured = Labelers(threads=len(users))
        measured.errors[f"process: {type(error).__name__}: {error}"[:200]] += 1
    results.put(measured)


def run_labelers(
    url: str,
    campaign_id: int,
    users: Sequence[int],
    seconds: float,
    *,
    think: float = 0.0,
    processes: int = 1,
) -> Labelers:
    """Run one labeler thread per user, spread over `processes` client processes.

    Each assignment is one `transaction(factory, write=True)` holding `assign_workset`
    and `workset_tasks` (what a request for a workset does); each label is one
    transaction holding `save_label` (what a label submission does). With `think`, a
    labeler pauses a random 0.5-1.5 x `think` seconds before each label, as people do,
    and arrives at a random moment of the first 10 x `think` seconds; without it the
    loop is closed (a new transaction as soon as the last one ends).

    With one process the threads run here and share its GIL; with more, each process
    (multiprocessing spawn, like the workers of a deployment) runs an even share of the
    threads with its own engine, its pool sized for its threads. All threads of all
    processes connect before the clock starts. Meanwhile this process samples what the
    server's sessions wait on (PostgreSQL) and the CPU time of the server and machine.
    """
    users = list(users)
    processes = max(1, min(processes, len(users)))
    groups = [users[index::processes] for index in range(processes)]
    stop = threading.Event()
    waits: Counter[str] = Counter()
    sampler = threading.Thread(target=_sample_waits, args=(url, stop, waits))
    dialect = make_url(url).get_backend_name()
    before: dict[str, Any] = {}

    def clock_starts() -> None:
        before.update(cpu_snapshot(dialect), wall=time.perf_counter(), own=time.process_time())
        sampler.start()

    if processes == 1:
        result = _run_threads(url, campaign_id, users, seconds, think, clock_starts)
        own_cpu = 0.0  # the sampler's CPU is already in this process's time
    else:
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(processes + 1)
        results = context.Queue()
        children = [
            context.Process(
                target=_labeler_process,
                args=(url, campaign_id, group, seconds, think, start, results),
                daemon=True,
            )
            for group in groups
        ]
        for child in children:
            child.start()
        # Spawning the interpreters takes seconds on 2 cores. A process that failed to
        # start breaks the barrier and reports why with its (empty) result.
        with suppress(threading.BrokenBarrierError):
            start.wait(timeout=600)
        clock_starts()
        parts: list[Labelers] = [results.get(timeout=seconds + 600) for _ in children]
        own_cpu = time.process_time() - before["own"]
        for child in children:
            child.join(timeout=60)
        result = Labelers(
            processes=processes,
            threads=len(groups[0]),
            pool_size=max(part.pool_size for part in parts),
            wall=max(part.wall for part in parts),
        )
        for part in parts:
            result.assign.extend(part.assign)
            result.label.extend(part.label)
            result.errors.update(part.errors)
            result.client_cpu_seconds += part.client_cpu_seconds
    after = cpu_snapshot(dialect)
    stop.set()
    if sampler.is_alive():
        sampler.join()
    result.client_cpu_seconds += own_cpu
    result.waits = waits
    if before:
        wall = time.perf_counter() - before["wall"]
        if after["server"] is not None and before["server"] is not None:
            result.server_cpu = (after["server"] - before["server"]) / wall
        total = after["total"] - before["total"]
        if total > 0:
            result.machine_busy = 1 - (after["idle"] - before["idle"]) / total
    return result


def _sample_waits(url: str, stop: threading.Event, waits: Counter[str]) -> None:
    """Count what the server's sessions are doing, from a connection of their own."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    engine = create_engine(url, poolclass=NullPool)
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
    engine.dispose()


#: Process names of each dialect's local database server.
SERVER_PROCESSES = {"postgresql": {"postgres"}, "mysql": {"mariadbd", "mysqld"}}


def cpu_snapshot(dialect: str) -> dict[str, Any]:
    """Jiffies of the whole machine (total, idle + iowait) and CPU seconds of the server.

    The server's figure sums user + system time of its live processes and the time of
    its exited children (cutime + cstime, collected by the postmaster), read from /proc;
    it is None when no such process is visible (another machine, SQLite).
    """
    found: dict[str, Any] = {"total": 0, "idle": 0, "server": None}
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        found["total"] = sum(fields[:8])  # user nice system idle iowait irq softirq steal
        found["idle"] = fields[3] + fields[4]
    except (OSError, ValueError, IndexError):
        pass
    names = SERVER_PROCESSES.get(dialect)
    if not names:
        return found
    ticks = os.sysconf("SC_CLK_TCK")
    server = 0
    seen = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name not in names:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        server += sum(int(value) for value in rest[11:15])  # utime stime cutime cstime
        seen = True
    if seen:
        found["server"] = server / ticks
    return found


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


def emit_invariants(figure: str, url: str, **context: Any) -> None:
    """Check the invariants over the database and print `figure`: the rows breaking them."""
    found = violation_counts(url)
    emit(figure, sum(found.values()), "rows", checks=found, goal=0, goal_met=not found, **context)


def start_clients(target: Any, arguments: list[tuple[Any, ...]]) -> tuple[list[Any], Any]:
    """Start one spawned client process per argument tuple, called as
    `target(*args, start, results)`, and release them together once all are ready (the
    `start` barrier); answer the processes and the queue their results come back on."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(arguments) + 1)
    results = context.Queue()
    children = [
        context.Process(target=target, args=(*args, start, results), daemon=True)
        for args in arguments
    ]
    for child in children:
        child.start()
    with suppress(threading.BrokenBarrierError):
        start.wait(timeout=600)
    return children, results


def collect_clients(children: list[Any], results: Any, timeout: float) -> list[Any]:
    """Each client process's result, then the processes joined."""
    found = [results.get(timeout=timeout) for _ in children]
    for child in children:
        child.join(timeout=60)
    return found
