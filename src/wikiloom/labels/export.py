"""Export: a campaign's labels as JSON lines or CSV, streamed in constant memory."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.tables import Label, Task, User

FORMATS = ("jsonl", "csv")
STREAM_BATCH = 1000


def pseudonymizer(secret: str) -> Callable[[int], str]:
    """A keyed hash of user ids: the same labeler gets the same pseudonym under one key."""
    key = secret.encode()
    return lambda user_id: hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


def _rows(
    session: Session, campaign_id: int, pseudonym: Callable[[int], str] | None
) -> Iterator[Any]:
    query = (
        select(Label.task_id, Task.data, Label.user_id, User.name, Label.timestamp, Label.data)
        .join(Task, Task.id == Label.task_id)
        .join(User, User.id == Label.user_id)
        .where(Task.campaign_id == campaign_id)
        .order_by(Label.task_id, Label.user_id)
        .execution_options(yield_per=STREAM_BATCH)
    )
    for task_id, task, user_id, user, timestamp, label in session.execute(query):
        if pseudonym is None:
            yield task_id, task, user_id, user, timestamp, label
        else:
            yield task_id, task, pseudonym(user_id), None, timestamp, label


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def export_labels(
    session: Session,
    campaign_id: int,
    fmt: str = "jsonl",
    fields: Sequence[str] = (),
    pseudonym: Callable[[int], str] | None = None,
) -> Iterator[str]:
    """Yield the export chunk by chunk: one line per (task, labeler).

    CSV has a column per form field (`fields`) beside the whole label as JSON, so that
    keys outside the form (older data) are never dropped. With `pseudonym`, labelers are
    named by it instead of their user id, and their names are left out.
    """
    if fmt not in FORMATS:
        raise BadRequest(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    get_campaign(session, campaign_id)
    rows = _rows(session, campaign_id, pseudonym)
    if fmt == "jsonl":
        for task_id, task, user_id, user, timestamp, label in rows:
            record = {
                "task_id": task_id,
                "task": task,
                "user_id": user_id,
                "user": user,
                "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
                "label": label,
            }
            yield orjson.dumps(record).decode() + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["task_id", "user_id", "user", "timestamp", *fields, "task", "label"])
    for task_id, task, user_id, user, timestamp, label in rows:
        values = label if isinstance(label, dict) else {}
        writer.writerow(
            [
                task_id,
                user_id,
                user or "",
                timestamp.isoformat().replace("+00:00", "Z"),
                *(_cell(values.get(field)) for field in fields),
                _cell(task),
                _cell(label),
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()
