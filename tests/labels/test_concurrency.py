"""Assignment under real concurrency: threads on PostgreSQL and MariaDB, processes on SQLite.

Every racer holds its own connection and starts at a barrier. A `Conflict` is an answer; a
deadlock victim is run again (as `wikiloom.db.run_transaction` does for the application)
and deadlocks must stay rare; any other exception fails the test with every racer's
traceback. The final state must satisfy `invariants.violations`, and once
labelers kept asking until "No tasks available", every task holds exactly `labels_per_task`
labels.

The thread tests run on a private database on the tier's server (created here, dropped
after), so that another test session truncating the shared test database cannot disturb
a twenty-second race.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import re
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import fresh_database
from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from tests.labels.invariants import violations
from wikiloom.config import Settings
from wikiloom.db import is_retryable, make_engine, run_transaction, session_factory, transaction
from wikiloom.errors import Conflict
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tables import LEASED, OPEN, Label, LabelHistory, Task, Workset, WorksetTask
from wikiloom.labels.worksets import abandon_workset, assign_workset, skip_task, workset_tasks
from wikiloom.migrations import upgrade

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
FORM = load_catalog()["damaging_and_goodfaith"]
OTHER_LABEL = {"damaging": True, "goodfaith": False, "unsure": True}
Factory = sessionmaker[Session]
T = TypeVar("T")

THREADS = 32
PROCESSES = 6
TASKS, LABELS_PER_TASK, TASKS_PER_ASSIGNMENT = 40, 2, 3
JOIN_TIMEOUT = 90.0

#: The conflicts a racer may meet, by kind; anything else is reported verbatim.
CONFLICT_KINDS = {
    "no tasks": r"^No tasks available for user_id=",
    "open workset": r"^Incomplete (workset_id=\d+|a workset) already assigned to user_id=",
    "expired lease": r"expired; request a new workset$",
    "given back": r"^task_id=\d+ was (skipped|released) in workset_id=",
}


def conflict_kind(error: Conflict) -> str:
    """Name the kind of a conflict, or return its message when it is of no known kind."""
    for kind, pattern in CONFLICT_KINDS.items():
        if re.search(pattern, error.message):
            return kind
    return error.message


class Counter64(Protocol):
    """A shared integer (a `multiprocessing.Value`) behind a lock."""

    value: int

    def get_lock(self) -> Any: ...


class Clock:
    """A shared simulated clock: every call is one tick later than the one before."""

    def __init__(self, ticks: Counter64, step: float = 1.0) -> None:
        self.ticks = ticks
        self.step = step

    def __call__(self) -> dt.datetime:
        with self.ticks.get_lock():
            self.ticks.value += 1
            tick = self.ticks.value
        return T0 + dt.timedelta(seconds=tick * self.step)

    def peek(self) -> dt.datetime:
        """The time of the latest tick, without advancing."""
        with self.ticks.get_lock():
            return T0 + dt.timedelta(seconds=self.ticks.value * self.step)


def new_clock(step: float = 1.0) -> Clock:
    return Clock(multiprocessing.get_context("spawn").Value("q", 0), step)


@dataclass
class Mix:
    """How a labeler treats each task of its workset (probabilities; the rest is labeled)."""

    skip: float = 0.0
    label_then_skip: float = 0.0
    relabel: float = 0.0
    abandon: float = 0.0
    dawdle: float = 0.0  # chance, per workset, of sleeping while the clock runs on


LABEL_ONLY = Mix()
MIXED = Mix(skip=0.12, label_then_skip=0.05, relabel=0.06, abandon=0.06, dawdle=0.15)


@dataclass
class Tally:
    """What one racer did and which conflicts it met."""

    worksets: list[tuple[int, list[int]]] = field(default_factory=list)
    labeled: int = 0
    relabeled: int = 0
    skipped: int = 0
    withdrawn: int = 0
    abandoned: int = 0
    conflicts: Counter[str] = field(default_factory=Counter)

    def note(self, error: Conflict) -> str:
        kind = conflict_kind(error)
        self.conflicts[kind] += 1
        return kind

    def add(self, other: Tally) -> None:
        self.worksets += other.worksets
        self.labeled += other.labeled
        self.relabeled += other.relabeled
        self.skipped += other.skipped
        self.withdrawn += other.withdrawn
        self.abandoned += other.abandoned
        self.conflicts.update(other.conflicts)


#: Tracebacks of the deadlocks the databases reported in this process, and the number of
#: transactions run. A deadlock victim is rolled back and run again by
#: `wikiloom.db.run_transaction`, as the application does; the test fails when deadlocks
#: are more than a rare event (see `check_deadlocks`).
DEADLOCKS: list[str] = []
TRANSACTIONS: list[int] = []
DEADLOCK_RETRIES = 10
#: Deadlocks allowed per transaction. Lock order (user, worksets, leases, tasks by id) keeps
#: them rare (0-2 % in these deliberately crowded races: 32 racers on 40 tasks, though one
#: full CI run on 2026-12-01 saw 6.3 % on MariaDB in the mixed race); InnoDB's next-key
#: locks on unique secondary indexes cause most of them.
DEADLOCK_RATE = 0.08


def _note_retry(error: BaseException) -> None:
    assert is_retryable(error)
    DEADLOCKS.append("".join(traceback.format_exception(error)))


def retrying(factory: Factory, work: Callable[[Session], T]) -> T:
    """Run a whole transaction, again when the server chose it as a deadlock's victim."""
    TRANSACTIONS.append(1)
    return run_transaction(
        factory, work, write=True, attempts=DEADLOCK_RETRIES, on_retry=_note_retry
    )


