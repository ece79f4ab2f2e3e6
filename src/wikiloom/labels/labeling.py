"""Labeling: storing a user's label of a task in their workset, validated against the form."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import Conflict
from wikiloom.labels.events import record_event
from wikiloom.labels.forms import Form
from wikiloom.labels.history import keep_in_history
from wikiloom.labels.tables import EXPIRED, LABELED, LEASED, Label
from wikiloom.labels.worksets import complete_if_done, lease, owned_workset


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
    row = lease(session, workset, task_id)
    value = form.validate(data)
    if row.state == EXPIRED:
        raise Conflict(
            f"The lease on task_id={task_id} in workset_id={workset_id} expired; "
            "request a new workset"
        )
    if row.state not in (LEASED, LABELED):
        raise Conflict(f"task_id={task_id} was {row.state} in workset_id={workset_id}")
    # A leased task has no label of this user yet (a label exists exactly when labeled).
    label = (
        session.get(Label, (task_id, user_id), with_for_update=True)
        if row.state == LABELED
        else None
    )
    if label is None:
        label = Label(task_id=task_id, user_id=user_id, data=value, timestamp=moment)
        session.add(label)
    else:
        keep_in_history(session, label, "relabel", moment)
        label.data = value
        label.timestamp = moment
    row.state = LABELED
    row.updated = moment
    session.flush()
    record_event(
        session,
        "label.saved",
        user_id=user_id,
        campaign_id=workset.campaign_id,
        data={"workset_id": workset_id, "task_id": task_id},
        now=moment,
    )
    complete_if_done(session, workset)
    return label
