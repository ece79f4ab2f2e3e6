"""Tasks: loading them into a campaign from JSON lines, all or nothing."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.events import record_event
from wikiloom.labels.tables import Task
from wikiloom.labels.views import check_task_data

BATCH_SIZE = 5000


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
    while chunk := list(islice(parsed, BATCH_SIZE)):
        session.execute(
            insert(Task),
            [
                {"campaign_id": campaign_id, "data": data, "assigned": 0, "priority": rng.random()}
                for data in chunk
            ],
        )
        count += len(chunk)
        if progress is not None:
            progress(len(chunk))
    record_event(session, "tasks.inserted", campaign_id=campaign_id, data={"count": count})
    return count
