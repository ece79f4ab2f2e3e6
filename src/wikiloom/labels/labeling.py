"""Labeling: storing a user's label of a task in their workset, validated against the form."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, exists, insert, select, update
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import Conflict, NotFound
from wikiloom.labels.events import record_event
from wikiloom.labels.forms import Form
from wikiloom.labels.history import keep_in_history
from wikiloom.labels.tables import EXPIRED, LABELED, LEASED, Label, WorksetTask
from wikiloom.labels.worksets import WORKSET_TASKS, complete_if_done, owned_workset

LABELS = cast(Table, Label.__table__)
#: The workset's other leases, in the query that locks one (not correlated with it).
_OTHERS = WORKSET_TASKS.alias("others")


def save_label(
    session: Session,
    *,
    form: Form,
    workset_id: int,
    task_id: int,
    user_id: int,
    data: Any,
    campaign_id: int | None = None,
    now: dt.datetime | None = None,
) -> Label:
    """Store (or replace) the caller's label of a task in their own workset.

    The workset must be the caller's and hold the task (NotFound, Forbidden), and the label
    must then fit the campaign's form (InvalidLabel names the field); a replaced
    label is kept in the history. A skipped or released task cannot be labeled, nor one
    whose expired lease was already given to someone else.
    """
    moment = now or utcnow()
    # Unknown or foreign worksets and tasks (404, 403) come before the label's own faults.
    workset = owned_workset(session, workset_id, user_id, campaign_id)
    # The lease's state only, locked: Core statements, no ORM objects (the hot path).
    lease = WORKSET_TASKS.c
    in_workset = (lease.workset_id == workset.id, lease.task_id == task_id)
    # Whether the workset's other tasks are still leased, read under the workset's lock
    # (every change to its leases takes that lock first): it completes when none is.
    others_leased = exists().where(
        _OTHERS.c.workset_id == workset.id, _OTHERS.c.task_id != task_id, _OTHERS.c.state == LEASED
    )
    found = session.execute(
        select(lease.state, others_leased).where(*in_workset).with_for_update()
    ).first()
    if found is None:
        raise NotFound(f"task_id={task_id} is not in workset_id={workset.id}")
    state, leased = found
    value = form.validate(data)
    if state == EXPIRED:
        raise Conflict(
            f"The lease on task_id={task_id} in workset_id={workset_id} expired; "
            "request a new workset"
        )
    if state not in (LEASED, LABELED):
        raise Conflict(f"task_id={task_id} was {state} in workset_id={workset_id}")
    session.execute(update(WORKSET_TASKS).where(*in_workset).values(state=LABELED, updated=moment))
    held = session.identity_map.get(session.identity_key(WorksetTask, (workset.id, task_id)))
    if held is not None:  # a copy loaded earlier in this session reloads what changed
        session.expire(held, ["state", "updated"])
    # A leased task has no label of this user yet (a label exists exactly when labeled).
    label = (
        session.get(Label, (task_id, user_id), with_for_update=True) if state == LABELED else None
    )
    if label is None:
        session.execute(
            insert(LABELS).values(task_id=task_id, user_id=user_id, data=value, timestamp=moment)
        )
        label = Label(task_id=task_id, user_id=user_id, data=value, timestamp=moment)
    else:
        keep_in_history(session, label, "relabel", moment)
        label.data = value
        label.timestamp = moment
        session.flush()
    record_event(
        session,
        "label.saved",
        user_id=user_id,
        campaign_id=workset.campaign_id,
        data={"workset_id": workset_id, "task_id": task_id},
        now=moment,
    )
    complete_if_done(session, workset, leased=bool(leased))
    return label
