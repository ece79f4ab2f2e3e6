"""Workset assignment, skipping, abandoning and expiry, on every engine."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from tests.labels.invariants import violations
from wikiloom.db import transaction
from wikiloom.errors import Conflict, Forbidden, NotFound
from wikiloom.labels.campaigns import set_active
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tables import Label, LabelHistory, WorksetTask
from wikiloom.labels.worksets import (
    abandon_workset,
    assign_workset,
    reclaim_expired,
    skip_task,
    workset_stats,
    workset_tasks,
)

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
FORM = load_catalog()["damaging_and_goodfaith"]
Factory = sessionmaker[Session]


def make(sessions: Factory, tasks: int, **options: int) -> int:
    with transaction(sessions, write=True) as session:
        return campaign_with_tasks(session, tasks, **options).id


def assign(sessions: Factory, campaign_id: int, user: int, now: dt.datetime = T0) -> list[int]:
    with transaction(sessions, write=True) as session:
        workset = assign_workset(session, campaign_id, user, now=now)
        return [workset.id, *(task.id for task in workset_tasks(session, workset.id))]


def label_all(sessions: Factory, workset: list[int], user: int, now: dt.datetime = T0) -> None:
    with transaction(sessions, write=True) as session:
        for task_id in workset[1:]:
            save_label(
                session, form=FORM, workset_id=workset[0], task_id=task_id, user_id=user,
                data=GOOD_LABEL, now=now,
            )  # fmt: skip


def check(sessions: Factory, now: dt.datetime = T0) -> None:
    with transaction(sessions) as session:
        assert violations(session, now) == {}


def test_assignment_hands_out_a_full_workset(sessions: Factory) -> None:
    campaign = make(sessions, 10, tasks_per_assignment=4)
    workset = assign(sessions, campaign, 101)
    assert len(workset) == 5
    assert workset[1:] == sorted(workset[1:])
    with transaction(sessions) as session:
        stats = workset_stats(session, [workset[0]])[workset[0]]
    assert (stats.tasks, stats.labeled) == (4, 0)
    check(sessions)


def test_second_request_while_open_names_the_open_workset(sessions: Factory) -> None:
    campaign = make(sessions, 10)
    workset = assign(sessions, campaign, 101)
    with pytest.raises(Conflict, match=f"Incomplete workset_id={workset[0]} already assigned"):
        assign(sessions, campaign, 101)
    label_all(sessions, workset, 101)
    assert set(assign(sessions, campaign, 101)[1:]).isdisjoint(workset[1:])
    check(sessions)


def test_labels_per_task_caps_live_assignments(sessions: Factory) -> None:
    campaign = make(sessions, 3, labels_per_task=2, tasks_per_assignment=3)
    first, second = assign(sessions, campaign, 1), assign(sessions, campaign, 2)
    assert first[1:] == second[1:]
    with pytest.raises(Conflict, match="No tasks available for user_id=3 in campaign_id="):
        assign(sessions, campaign, 3)
    check(sessions)


def test_workset_is_never_empty_and_user_never_gets_a_task_twice(sessions: Factory) -> None:
    campaign = make(sessions, 4, labels_per_task=3, tasks_per_assignment=2)
    seen: list[int] = []
    for _ in range(2):
        workset = assign(sessions, campaign, 7)
        seen += workset[1:]
        label_all(sessions, workset, 7)
    assert sorted(seen) == sorted(set(seen))
    with pytest.raises(Conflict, match="No tasks available for user_id=7"):
        assign(sessions, campaign, 7)
    check(sessions)


def test_inactive_and_unknown_campaigns(sessions: Factory) -> None:
    campaign = make(sessions, 2)
    with transaction(sessions) as session:
        set_active(session, campaign, False)
    with pytest.raises(Conflict, match=f"Campaign {campaign} not active."):
        assign(sessions, campaign, 1)
    with pytest.raises(NotFound, match="campaign_id=999999"):
        assign(sessions, 999999, 1)


def test_expired_leases_free_their_slots_at_assignment_time(sessions: Factory) -> None:
    campaign = make(sessions, 2, labels_per_task=1, tasks_per_assignment=2, expiry=3600)
    held = assign(sessions, campaign, 1)
    with pytest.raises(Conflict, match="No tasks available for user_id=2"):
        assign(sessions, campaign, 2)
    later = T0 + dt.timedelta(hours=2)
    taken = assign(sessions, campaign, 2, now=later)
    assert taken[1:] == held[1:]
    check(sessions, later)
    with transaction(sessions) as session:
        states = set(session.scalars(select(WorksetTask.state).where(WorksetTask.user_id == 1)))
    assert states == {"expired"}
    # The late labeler's lease was given away: labeling it is a clear conflict.
    with pytest.raises(Conflict, match="expired; request a new workset"):
        label_all(sessions, held, 1, now=later)
    # And the first user is free to ask again (nothing is left for them here).
    with pytest.raises(Conflict, match="No tasks available for user_id=1"):
        assign(sessions, campaign, 1, now=later)


def test_own_expired_workset_does_not_block(sessions: Factory) -> None:
    campaign = make(sessions, 6, labels_per_task=1, tasks_per_assignment=2, expiry=60)
    first = assign(sessions, campaign, 1)
    second = assign(sessions, campaign, 1, now=T0 + dt.timedelta(minutes=5))
    assert set(first[1:]).isdisjoint(second[1:])
    with transaction(sessions) as session:
        assert reclaim_expired(session, campaign, now=T0 + dt.timedelta(days=1)) == 1
    check(sessions, T0 + dt.timedelta(days=1))


def test_skip_frees_the_slot_keeps_the_label_in_history(sessions: Factory) -> None:
    campaign = make(sessions, 3, labels_per_task=1, tasks_per_assignment=3)
    workset = assign(sessions, campaign, 1)
    wid, first, second = workset[0], workset[1], workset[2]
    label_all(sessions, [wid, first], 1)
    with transaction(sessions, write=True) as session:
        withdrawn = skip_task(session, wid, first, 1)
        assert withdrawn is not None
        assert withdrawn.data == GOOD_LABEL
        assert skip_task(session, wid, second, 1) is None
    with transaction(sessions) as session:
        assert session.get(Label, (first, 1)) is None
        history = session.scalars(select(LabelHistory)).one()
        assert (history.task_id, history.reason, history.data) == (first, "skip", GOOD_LABEL)
    # The skipped tasks go to someone else, never back to user 1.
    assert sorted(assign(sessions, campaign, 2)[1:]) == sorted([first, second])
    with pytest.raises(Conflict, match=f"task_id={first} was skipped"):
        label_all(sessions, [wid, first], 1)
    check(sessions)


def test_abandon_gives_back_unlabeled_tasks_and_keeps_labels(sessions: Factory) -> None:
    campaign = make(sessions, 3, labels_per_task=1, tasks_per_assignment=3)
    workset = assign(sessions, campaign, 1)
    label_all(sessions, workset[:2], 1)
    with transaction(sessions, write=True) as session:
        abandon_workset(session, workset[0], 1)
        assert workset_stats(session, [workset[0]])[workset[0]].tasks == 1
    assert sorted(assign(sessions, campaign, 2)[1:]) == sorted(workset[2:])
    with transaction(sessions) as session:
        assert session.get(Label, (workset[1], 1)) is not None
    check(sessions)


def test_only_the_owner_can_touch_a_workset(sessions: Factory) -> None:
    campaign = make(sessions, 3)
    workset = assign(sessions, campaign, 1)
    message = f"workset_id={workset[0]} is owned by user_id=1, but your user_id is 2"
    with transaction(sessions, write=True) as session, pytest.raises(Forbidden, match=message):
        abandon_workset(session, workset[0], 2)
    with transaction(sessions, write=True) as session, pytest.raises(Forbidden, match=message):
        skip_task(session, workset[0], workset[1], 2)
    with transaction(sessions, write=True) as session, pytest.raises(NotFound):
        skip_task(session, workset[0] + 1000, workset[1], 1)
    with transaction(sessions, write=True) as session, pytest.raises(NotFound):
        abandon_workset(session, workset[0], 1, campaign_id=campaign + 1)


def test_reclaiming_two_leases_of_one_task_frees_both_slots(sessions: Factory) -> None:
    """Found by the state machine: freed slots are counted per lease, not per task."""
    campaign = make(sessions, 1, labels_per_task=2, tasks_per_assignment=1, expiry=60)
    assign(sessions, campaign, 1)
    assign(sessions, campaign, 2)
    later = T0 + dt.timedelta(minutes=5)
    with transaction(sessions, write=True) as session:
        assert reclaim_expired(session, campaign, now=later) == 2
    check(sessions, later)
    assert len(assign(sessions, campaign, 3, now=later)) == 2
