"""Tasks: loading them into a campaign from JSON lines, all or nothing; reading them back
with their labels."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.events import record_event
from wikiloom.labels.tables import Label, Task
from wikiloom.labels.views import check_task_data

BATCH_SIZE = 5000
#: Rows fetched per round trip when tasks are read back as a stream.
STREAM_BATCH = 1000


def parse_task_lines(lines: Iterable[str | bytes], view: str) -> Iterator[Any]:
    """Decode JSON lines into task data; a bad line raises BadRequest naming its number."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise BadRequest(f"line {number}: invalid JSON: {error}") from error
        try:
            check_task_data(view, data)
        except BadRequest as error:
            raise BadRequest(f"line {number}: {error.message}") from error
        yield data


def insert_tasks(
    session: Session,
    campaign_id: int,
    lines: Iterable[str | bytes],
    *,
    progress: Callable[[int], None] | None = None,
    seed: int | None = None,
) -> int:
    """Insert one task per JSON line and return how many; the caller's rollback undoes all.

    Each task gets a random priority, so that assignment serves tasks in random order
    while walking an index instead of sorting the campaign.
    """
    campaign = get_campaign(session, campaign_id)
    rng = random.Random(seed)
    count = 0
    parsed = parse_task_lines(lines, campaign.view)
    write = _copy_writer(session) if _uses_copy(session) else _insert_writer(session)
    while chunk := list(islice(parsed, BATCH_SIZE)):
        # A whole chunk is parsed before any of it is written, so that a bad line raises
        # between two writes and leaves the caller's transaction usable (for its rollback).
        write(campaign_id, [(data, rng.random()) for data in chunk])
        count += len(chunk)
        if progress is not None:
            progress(len(chunk))
    record_event(session, "tasks.inserted", campaign_id=campaign_id, data={"count": count})
    return count


_Writer = Callable[[int, list[tuple[Any, float]]], None]


def _uses_copy(session: Session) -> bool:
    dialect = session.get_bind().dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _insert_writer(session: Session) -> _Writer:
    """Write a chunk with one executemany INSERT (SQLite, MariaDB)."""

    def write(campaign_id: int, rows: list[tuple[Any, float]]) -> None:
        session.execute(
            insert(Task),
            [
                {"campaign_id": campaign_id, "data": data, "assigned": 0, "priority": priority}
                for data, priority in rows
            ],
        )

    return write


_COPY_TASKS = f"COPY {Task.__tablename__} (campaign_id, data, assigned, priority) FROM STDIN"


def _copy_writer(session: Session) -> _Writer:
    """Write a chunk with one COPY on the session's own connection (PostgreSQL, psycopg).

    Same transaction as the session, same JSON as the ORM path writes (orjson), and the
    same float values (repr round-trips exactly); COPY's text format only needs the
    backslashes doubled, since JSON never holds a raw tab or newline.
    """
    session.flush()
    driver_connection: Any = session.connection().connection.driver_connection
    utf8 = driver_connection.info.encoding == "utf-8"

    def write(campaign_id: int, rows: list[tuple[Any, float]]) -> None:
        prefix = b"%d\t" % campaign_id
        payload = b"".join(
            prefix
            + orjson.dumps(data).replace(b"\\", b"\\\\")
            + b"\t0\t"
            + repr(priority).encode()
            + b"\n"
            for data, priority in rows
        )
        with driver_connection.cursor() as cursor, cursor.copy(_COPY_TASKS) as copy:
            # orjson writes UTF-8; another client encoding gets text for psycopg to encode.
            copy.write(payload if utf8 else payload.decode())

    return write


#: Tasks per UPDATE when MariaDB re-prioritises (PyMySQL sends an executemany row by row).
REORDER_CHUNK = 250


def reorder_tasks(session: Session, changes: Sequence[tuple[int, float | None, bool]]) -> None:
    """Give tasks new priorities and holdout marks: (task id, priority or None to keep it,
    holdout), in the caller's transaction, locking the tasks in id order.

    One executemany by primary key (PostgreSQL pipelines it, SQLite runs it in process); on
    MariaDB one `UPDATE … CASE id …` per `REORDER_CHUNK` tasks instead, five times faster.
    """
    ordered = sorted(changes)
    if not ordered:
        return
    table = cast(Table, Task.__table__)
    if session.get_bind().dialect.name != "mysql":
        priority = bindparam("new_priority", type_=table.c.priority.type)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("task_id"))
            .values(
                priority=func.coalesce(priority, table.c.priority),
                holdout=bindparam("mark", type_=table.c.holdout.type),
            ),
            [{"task_id": t, "new_priority": p, "mark": h} for t, p, h in ordered],
        )
        return
    for start in range(0, len(ordered), REORDER_CHUNK):
        chunk = ordered[start : start + REORDER_CHUNK]
        values: dict[str, Any] = {}
        priorities = {t: p for t, p, _ in chunk if p is not None}
        if priorities:
            values["priority"] = case(priorities, value=table.c.id, else_=table.c.priority)
        values["holdout"] = case({t: h for t, _, h in chunk}, value=table.c.id)
        ids = [t for t, _, _ in chunk]
        session.execute(update(table).where(table.c.id.in_(ids)).values(values))


@dataclass(frozen=True)
class LabeledTask:
    """A task with its current labels as (user id, time, value), in user id order."""

    id: int
    campaign_id: int
    data: Any
    labels: list[tuple[int, dt.datetime, Any]] = field(default_factory=list)


def campaign_tasks(
    session: Session, campaign_id: int, *, batch: int = STREAM_BATCH
) -> Iterator[LabeledTask]:
    """Yield a campaign's tasks with their labels, in id order, `batch` rows at a time.

    One query, read through a server-side cursor (PostgreSQL, MariaDB) or SQLite's own
    stepping, so memory stays flat whatever the campaign's size. The session must run no
    other statement until the iterator is exhausted or closed.
    """
    query = (
        select(Task.id, Task.campaign_id, Task.data, Label.user_id, Label.timestamp, Label.data)
        .outerjoin(Label, Label.task_id == Task.id)
        .where(Task.campaign_id == campaign_id)
        .order_by(Task.id, Label.user_id)
        .execution_options(yield_per=batch)
    )
    current: LabeledTask | None = None
    for task_id, task_campaign, data, user_id, timestamp, value in session.execute(query):
        if current is None or current.id != task_id:
            if current is not None:
                yield current
            current = LabeledTask(task_id, task_campaign, data)
        if user_id is not None:
            current.labels.append((user_id, timestamp, value))
    if current is not None:
        yield current


def task_rev_ids(session: Session, campaign_id: int) -> list[int]:
    """The revision ids of a campaign's tasks (those that name one), in task order."""
    query = select(Task.data).where(Task.campaign_id == campaign_id).order_by(Task.id)
    return [
        data["rev_id"]
        for data in session.scalars(query)
        if isinstance(data, dict) and isinstance(data.get("rev_id"), int)
    ]
