"""Worksets: atomic, concurrency-safe assignment of tasks to labelers, and giving them back.

Semantics (documented in docs/labeling.md):

* A user has at most one open workset per campaign (a unique key on open worksets).
* A task's live assignments (labeled, or leased and unexpired) never exceed the campaign's
  `labels_per_task`: `tasks.assigned` counts them and only moves under the task's row lock.
* A user never receives a task again that they labeled, skipped or held before: the
  `workset_tasks` row stays, and (task, user) is unique.
* A workset is never empty: when nothing is left for the user, assignment is a conflict.
* One lock order everywhere: the user (assignment only), worksets, their leases, tasks in id
  order; picking tasks skips the ones others hold (`SKIP LOCKED`). On SQLite the caller's
  `BEGIN IMMEDIATE` serialises writers instead (SQLAlchemy omits the locking clauses).
* Expired worksets give their unlabeled leases back when anyone next asks for a workset.
* Skipping a task gives its slot back; a label the user had given it is withdrawn into history.
* Abandoning a workset gives every unlabeled lease back; labels stay.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Select, Table, and_, case, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import Conflict, Forbidden, NotFound
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.events import record_event
from wikiloom.labels.history import keep_in_history
from wikiloom.labels.tables import (
    ABANDONED,
    COMPLETE,
    EXPIRED,
    LABELED,
    LEASED,
    OPEN,
    RELEASED,
    SKIPPED,
    Campaign,
    Label,
    Task,
    Workset,
    WorksetTask,
)
from wikiloom.labels.users import lock_user

#: How many expired worksets one assignment reclaims at most (bounds its latency).
RECLAIM_BATCH = 50
#: Pauses (seconds) before looking again when every free task is held by others, and how
#: many times, after that, assignment waits on their locks.
PICK_PAUSES = (0.002, 0.005, 0.01)
PICK_ROUNDS = 8
#: The tables themselves, for statements that need no ORM bookkeeping (hot paths).
TASKS = cast(Table, Task.__table__)
WORKSET_TASKS = cast(Table, WorksetTask.__table__)


@dataclass(frozen=True)
class WorksetStats:
    """Wiki labels' workset stats: tasks still in the workset and those labeled."""

    tasks: int = 0
    labeled: int = 0


def _give_back(session: Session, task_ids: Iterable[int]) -> None:
    """Free one slot per occurrence of a task id, locking the tasks in id order."""
    slots = Counter(task_ids)
    if not slots:
        return
    session.execute(
        select(Task.id).where(Task.id.in_(slots)).order_by(Task.id).with_for_update(key_share=True)
    )
    by_count: defaultdict[int, list[int]] = defaultdict(list)
    for task_id, count in slots.items():
        by_count[count].append(task_id)
    for count, ids in by_count.items():
        session.execute(
            update(TASKS).where(Task.id.in_(ids)).values(assigned=Task.assigned - count)
        )


def _end_leases(session: Session, workset_id: int, state: str, now: dt.datetime) -> list[int]:
    """Move a workset's leased tasks to `state` and return their ids (slots not yet freed)."""
    task_ids = list(
        session.scalars(
            select(WorksetTask.task_id).where(
                WorksetTask.workset_id == workset_id, WorksetTask.state == LEASED
            )
        )
    )
    if task_ids:
        session.execute(
            update(WORKSET_TASKS)
            .where(WorksetTask.workset_id == workset_id, WorksetTask.state == LEASED)
            .values(state=state, updated=now)
        )
    return task_ids


def _close_workset(session: Session, workset: Workset, state: str) -> None:
    workset.state = state
    workset.open_key = None
    session.flush()


