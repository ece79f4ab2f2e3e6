"""Random sequences of assign, label, relabel, skip, abandon and clock moves, against a model.

A hypothesis state machine drives the real services on a fresh SQLite database per example
and keeps a small Python model of the campaign: the slots each task has given out, what each
user holds and has seen, the labels and their history. After every step the database must
satisfy `invariants.violations` and agree with the model row for row, and every service call
must answer what the model predicts: the exact tasks assigned, a conflict exactly when the
user still holds an unexpired open workset or nothing is left for them, and refusals to label
a task that was skipped, released or whose expired lease was reclaimed.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from tests.labels.invariants import violations
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.errors import Conflict
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tables import (
    ABANDONED,
    COMPLETE,
    EXPIRED,
    LABELED,
    LEASED,
    OPEN,
    RELEASED,
    SKIPPED,
    Label,
    LabelHistory,
    Task,
    Workset,
    WorksetTask,
)
from wikiloom.labels.worksets import (
    abandon_workset,
    assign_workset,
    reclaim_expired,
    skip_task,
    workset_tasks,
)
from wikiloom.migrations import upgrade

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
FORM = load_catalog()["damaging_and_goodfaith"]
LABELS = (
    GOOD_LABEL,
    {"damaging": True, "goodfaith": False, "unsure": False},
    {"damaging": None, "goodfaith": None, "unsure": True},
)
USERS = (1, 2, 3)
EXPIRY = 60


@dataclass
class ModelWorkset:
    user: int
    expires: dt.datetime
    state: str = OPEN
    tasks: dict[int, str] = field(default_factory=dict)


@dataclass
class Model:
    """What the database should hold, in plain Python."""

    labels_per_task: int
    tasks_per_assignment: int
    priority: dict[int, float]
    assigned: dict[int, int]
    worksets: dict[int, ModelWorkset] = field(default_factory=dict)
    seen: dict[int, set[int]] = field(default_factory=lambda: {user: set() for user in USERS})
    labels: dict[tuple[int, int], Any] = field(default_factory=dict)
    history: Counter[str] = field(default_factory=Counter)

    def reclaim(self, now: dt.datetime) -> int:
        """Expire the open worksets past their time; return how many."""
        due = [w for w in self.worksets.values() if w.state == OPEN and w.expires <= now]
        for workset in due:
            self.close_leases(workset, EXPIRED)
            workset.state = EXPIRED
        return len(due)

    def close_leases(self, workset: ModelWorkset, state: str) -> None:
        for task, held in workset.tasks.items():
            if held == LEASED:
                workset.tasks[task] = state
                self.assigned[task] -= 1

    def complete_if_done(self, workset: ModelWorkset) -> None:
        if workset.state == OPEN and LEASED not in workset.tasks.values():
            workset.state = COMPLETE

    def open_workset(self, user: int) -> int | None:
        for workset_id, workset in self.worksets.items():
            if workset.user == user and workset.state == OPEN:
                return workset_id
        return None

    def open_workset_count(self) -> int:
        return sum(workset.state == OPEN for workset in self.worksets.values())

    def available(self, user: int) -> list[int]:
        """The tasks the user would receive now, in the order assignment serves them."""
        free = [
            (self.assigned[task], self.priority[task], task)
            for task in self.priority
            if self.assigned[task] < self.labels_per_task and task not in self.seen[user]
        ]
        return [task for _, _, task in sorted(free)[: self.tasks_per_assignment]]


class AssignmentMachine(RuleBasedStateMachine):
    """Drive worksets and labels on one small campaign and check every answer."""

    template: ClassVar[Path]
    directory: ClassVar[Path]
    examples: ClassVar[itertools.count[int]] = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        self.path = self.directory / f"example-{next(self.examples)}.db"
        shutil.copy(self.template, self.path)
        settings = Settings(database_url=f"sqlite:///{self.path}", _env_file=None)  # type: ignore[call-arg]
        self.engine = make_engine(settings)
        self.sessions = session_factory(self.engine)
        self.now = T0
        self.campaign = 0
        self.model: Model | None = None

    def teardown(self) -> None:
        self.engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    @property
    def m(self) -> Model:
        assert self.model is not None
        return self.model

    @initialize(
        tasks=st.integers(1, 7),
        labels_per_task=st.integers(1, 3),
        tasks_per_assignment=st.integers(1, 4),
    )
    def create_campaign(self, tasks: int, labels_per_task: int, tasks_per_assignment: int) -> None:
        with transaction(self.sessions, write=True) as session:
            campaign = campaign_with_tasks(
                session, tasks, labels_per_task=labels_per_task,
                tasks_per_assignment=tasks_per_assignment, expiry=EXPIRY,
            )  # fmt: skip
            self.campaign = campaign.id
            rows = session.execute(
                select(Task.id, Task.priority).where(Task.campaign_id == campaign.id)
            )
            priority = dict(rows.all())
        self.model = Model(
            labels_per_task, tasks_per_assignment, priority, dict.fromkeys(priority, 0)
        )

    # --- choosing what to act on ---------------------------------------------------------

    def leases(self, states: tuple[str, ...] | None = None) -> list[tuple[int, int, int]]:
        """Every (workset, task, user) the users were ever handed, optionally by state."""
        return sorted(
            (workset_id, task, workset.user)
            for workset_id, workset in self.m.worksets.items()
            for task, state in workset.tasks.items()
            if states is None or state in states
        )

    def has_leases(self) -> bool:
        return self.model is not None and bool(self.m.worksets)

    def has_labels(self) -> bool:
        return self.model is not None and bool(self.m.labels)

    # --- rules -----------------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS))
    def assign(self, user: int) -> None:
        after = copy.deepcopy(self.m)
        after.reclaim(self.now)  # assignment reclaims first, in its own transaction
        holding = after.open_workset(user)
        offered = [] if holding is not None else after.available(user)
        refused: str | None = None
        try:
            with transaction(self.sessions, write=True) as session:
                workset = assign_workset(session, self.campaign, user, now=self.now)
                got = (workset.id, [task.id for task in workset_tasks(session, workset.id)])
        except Conflict as conflict:
            refused = conflict.message
        if refused is not None:
            if holding is not None:
                expected = f"Incomplete workset_id={holding} already assigned to user_id={user}"
            else:
                assert not offered, f"refused while {offered} were free: {refused}"
                expected = f"No tasks available for user_id={user} in campaign_id={self.campaign}"
            assert refused == expected
            event(f"assign refused: {expected.split(' for ')[0].split('=')[0]}")
            return  # the transaction rolled back, reclaiming included
        assert holding is None, f"user {user} got a second workset beside {holding}"
        event(f"assigned {len(got[1])} of {self.m.tasks_per_assignment}")
        workset_id, tasks = got
        assert not set(tasks) & self.m.seen[user], "a task handed to the same user twice"
        assert tasks == sorted(offered), "not the least assigned, highest priority tasks"
        assert workset_id not in after.worksets
        after.worksets[workset_id] = ModelWorkset(
            user, self.now + dt.timedelta(seconds=EXPIRY), OPEN, dict.fromkeys(tasks, LEASED)
        )
        after.seen[user].update(tasks)
        for task in tasks:
            after.assigned[task] += 1
        self.model = after

    def _label(self, workset_id: int, task: int, user: int, data: Any) -> None:
        workset = self.m.worksets[workset_id]
        state = workset.tasks[task]
        refused: str | None = None
        try:
            with transaction(self.sessions, write=True) as session:
                save_label(
                    session, form=FORM, workset_id=workset_id, task_id=task, user_id=user,
                    data=data, now=self.now,
                )  # fmt: skip
        except Conflict as conflict:
            refused = conflict.message
        if refused is not None:
            if state == EXPIRED:
                assert refused.endswith("expired; request a new workset")
            else:
                assert state in (SKIPPED, RELEASED), f"label refused on a {state} task"
                assert refused == f"task_id={task} was {state} in workset_id={workset_id}"
            event(f"label refused: {state}")
            return
        assert state in (LEASED, LABELED), f"a {state} task accepted a label"
        if (task, user) in self.m.labels:
            self.m.history["relabel"] += 1
        self.m.labels[task, user] = data
        workset.tasks[task] = LABELED
        self.m.complete_if_done(workset)

    @precondition(has_leases)
    @rule(pick=st.integers(0, 10**6), data=st.sampled_from(LABELS))
    def label(self, pick: int, data: Any) -> None:
        choices = self.leases()
        self._label(*choices[pick % len(choices)], data)

    @precondition(has_labels)
    @rule(pick=st.integers(0, 10**6), data=st.sampled_from(LABELS))
    def relabel(self, pick: int, data: Any) -> None:
        choices = self.leases((LABELED,))
        self._label(*choices[pick % len(choices)], data)

    @precondition(has_leases)
    @rule(pick=st.integers(0, 10**6))
    def skip(self, pick: int) -> None:
        choices = self.leases()
        workset_id, task, user = choices[pick % len(choices)]
        with transaction(self.sessions, write=True) as session:
            withdrawn = skip_task(session, workset_id, task, user, now=self.now)
            withdrawn_data = None if withdrawn is None else withdrawn.data
        workset = self.m.worksets[workset_id]
        state = workset.tasks[task]
        if state == LABELED:
            assert withdrawn_data == self.m.labels.pop((task, user))
            self.m.history["skip"] += 1
        else:
            assert withdrawn_data is None
        if state in (LEASED, LABELED):
            self.m.assigned[task] -= 1
        workset.tasks[task] = SKIPPED
        self.m.complete_if_done(workset)

    @precondition(has_leases)
    @rule(pick=st.integers(0, 10**6))
    def abandon(self, pick: int) -> None:
        choices = sorted({(workset_id, user) for workset_id, _, user in self.leases()})
        workset_id, user = choices[pick % len(choices)]
        with transaction(self.sessions, write=True) as session:
            abandon_workset(session, workset_id, user, now=self.now)
        workset = self.m.worksets[workset_id]
        self.m.close_leases(workset, RELEASED)
        if workset.state == OPEN:
            workset.state = ABANDONED

    @rule(seconds=st.sampled_from([1, 20, EXPIRY - 1, EXPIRY, EXPIRY + 1, 2 * EXPIRY]))
    def advance_clock(self, seconds: int) -> None:
        self.now += dt.timedelta(seconds=seconds)

    @precondition(lambda self: self.model is not None and self.m.open_workset_count())
    @rule()
    def reclaim(self) -> None:
        with transaction(self.sessions, write=True) as session:
            reclaimed = reclaim_expired(session, self.campaign, now=self.now)
        assert reclaimed == self.m.reclaim(self.now)
        event(f"reclaimed {min(reclaimed, 2)}{'+' if reclaimed >= 2 else ''}")

    # --- after every step ------------------------------------------------------------------

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        if self.model is None:
            return
        with transaction(self.sessions) as session:
            assert violations(session, self.now) == {}
            assert self._database(session) == self._expected()

    def _database(self, session: Session) -> dict[str, Any]:
        worksets = session.execute(
            select(Workset.id, Workset.user_id, Workset.state, Workset.expires)
        ).all()
        leases = session.execute(
            select(WorksetTask.workset_id, WorksetTask.task_id, WorksetTask.state)
        ).all()
        return {
            "worksets": {wid: (user, state, expires) for wid, user, state, expires in worksets},
            "leases": {(wid, task): state for wid, task, state in leases},
            "assigned": dict(session.execute(select(Task.id, Task.assigned)).all()),
            "labels": {
                (task, user): data
                for task, user, data in session.execute(
                    select(Label.task_id, Label.user_id, Label.data)
                )
            },
            "history": Counter(session.scalars(select(LabelHistory.reason))),
        }

    def _expected(self) -> dict[str, Any]:
        m = self.m
        return {
            "worksets": {wid: (w.user, w.state, w.expires) for wid, w in m.worksets.items()},
            "leases": {
                (wid, task): state
                for wid, workset in m.worksets.items()
                for task, state in workset.tasks.items()
            },
            "assigned": m.assigned,
            "labels": m.labels,
            "history": +m.history,
        }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("machine") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def test_assignment_machine(template: Path, tmp_path: Path) -> None:
    AssignmentMachine.template = template
    AssignmentMachine.directory = tmp_path
    run_state_machine_as_test(
        AssignmentMachine,
        settings=hypothesis_settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