def where_deadlocked(tracebacks: list[str]) -> Counter[str]:
    """Count deadlocks by the line of wikiloom that ran the statement, and the statement."""
    places: Counter[str] = Counter()
    for text_ in tracebacks:
        frames = re.findall(r'File ".*?/(wikiloom/[^"]+)", line (\d+), in (\w+)', text_)
        where = ":".join(frames[-1]) if frames else "?"
        statement = re.search(
            r"(?:deadlock detected|Deadlock found).*?\[SQL: ([^\n]+)", text_, re.S
        )
        places[f"{where} {statement.group(1)[:48] if statement else ''}".strip()] += 1
    return places


def check_deadlocks(tracebacks: list[str], transactions: int) -> None:
    """Fail when deadlocks were more than rare; WIKILOOM_TEST_DEADLOCK_LOG=path keeps them."""
    if log := os.environ.get("WIKILOOM_TEST_DEADLOCK_LOG"):
        with open(log, "a", encoding="utf-8") as out:
            out.write("\n\n".join(tracebacks))
    print(
        f"{len(tracebacks)} deadlocks retried in {transactions} transactions:",
        dict(where_deadlocked(tracebacks)),
    )
    if len(tracebacks) > DEADLOCK_RATE * max(transactions, 1):
        pytest.fail(
            f"{len(tracebacks)} deadlocks in {transactions} transactions (each retried; the "
            f"final state passed every check above), by place: "
            f"{dict(where_deadlocked(tracebacks))}\nfirst one:\n{tracebacks[0]}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _deadlocks() -> Iterator[None]:
    DEADLOCKS.clear()
    TRANSACTIONS.clear()
    yield
    DEADLOCKS.clear()
    TRANSACTIONS.clear()


def assign(
    factory: Factory, campaign_id: int, user: int, now: dt.datetime
) -> tuple[int, list[int]]:
    """Assign a workset in its own transaction; return its id and task ids."""

    def work(session: Session) -> tuple[int, list[int]]:
        workset = assign_workset(session, campaign_id, user, now=now)
        return workset.id, [task.id for task in workset_tasks(session, workset.id)]

    return retrying(factory, work)


def label(
    factory: Factory, workset_id: int, task_id: int, user: int, now: dt.datetime, data: Any
) -> None:
    retrying(
        factory,
        lambda session: save_label(
            session, form=FORM, workset_id=workset_id, task_id=task_id, user_id=user,
            data=data, now=now,
        ),
    )  # fmt: skip


def skip(factory: Factory, workset_id: int, task_id: int, user: int, now: dt.datetime) -> bool:
    """Skip a task; tell whether a label was withdrawn by it."""
    return retrying(
        factory, lambda session: skip_task(session, workset_id, task_id, user, now=now) is not None
    )


def abandon(factory: Factory, workset_id: int, user: int, now: dt.datetime) -> None:
    retrying(factory, lambda session: abandon_workset(session, workset_id, user, now=now))


def work_through(
    factory: Factory,
    held: tuple[int, list[int]],
    user: int,
    *,
    clock: Clock,
    rng: random.Random,
    mix: Mix,
    tally: Tally,
) -> None:
    """Label, skip or abandon the tasks of a workset, one request per transaction."""
    workset_id, task_ids = held
    if rng.random() < mix.dawdle:
        time.sleep(rng.uniform(0.02, 0.2))
    for task_id in task_ids:
        roll = rng.random()
        try:
            if roll < mix.abandon:
                abandon(factory, workset_id, user, clock())
                tally.abandoned += 1
                return
            roll -= mix.abandon
            if roll < mix.skip:
                tally.withdrawn += skip(factory, workset_id, task_id, user, clock())
                tally.skipped += 1
                continue
            roll -= mix.skip
            label(factory, workset_id, task_id, user, clock(), GOOD_LABEL)
            tally.labeled += 1
            if roll < mix.label_then_skip:
                tally.withdrawn += skip(factory, workset_id, task_id, user, clock())
                tally.skipped += 1
                continue
            roll -= mix.label_then_skip
            if roll < mix.relabel:
                label(factory, workset_id, task_id, user, clock(), OTHER_LABEL)
                tally.relabeled += 1
        except Conflict as error:
            if tally.note(error) == "expired lease":
                return  # someone reclaimed the workset; its other leases are gone too


def labeler(
    factory: Factory,
    campaign_id: int,
    user: int,
    *,
    clock: Clock,
    mix: Mix = LABEL_ONLY,
    seed: int = 0,
    max_requests: int = 2000,
) -> Tally:
    """Ask for worksets and work through them until no task is left for this user."""
    rng = random.Random(seed)
    tally = Tally()
    for _ in range(max_requests):
        try:
            held = assign(factory, campaign_id, user, clock())
        except Conflict as error:
            kind = tally.note(error)
            if kind == "no tasks":
                return tally
            if kind == "open workset":  # another racer of the same user holds one
                time.sleep(0.005)
                continue
            raise
        tally.worksets.append(held)
        work_through(factory, held, user, clock=clock, rng=rng, mix=mix, tally=tally)
    raise AssertionError(f"user_id={user} still asking after {max_requests} requests")


# --- the final state -------------------------------------------------------------------


def labels_per_task(session: Session, campaign_id: int) -> dict[int, int]:
    rows = session.execute(
        select(Task.id, func.count(Label.user_id))
        .outerjoin(Label, Label.task_id == Task.id)
        .where(Task.campaign_id == campaign_id)
        .group_by(Task.id)
    )
    return dict(rows.all())


def assert_settled(factory: Factory, campaign_id: int, now: dt.datetime, cap: int) -> None:
    """No violation, nothing open or leased, and each task's counter equals its labels."""
    with transaction(factory) as session:
        assert violations(session, now) == {}
        open_worksets = session.scalar(
            select(func.count()).where(Workset.campaign_id == campaign_id, Workset.state == OPEN)
        )
        leases = session.scalar(
            select(func.count()).where(
                WorksetTask.campaign_id == campaign_id, WorksetTask.state == LEASED
            )
        )
        assert (open_worksets, leases) == (0, 0)
        labels = labels_per_task(session, campaign_id)
        rows = session.execute(
            select(Task.id, Task.assigned).where(Task.campaign_id == campaign_id)
        )
        assigned = dict(rows.all())
    assert assigned == labels
    assert max(labels.values()) <= cap


def assert_fully_labeled(factory: Factory, campaign_id: int, now: dt.datetime, cap: int) -> None:
    assert_settled(factory, campaign_id, now, cap)
    with transaction(factory) as session:
        counts = Counter(labels_per_task(session, campaign_id).values())
    assert counts == {cap: TASKS}, f"tasks by number of labels: {dict(counts)}"


def history_reasons(factory: Factory) -> Counter[str]:
    with transaction(factory) as session:
        return Counter(session.scalars(select(LabelHistory.reason)))


def make_campaign(factory: Factory, *, expiry: int = 86400, name: str = "race") -> int:
    with transaction(factory, write=True) as session:
        return campaign_with_tasks(
            session, TASKS, labels_per_task=LABELS_PER_TASK,
            tasks_per_assignment=TASKS_PER_ASSIGNMENT, expiry=expiry, name=name,
        ).id  # fmt: skip


# --- threads on PostgreSQL and MariaDB ---------------------------------------------------


@dataclass
class Outcome:
    value: Any = None
    conflict: Conflict | None = None
    error: str | None = None


def race(factories: list[Factory], jobs: list[Callable[[Factory], Any]]) -> list[Outcome]:
    """Run each job in its own thread on its own connection, all released by one barrier."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [Outcome() for _ in jobs]

    def run(index: int) -> None:
        factory = factories[index]
        try:
            with factory() as session:  # open this thread's connection before the start
                session.execute(text("SELECT 1"))
            barrier.wait(timeout=30)
            outcomes[index].value = jobs[index](factory)
        except Conflict as conflict:
            outcomes[index].conflict = conflict
        except BaseException:
            outcomes[index].error = traceback.format_exc()

    threads = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"racers still running after {JOIN_TIMEOUT} s: {stuck}"
    errors = [f"--- racer {i}:\n{o.error}" for i, o in enumerate(outcomes) if o.error]
    if errors:
        pytest.fail(
            f"{len(errors)} of {len(jobs)} racers raised:\n" + "\n".join(errors), pytrace=False
        )
    return outcomes


@pytest.fixture
def server(settings: Settings) -> Settings:
    """A private, migrated database on the PostgreSQL or MariaDB server of `settings`."""
    if settings.database_url.startswith("sqlite"):
        pytest.skip(
            "SQLite serialises writers with BEGIN IMMEDIATE; its race runs in processes "
            "(test_processes_race_on_one_sqlite_file)"
        )
    tier = (
        "postgres"
        if make_url(settings.database_url).get_backend_name() == "postgresql"
        else ("mariadb")
    )
    url = fresh_database(tier, "wikiloom_test_concurrency")
    upgrade(url)
    return Settings(database_url=url, database_pool_size=1, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def factories(server: Settings) -> Iterator[list[Factory]]:
    """One engine per racer, each with a pool of one connection."""
    engines: list[Engine] = [make_engine(server) for _ in range(THREADS)]
    yield [session_factory(engine) for engine in engines]
    for engine in engines:
        engine.dispose()


def test_many_users_race_until_no_task_is_left(factories: list[Factory]) -> None:
    clock = new_clock()
    for round_ in range(3):
        campaign = make_campaign(factories[0], name=f"race {round_}")
        users = [1000 * (round_ + 1) + i for i in range(THREADS)]
        outcomes = race(
            factories,
            [lambda f, u=u, c=campaign: labeler(f, c, u, clock=clock) for u in users],
        )
        tally = Tally()
        for outcome in outcomes:
            tally.add(outcome.value)
        # Every labeler stopped at "No tasks available", and met no other conflict.
        assert tally.conflicts == {"no tasks": THREADS}
        assert tally.labeled == TASKS * LABELS_PER_TASK
        assert all(1 <= len(tasks) <= TASKS_PER_ASSIGNMENT for _, tasks in tally.worksets)
        assert_fully_labeled(factories[0], campaign, clock.peek(), LABELS_PER_TASK)
    check_deadlocks(DEADLOCKS, len(TRANSACTIONS))


def test_one_user_racing_itself_gets_exactly_one_workset(factories: list[Factory]) -> None:
    clock = new_clock()
    campaign = make_campaign(factories[0])
    per_user = 4
    users = [1 + i // per_user for i in range(THREADS - THREADS % per_user)]
    team = factories[: len(users)]

    def act(factory: Factory, user: int, role: int, held: tuple[int, list[int]]) -> str:
        """One racer of a user on the user's workset: label all, skip one, abandon, assign."""
        workset_id, task_ids = held
        if role == 0:
            for task_id in task_ids:
                label(factory, workset_id, task_id, user, clock(), GOOD_LABEL)
            return "labeled"
        if role == 1:
            skip(factory, workset_id, task_ids[0], user, clock())
            return "skipped"
        if role == 2:
            abandon(factory, workset_id, user, clock())
            return "abandoned"
        assign(factory, campaign, user, clock())
        return "assigned"

    for _ in range(30):
        outcomes = race(team, [lambda f, u=u: assign(f, campaign, u, clock()) for u in users])
        winners: dict[int, tuple[int, list[int]]] = {}
        for user in set(users):
            mine = [o for u, o in zip(users, outcomes, strict=True) if u == user]
            won = [o.value for o in mine if o.conflict is None]
            kinds = Counter(conflict_kind(o.conflict) for o in mine if o.conflict is not None)
            if not won:
                assert kinds == {"no tasks": per_user}, (user, kinds)
                continue
            assert len(won) == 1, f"user_id={user} got {len(won)} worksets at once"
            winners[user] = won[0]
            messages = {o.conflict.message for o in mine if o.conflict is not None}
            expected = f"Incomplete workset_id={won[0][0]} already assigned to user_id={user}"
            assert messages == {expected}
        if not winners:
            break

        # Then the user's racers fall on that workset at once: label, skip, abandon, assign.
        racers = [(u, i % per_user) for i, u in enumerate(users) if u in winners]
        outcomes = race(
            team[: len(racers)],
            [
                lambda f, u=u, role=role, held=winners[u]: act(f, u, role, held)
                for u, role in racers
            ],
        )
        for outcome in outcomes:
            if outcome.conflict is not None:
                kind = conflict_kind(outcome.conflict)
                assert kind in ("given back", "open workset", "no tasks"), kind
        with transaction(factories[0]) as session:
            assert violations(session, clock.peek()) == {}
        # Whatever is still leased gets labeled before the next round.
        for user in winners:
            finish_open(factories[0], campaign, user, clock)
    else:
        pytest.fail("the users never ran out of tasks")
    assert_settled(factories[0], campaign, clock.peek(), LABELS_PER_TASK)
    mop_up(factories, campaign, clock, first_user=10_000)


def finish_open(factory: Factory, campaign_id: int, user: int, clock: Clock) -> None:
    """Label every task the user still holds a lease on."""
    with transaction(factory) as session:
        leases = session.execute(
            select(WorksetTask.workset_id, WorksetTask.task_id).where(
                WorksetTask.campaign_id == campaign_id,
                WorksetTask.user_id == user,
                WorksetTask.state == LEASED,
            )
        ).all()
    for workset_id, task_id in leases:
        label(factory, workset_id, task_id, user, clock(), GOOD_LABEL)


def mop_up(factories: list[Factory], campaign_id: int, clock: Clock, first_user: int) -> None:
    """Fresh labelers race until nothing is left; then every task holds its full count."""
    users = [first_user + i for i in range(len(factories))]
    outcomes = race(
        factories,
        [lambda f, u=u: labeler(f, campaign_id, u, clock=clock) for u in users],
    )
    for outcome in outcomes:
        assert outcome.value.conflicts == {"no tasks": 1}
    assert_fully_labeled(factories[0], campaign_id, clock.peek(), LABELS_PER_TASK)


def test_skip_abandon_and_expiry_mixed_in(factories: list[Factory]) -> None:
    # Each request ticks a shared clock by 0.1 s; with leases of 8 s, slow labelers lose
    # theirs to whoever asks next, so reclaiming runs concurrently with everything else.
    clock = new_clock(step=0.1)
    campaign = make_campaign(factories[0], expiry=8)
    users = [1 + i for i in range(THREADS)]
    outcomes = race(
        factories,
        [lambda f, u=u: labeler(f, campaign, u, clock=clock, mix=MIXED, seed=u) for u in users],
    )
    tally = Tally()
    for outcome in outcomes:
        tally.add(outcome.value)
    assert set(tally.conflicts) <= {"no tasks", "expired lease"}, tally.conflicts
    assert tally.conflicts["no tasks"] == THREADS
    assert_settled(factories[0], campaign, clock.peek(), LABELS_PER_TASK)
    # Nothing submitted is lost: each replaced or withdrawn label is in the history.
    reasons = history_reasons(factories[0])
    assert reasons == Counter(relabel=tally.relabeled, skip=tally.withdrawn) - Counter()
    mop_up(factories, campaign, clock, first_user=10_000)
    print(f"mixed race: {tally}, deadlocks: {dict(where_deadlocked(DEADLOCKS))}")
    check_deadlocks(DEADLOCKS, len(TRANSACTIONS))


# --- processes on one SQLite file --------------------------------------------------------


def sqlite_racer(
    url: str,
    campaign_id: int,
    index: int,
    barrier: Any,
    ticks: Counter64,
    results: Any,
) -> None:
    """One process: race for user 1, then label with a twin process, then mop up alone."""
    report: dict[str, Any] = {"index": index, "errors": [], "tallies": {}}
    clock = Clock(ticks, step=0.1)
    engine = make_engine(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    factory = session_factory(engine)

    def stage(name: str, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=60)
            report[name] = job()
        except Conflict as conflict:
            report[name] = conflict.message
        except BaseException:
            report["errors"].append(f"--- process {index}, {name}:\n{traceback.format_exc()}")

    def finish(held: Any) -> None:
        if not isinstance(held, str):  # the winner labels its workset
            for task_id in held[1]:
                label(factory, held[0], task_id, 1, clock(), GOOD_LABEL)

    # Every process asks for user 1 at once; all must ask before anyone labels.
    stage("same_user", lambda: assign(factory, campaign_id, 1, clock()))
    stage("finish", lambda: finish(report.get("same_user")))
    # Two processes per user, with skips, abandons, relabels and expiring leases.
    twin_user = 2 + index // 2
    stage(
        "mixed",
        lambda: labeler(factory, campaign_id, twin_user, clock=clock, mix=MIXED, seed=index),
    )
    stage("mop_up", lambda: labeler(factory, campaign_id, 100 + index, clock=clock))
    engine.dispose()
    report["deadlocks"] = DEADLOCKS
    report["transactions"] = len(TRANSACTIONS)
    results.put(report)


def test_processes_race_on_one_sqlite_file(settings: Settings) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the process race is SQLite's; servers race in threads")
    engine = make_engine(settings)
    factory = session_factory(engine)
    campaign = make_campaign(factory, expiry=8)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    ticks = context.Value("q", 0)
    results = context.Queue()
    processes = [
        context.Process(
            target=sqlite_racer,
            args=(settings.database_url, campaign, i, barrier, ticks, results),
            name=f"sqlite-racer-{i}",
        )
        for i in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=JOIN_TIMEOUT) for _ in processes]
    for process in processes:
        process.join(10)
        assert process.exitcode == 0, (process.name, process.exitcode)
    errors = [error for report in reports for error in report["errors"]]
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)

    # Exactly one process got user 1's workset; the others were told which one it was.
    won = [r["same_user"] for r in reports if not isinstance(r["same_user"], str)]
    assert len(won) == 1
    expected = f"Incomplete workset_id={won[0][0]} already assigned to user_id=1"
    assert [r["same_user"] for r in reports if isinstance(r["same_user"], str)] == [expected] * (
        PROCESSES - 1
    )
    mixed, mopped = Tally(), Tally()
    for report in reports:
        mixed.add(report["mixed"])
        mopped.add(report["mop_up"])
    assert set(mixed.conflicts) <= {"no tasks", "expired lease", "open workset"}, mixed.conflicts
    assert mixed.conflicts["no tasks"] == PROCESSES
    assert mopped.conflicts == {"no tasks": PROCESSES}
    now = Clock(ticks, step=0.1).peek()
    reasons = history_reasons(factory)
    assert reasons == Counter(relabel=mixed.relabeled, skip=mixed.withdrawn) - Counter()
    assert_fully_labeled(factory, campaign, now, LABELS_PER_TASK)
    engine.dispose()
    check_deadlocks(
        [text_ for report in reports for text_ in report["deadlocks"]],
        sum(report["transactions"] for report in reports),
    )
