"""The Wiki labels JSON objects: exactly their keys, timestamps as epoch numbers."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from email.utils import format_datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.labels.campaigns import campaign_record, campaign_stats, epoch
from wikiloom.labels.tables import Campaign, Label, Task, Workset
from wikiloom.labels.tasks import LabeledTask
from wikiloom.labels.worksets import workset_stats


def campaigns(session: Session, rows: Iterable[Campaign], stats: bool) -> list[dict[str, Any]]:
    """Campaign objects, with `stats` when asked."""
    records = [campaign_record(c) for c in rows]
    if stats:
        counts = campaign_stats(session, [r["id"] for r in records])
        for record in records:
            record["stats"] = dataclasses.asdict(counts[record["id"]])
    return records


def worksets(session: Session, rows: Iterable[Workset], stats: bool) -> list[dict[str, Any]]:
    """Workset objects, with `stats` (tasks, labeled) when asked."""
    records: list[dict[str, Any]] = [
        {
            "id": w.id,
            "campaign_id": w.campaign_id,
            "user_id": w.user_id,
            "created": epoch(w.created),
            "expires": epoch(w.expires),
        }
        for w in rows
    ]
    if stats:
        counts = workset_stats(session, [r["id"] for r in records])
        for record in records:
            record["stats"] = dataclasses.asdict(counts[record["id"]])
    return records


def label(row: Label) -> dict[str, Any]:
    """A label as the label POST answers it (its timestamp as an HTTP date, as Wiki labels)."""
    return {
        "task_id": row.task_id,
        "user_id": row.user_id,
        "timestamp": format_datetime(row.timestamp, usegmt=True),
        "data": row.data,
    }


def task_record(task: Task | LabeledTask, labels: list[dict[str, Any]]) -> dict[str, Any]:
    """A task object: exactly Wiki labels' keys."""
    return {"id": task.id, "campaign_id": task.campaign_id, "data": task.data, "labels": labels}


def tasks(
    session: Session, rows: Iterable[Task], only_user: int | None = None
) -> list[dict[str, Any]]:
    """Task objects with their labels (every labeler's, or one user's)."""
    found = list(rows)
    query = select(Label).where(Label.task_id.in_([t.id for t in found]))
    if only_user is not None:
        query = query.where(Label.user_id == only_user)
    labels: dict[int, list[dict[str, Any]]] = {}
    for row in session.scalars(query.order_by(Label.task_id, Label.user_id)):
        labels.setdefault(row.task_id, []).append(
            {"user_id": row.user_id, "timestamp": epoch(row.timestamp), "data": row.data}
        )
    return [task_record(t, labels.get(t.id, [])) for t in found]


def labeled_tasks(rows: Iterable[LabeledTask]) -> Iterator[dict[str, Any]]:
    """Task objects with every labeler's label, one at a time (the keys of `tasks`)."""
    for task in rows:
        labels = [{"user_id": u, "timestamp": epoch(t), "data": d} for u, t, d in task.labels]
        yield task_record(task, labels)