def reclaim_expired(
    session: Session,
    campaign_id: int,
    *,
    now: dt.datetime | None = None,
    limit: int = RECLAIM_BATCH,
) -> int:
    """Expire open worksets past their time, freeing their unlabeled leases; return how many.

    Worksets another transaction holds are skipped (someone is labeling in them right now);
    the slots of all reclaimed worksets are freed in one call, locking tasks in id order.
    """
    moment = now or utcnow()
    worksets = list(
        session.scalars(
            select(Workset)
            .where(
                Workset.campaign_id == campaign_id,
                Workset.open_key == 1,
                Workset.expires <= moment,
            )
            .order_by(Workset.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    freed: list[int] = []
    for workset in worksets:
        released = _end_leases(session, workset.id, EXPIRED, moment)
        freed += released
        _close_workset(session, workset, EXPIRED)
        record_event(
            session,
            "workset.expired",
            user_id=workset.user_id,
            campaign_id=campaign_id,
            data={"workset_id": workset.id, "released": len(released)},
            now=moment,
        )
    _give_back(session, freed)
    return len(worksets)


def _open_workset(session: Session, campaign_id: int, user_id: int) -> Workset | None:
    return session.scalars(
        select(Workset)
        .where(
            Workset.campaign_id == campaign_id,
            Workset.user_id == user_id,
            Workset.open_key == 1,
        )
        .with_for_update()
    ).first()


def candidate_tasks(campaign: Campaign, user_id: int) -> Select[int]:
    """The free tasks this user never had, in serving order: least assigned first, then by
    priority. The order is that of the index `ix_tasks_assignment` (campaign, assigned,
    priority, id), so the database walks the index and stops at the limit instead of
    sorting the campaign."""
    had_it = exists().where(WorksetTask.task_id == Task.id, WorksetTask.user_id == user_id)
    return (
        select(Task.id)
        .where(Task.campaign_id == campaign.id, Task.assigned < campaign.labels_per_task, ~had_it)
        .order_by(Task.assigned, Task.priority, Task.id)
    )


def _pick_tasks(session: Session, campaign: Campaign, user_id: int) -> list[int]:
    """Choose and lock up to `tasks_per_assignment` free tasks that this user never had.

    One index walk, least assigned first and then by priority, skipping the rows other
    transactions hold: concurrent labelers take different tasks without waiting for each
    other. Only when every free task is held by someone else does it wait for them, holding
    no task yet and locking in id order like every other task lock, and keep those still free.
    """
    wanted = campaign.tasks_per_assignment
    free = Task.assigned < campaign.labels_per_task
    candidates = candidate_tasks(campaign, user_id)
    walk = candidates.limit(wanted).with_for_update(key_share=True, skip_locked=True)
    picked = list(session.scalars(walk))
    for pause in PICK_PAUSES:
        # What is free is being handed out right now; those transactions end within
        # milliseconds, and waiting on their locks is what deadlocks, so look again first.
        if picked or session.scalar(candidates.limit(1)) is None:
            break
        time.sleep(pause)
        picked = list(session.scalars(walk))
    tried: list[int] = []
    for _ in range(PICK_ROUNDS):
        if picked:
            break
        query = candidates.where(Task.id.not_in(tried)) if tried else candidates
        ids = list(session.scalars(query.limit(wanted)))
        if not ids:
            break
        tried += ids
        picked = list(
            session.scalars(
                select(Task.id)
                .where(Task.id.in_(ids), free)
                .order_by(Task.id)
                .with_for_update(key_share=True)
            )
        )
    return picked


def assign_workset(
    session: Session, campaign_id: int, user_id: int, *, now: dt.datetime | None = None
) -> Workset:
    """Give the user a new workset of up to `tasks_per_assignment` tasks, atomically."""
    moment = now or utcnow()
    campaign = get_campaign(session, campaign_id)
    if not campaign.active:
        raise Conflict(f"Campaign {campaign_id} not active.")
    # Lock order everywhere: (the user,) worksets, their leases, tasks in id order.
    lock_user(session, user_id, now=moment)
    current = _open_workset(session, campaign_id, user_id)
    if current is not None:
        if current.expires > moment:
            raise Conflict(
                f"Incomplete workset_id={current.id} already assigned to user_id={user_id}"
            )
        _give_back(session, _end_leases(session, current.id, EXPIRED, moment))
        _close_workset(session, current, EXPIRED)
    reclaim_expired(session, campaign_id, now=moment)

    workset = Workset(
        campaign_id=campaign_id,
        user_id=user_id,
        created=moment,
        expires=moment + dt.timedelta(seconds=campaign.workset_expiry),
        state=OPEN,
        open_key=1,
    )
    session.add(workset)
    try:
        session.flush()
    except IntegrityError as error:
        # The user lock serialises a user's requests, so the unique open key (the database's
        # own guarantee) fires only if something bypassed it.
        raise Conflict(f"Incomplete workset already assigned to user_id={user_id}") from error

    task_ids = _pick_tasks(session, campaign, user_id)
    if not task_ids:
        raise Conflict(f"No tasks available for user_id={user_id} in campaign_id={campaign_id}")

    session.execute(
        insert(WORKSET_TASKS),
        [
            {
                "workset_id": workset.id,
                "task_id": task_id,
                "user_id": user_id,
                "campaign_id": campaign_id,
                "position": position,
                "state": LEASED,
                "updated": moment,
            }
            for position, task_id in enumerate(sorted(task_ids))
        ],
    )
    session.execute(update(TASKS).where(Task.id.in_(task_ids)).values(assigned=Task.assigned + 1))
    record_event(
        session,
        "workset.assigned",
        user_id=user_id,
        campaign_id=campaign_id,
        data={"workset_id": workset.id, "tasks": len(task_ids)},
        now=moment,
    )
    return workset


def get_workset(session: Session, workset_id: int, campaign_id: int | None = None) -> Workset:
    """Return the workset (of that campaign, when given) or raise NotFound."""
    workset = session.get(Workset, workset_id)
    if workset is None or (campaign_id is not None and workset.campaign_id != campaign_id):
        raise NotFound(f"workset_id={workset_id}")
    return workset


def owned_workset(
    session: Session, workset_id: int, user_id: int, campaign_id: int | None = None
) -> Workset:
    """Return the caller's own workset, locked, or raise NotFound / Forbidden."""
    workset = session.scalars(
        select(Workset).where(Workset.id == workset_id).with_for_update()
    ).first()
    if workset is None or (campaign_id is not None and workset.campaign_id != campaign_id):
        raise NotFound(f"workset_id={workset_id}")
    if workset.user_id != user_id:
        raise Forbidden(
            f"workset_id={workset_id} is owned by user_id={workset.user_id}, "
            f"but your user_id is {user_id}"
        )
    return workset


def lease(session: Session, workset: Workset, task_id: int) -> WorksetTask:
    """Return the workset's row for a task, locked, or raise NotFound."""
    row = session.scalars(
        select(WorksetTask)
        .where(WorksetTask.workset_id == workset.id, WorksetTask.task_id == task_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"task_id={task_id} is not in workset_id={workset.id}")
    return row


def complete_if_done(session: Session, workset: Workset, leased: bool | None = None) -> None:
    """Close an open workset once none of its tasks is still leased.

    `leased` says whether some still are, when the caller read it under the workset's lock
    (it is then not counted again).
    """
    if workset.state != OPEN:
        return
    if leased is None:
        leased = bool(
            session.scalar(
                select(func.count()).where(
                    WorksetTask.workset_id == workset.id, WorksetTask.state == LEASED
                )
            )
        )
    if not leased:
        _close_workset(session, workset, COMPLETE)


def skip_task(
    session: Session,
    workset_id: int,
    task_id: int,
    user_id: int,
    *,
    campaign_id: int | None = None,
    now: dt.datetime | None = None,
) -> Label | None:
    """Skip a task of one's own workset; return the label withdrawn by skipping, if any.

    The slot goes back to the pool and the user will not receive the task again. A label
    the user had already given it is moved to the label history, not deleted.
    """
    moment = now or utcnow()
    workset = owned_workset(session, workset_id, user_id, campaign_id)
    row = lease(session, workset, task_id)
    withdrawn: Label | None = None
    if row.state == LABELED:
        withdrawn = session.get(Label, (task_id, user_id), with_for_update=True)
        if withdrawn is not None:
            keep_in_history(session, withdrawn, "skip", moment)
            session.delete(withdrawn)
    if row.state in (LEASED, LABELED):
        _give_back(session, [task_id])
    if row.state != SKIPPED:
        row.state = SKIPPED
        row.updated = moment
        session.flush()
        record_event(
            session,
            "task.skipped",
            user_id=user_id,
            campaign_id=workset.campaign_id,
            data={"workset_id": workset_id, "task_id": task_id},
            now=moment,
        )
    complete_if_done(session, workset)
    return withdrawn


def abandon_workset(
    session: Session,
    workset_id: int,
    user_id: int,
    *,
    campaign_id: int | None = None,
    now: dt.datetime | None = None,
) -> Workset:
    """Give back every unlabeled task of one's own workset and close it; labels stay."""
    moment = now or utcnow()
    workset = owned_workset(session, workset_id, user_id, campaign_id)
    released = _end_leases(session, workset_id, RELEASED, moment)
    _give_back(session, released)
    if workset.state == OPEN:
        _close_workset(session, workset, ABANDONED)
    record_event(
        session,
        "workset.abandoned",
        user_id=user_id,
        campaign_id=workset.campaign_id,
        data={"workset_id": workset_id, "released": len(released)},
        now=moment,
    )
    return workset


def workset_stats(session: Session, workset_ids: Iterable[int]) -> dict[int, WorksetStats]:
    """Tasks still held (leased or labeled) and labeled, per workset."""
    ids = list(workset_ids)
    rows = session.execute(
        select(
            WorksetTask.workset_id,
            func.count(),
            func.sum(case((WorksetTask.state == LABELED, 1), else_=0)),
        )
        .where(WorksetTask.workset_id.in_(ids), WorksetTask.state.in_((LEASED, LABELED)))
        .group_by(WorksetTask.workset_id)
    )
    found = {wid: WorksetStats(int(tasks), int(labeled or 0)) for wid, tasks, labeled in rows}
    return {wid: found.get(wid, WorksetStats()) for wid in ids}


def workset_tasks(session: Session, workset_id: int) -> list[Task]:
    """The tasks a workset still holds (leased or labeled), in task id order."""
    return list(
        session.scalars(
            select(Task)
            .join(
                WorksetTask,
                and_(WorksetTask.task_id == Task.id, WorksetTask.workset_id == workset_id),
            )
            .where(WorksetTask.state.in_((LEASED, LABELED)))
            .order_by(Task.id)
        )
    )


def user_worksets(session: Session, user_id: int, campaign_id: int | None = None) -> list[Workset]:
    """A user's worksets, oldest first."""
    query = select(Workset).where(Workset.user_id == user_id).order_by(Workset.id)
    if campaign_id is not None:
        query = query.where(Workset.campaign_id == campaign_id)
    return list(session.scalars(query))
