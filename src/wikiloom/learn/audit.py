"""The public audit log of every model: who changed what, when and why, newest first.

Entries are the models' `model_events` (creation, versions, states, change requests), each
with its wiki, model, version and the change request it is about, read a page at a time
with a cursor: the id of the last entry of the previous page.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest
from wikiloom.learn.tables import Model, ModelEvent, ModelVersion

#: Audit log entries per page, by default and at most.
PAGE, MAX_PAGE = 50, 500
KIND = re.compile(r"[a-z_]{1,32}")


def audit_path(wiki: str | None = None, model: str | None = None) -> str:
    """The public audit log's path: every wiki's, one wiki's, or one model's."""
    path = "/audit/" if wiki is None else f"/audit/{quote(wiki, safe='')}/"
    return path + (f"?{urlencode({'model': model})}" if model else "")


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the public audit log, naming its wiki, model, version and request."""

    id: int
    at: dt.datetime
    wiki: str
    model: str
    kind: str
    old: str | None
    new: str | None
    actor: str | None
    reason: str | None
    version: str | None
    request_id: int | None


@dataclass(frozen=True)
class AuditPage:
    """A page of the audit log, newest first; `cursor` asks for the next (older) page."""

    entries: list[AuditEntry]
    cursor: int | None


def audit_log(
    session: Session,
    *,
    wiki: str | None = None,
    model: str | None = None,
    kind: str | None = None,
    request_id: int | None = None,
    before: int | None = None,
    limit: int = PAGE,
) -> AuditPage:
    """The public audit log of every model, newest first, filtered and `limit` at a time.

    `before` is the cursor of the previous page (the id of its last entry).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit is from 1 to {MAX_PAGE}, not {limit}")
    if kind is not None and not KIND.fullmatch(kind):
        raise BadRequest(f"kind is lowercase letters and underscores, not {kind[:40]!r}")
    query = (
        select(ModelEvent, Model.wiki, Model.name, ModelVersion.version)
        .join(Model, Model.id == ModelEvent.model_id)
        .outerjoin(ModelVersion, ModelVersion.id == ModelEvent.version_id)
        .order_by(ModelEvent.id.desc())
        .limit(limit + 1)
    )
    if wiki is not None:
        query = query.where(Model.wiki == wiki)
    if model is not None:
        query = query.where(Model.name == model)
    if kind is not None:
        query = query.where(ModelEvent.kind == kind)
    if request_id is not None:
        query = query.where(ModelEvent.request_id == request_id)
    if before is not None:
        query = query.where(ModelEvent.id < before)
    rows = session.execute(query).all()
    entries = [
        AuditEntry(
            id=event.id, at=event.at, wiki=wiki_name, model=name, kind=event.kind,
            old=event.old, new=event.new, actor=event.actor, reason=event.reason,
            version=label, request_id=event.request_id,
        )
        for event, wiki_name, name, label in rows[:limit]
    ]  # fmt: skip
    return AuditPage(entries, entries[-1].id if len(rows) > limit else None)
