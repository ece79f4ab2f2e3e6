"""Governance of models per wiki: state changes and change requests.

Anyone logged in may open a change request of a model (retrain it, change a threshold, turn
it off) and discuss it; the wiki's stewards and the admins decide (`may_decide`, which the
caller works out from the settings), and the author may withdraw an open request. Accepting
a `turn_off` request pauses the model at once (a proposed one is retired), citing the
request. Every step is an entry of the model's audit log, which is public (`audit.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, Conflict, Forbidden, NotFound
from wikiloom.labels.proposals import check_text
from wikiloom.labels.users import ensure_user
from wikiloom.learn.registry import TRANSITIONS, log_event, set_status
from wikiloom.learn.tables import (
    PAUSED,
    REQUEST_KINDS,
    RETIRED,
    THRESHOLD,
    TURN_OFF,
    ChangeRequest,
    ChangeRequestComment,
    Model,
)
from wikiloom.learn.thresholds import ThresholdQuery

OPEN, ACCEPTED, DECLINED, WITHDRAWN, DONE = "open", "accepted", "declined", "withdrawn", "done"
#: Requests whose discussion has ended: no more comments.
CLOSED = frozenset({DECLINED, WITHDRAWN, DONE})
#: What a steward may decide, from each state.
DECISIONS = {OPEN: frozenset({ACCEPTED, DECLINED}), ACCEPTED: frozenset({DONE})}
MAX_TITLE, MAX_TEXT, MAX_DETAILS_BYTES = 200, 10_000, 16 * 1024
MAX_ID = 2**31 - 1


def request_page(wiki: str, model: str, request_id: int) -> str:
    """The page of a change request."""
    return f"/ui/{quote(wiki, safe='')}/models/{quote(model, safe='')}/requests/{request_id}/"


def requests_path(wiki: str, model: str, request_id: int | None = None) -> str:
    """The JSON path of a model's change requests, or of one."""
    path = f"/models/{quote(wiki, safe='')}/{quote(model, safe='')}/requests/"
    return path if request_id is None else f"{path}{request_id}/"


@dataclass(frozen=True)
class Request:
    """A change request and its outcome, as shown and listed."""

    id: int
    wiki: str
    model: str
    kind: str
    title: str
    body: str
    details: dict[str, Any]
    user_id: int
    user_name: str | None
    created: dt.datetime
    status: str
    outcome: str | None
    decided_by: str | None
    decided: dt.datetime | None
    comments: int

    @property
    def page(self) -> str:
        """Its page."""
        return request_page(self.wiki, self.model, self.id)


@dataclass(frozen=True)
class Comment:
    """One comment of a request's discussion."""

    id: int
    request_id: int
    user_id: int
    user_name: str | None
    body: str
    created: dt.datetime


def actor_of(user_id: int, user_name: str | None) -> str:
    """Who acted, as the public log names them: their username."""
    return user_name or f"user {user_id}"


def _text(what: str, value: object, limit: int, *, required: bool = True) -> str:
    """A stripped text of at most `limit` characters that can be stored."""
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be text")
    text = value.strip()
    if required and not text:
        raise BadRequest(f"{what} is required")
    return check_text(what, text, limit)


def check_details(kind: str, details: object) -> dict[str, Any]:
    """What a request of `kind` asks for exactly; a threshold change must name its threshold."""
    if details is None:
        details = {}
    if not isinstance(details, Mapping):
        raise BadRequest("details must be a JSON object")
    cleaned = {str(k): v for k, v in details.items() if v not in (None, "")}
    if len(orjson.dumps(cleaned)) > MAX_DETAILS_BYTES:
        raise BadRequest(f"details must be at most {MAX_DETAILS_BYTES // 1024} KiB of JSON")
    if kind != THRESHOLD:
        return cleaned
    for key in ("name", "label", "query"):
        if key in cleaned:
            cleaned[key] = _text(f"details.{key}", cleaned[key], 200)
    if "query" not in cleaned and "value" not in cleaned:
        raise BadRequest(
            "a threshold change names the threshold asked for: details.query (a threshold "
            "query such as 'maximum recall @ precision >= 0.9') or details.value (0 to 1)"
        )
    if "query" in cleaned:
        ThresholdQuery.parse(cleaned["query"])  # a BadRequest says what is wrong with it
    if "value" in cleaned:
        raw = cleaned["value"]
        try:
            value = float(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        if value is None or not 0 <= value <= 1:
            raise BadRequest(f"details.value is a threshold from 0 to 1, not {str(raw)[:40]!r}")
        cleaned["value"] = value
    return cleaned


def _request(row: ChangeRequest, model: Model, comments: int) -> Request:
    return Request(
        id=row.id,
        wiki=model.wiki,
        model=model.name,
        kind=row.kind,
        title=row.title,
        body=row.body,
        details=row.details,
        user_id=row.user_id,
        user_name=row.user_name,
        created=row.created,
        status=row.status,
        outcome=row.outcome,
        decided_by=row.decided_by,
        decided=row.decided,
        comments=comments,
    )


def _row(session: Session, model: Model, request_id: int, *, lock: bool = False) -> ChangeRequest:
    found = None
    if 0 < request_id <= MAX_ID:
        query = select(ChangeRequest).where(
            ChangeRequest.id == request_id, ChangeRequest.model_id == model.id
        )
        found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"{model.wiki} {model.name} has no change request {request_id}")
    return found


def _count(session: Session, request_id: int) -> int:
    query = select(func.count()).where(ChangeRequestComment.request_id == request_id)
    return session.scalar(query) or 0


def open_request(
    session: Session,
    model: Model,
    *,
    kind: str,
    title: str,
    body: str,
    details: object = None,
    user_id: int,
    user_name: str | None,
) -> Request:
    """Open a change request of a model (anyone logged in), logged in its audit log."""
    if kind not in REQUEST_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(REQUEST_KINDS)}, not {str(kind)[:40]!r}")
    row = ChangeRequest(
        model_id=model.id,
        kind=kind,
        title=" ".join(_text("title", title, MAX_TITLE).split()),  # one line
        body=_text("body", body, MAX_TEXT),
        details=check_details(kind, details),
        user_id=user_id,
        user_name=(user_name or "")[:255] or None,
        created=utcnow(),
        status=OPEN,
    )
    ensure_user(session, user_id, now=row.created)
    session.add(row)
    session.flush()
    log_event(
        session, model, "change_request_opened", new=OPEN, actor=actor_of(user_id, user_name),
        reason=f"{kind}: {row.title}", request_id=row.id,
    )  # fmt: skip
    return _request(row, model, 0)


def comment_on(
    session: Session,
    model: Model,
    request_id: int,
    *,
    body: str,
    user_id: int,
    user_name: str | None,
) -> Comment:
    """Add a comment to a request's discussion (anyone logged in; not once it is closed)."""
    row = _row(session, model, request_id)
    if row.status in CLOSED:
        raise Conflict(f"change request {request_id} is {row.status}: its discussion is closed")
    comment = ChangeRequestComment(
        request_id=row.id,
        user_id=user_id,
        user_name=(user_name or "")[:255] or None,
        body=_text("comment", body, MAX_TEXT),
        created=utcnow(),
    )
    ensure_user(session, user_id, now=comment.created)
    session.add(comment)
    session.flush()
    log_event(
        session, model, "change_request_commented", actor=actor_of(user_id, user_name),
        request_id=row.id,
    )  # fmt: skip
    return _comment(comment)


def _comment(row: ChangeRequestComment) -> Comment:
    return Comment(row.id, row.request_id, row.user_id, row.user_name, row.body, row.created)


def _close(
    session: Session,
    model: Model,
    row: ChangeRequest,
    status: str,
    *,
    outcome: str | None,
    user_id: int,
    user_name: str | None,
    kind: str = "change_request_decided",
) -> None:
    """Give a request its new state and outcome, logged."""
    old, moment = row.status, utcnow()
    ensure_user(session, user_id, now=moment)  # before the change: its foreign key needs it
    row.status, row.outcome, row.decided = status, outcome, moment
    row.decided_by, row.decided_by_id = actor_of(user_id, user_name)[:255], user_id
    session.flush()
    log_event(
        session, model, kind, old=old, new=status, actor=row.decided_by, reason=outcome,
        request_id=row.id,
    )  # fmt: skip


def decide(
    session: Session,
    model: Model,
    request_id: int,
    *,
    status: str,
    outcome: str,
    user_id: int,
    user_name: str | None,
    may_decide: bool,
) -> Request:
    """Accept or decline an open request, or mark an accepted one done, saying why.

    Only the wiki's stewards and the admins decide (`may_decide`). Accepting a `turn_off`
    request turns the model off at once: it is paused (a proposed model is retired), the
    request cited as the reason, and the request is then done.
    """
    if not may_decide:
        raise Forbidden(f"Only the model stewards of {model.wiki} and admins decide requests.")
    if status not in (ACCEPTED, DECLINED, DONE):
        raise BadRequest(f'status must be "accepted", "declined" or "done", not {status[:40]!r}')
    text = _text("outcome", outcome, MAX_TEXT)
    row = _row(session, model, request_id, lock=True)
    if status not in DECISIONS.get(row.status, frozenset()):
        allowed = " or ".join(sorted(DECISIONS.get(row.status, ()))) or "nothing"
        raise Conflict(f"change request {request_id} is {row.status}: it can become {allowed}")
    _close(session, model, row, status, outcome=text, user_id=user_id, user_name=user_name)
    if status == ACCEPTED and row.kind == TURN_OFF:
        _turn_off(session, model, row, user_id=user_id, user_name=user_name)
    return _request(row, model, _count(session, row.id))


def _turn_off(
    session: Session, model: Model, row: ChangeRequest, *, user_id: int, user_name: str | None
) -> None:
    """Pause the model of an accepted `turn_off` request (retire it if it was only proposed)."""
    actor = actor_of(user_id, user_name)
    reason = f"change request {row.id} accepted: {row.title}"
    if model.status in (PAUSED, RETIRED):
        done = f"The model was already {model.status}."
    else:
        state = PAUSED if PAUSED in TRANSITIONS[model.status] else RETIRED
        set_status(session, model, state, actor=actor, reason=reason, request_id=row.id)
        done = f"The model is {state} on {model.wiki}."
    _close(session, model, row, DONE, outcome=f"{row.outcome}\n\n{done}", user_id=user_id,
           user_name=user_name)  # fmt: skip


def withdraw(
    session: Session,
    model: Model,
    request_id: int,
    *,
    user_id: int,
    user_name: str | None,
    reason: str = "",
) -> Request:
    """Withdraw an open request: its author only."""
    row = _row(session, model, request_id, lock=True)
    if row.user_id != user_id:
        raise Forbidden(f"Only the author of change request {request_id} may withdraw it.")
    if row.status != OPEN:
        raise Conflict(f"change request {request_id} is {row.status}, no longer open")
    text = _text("reason", reason, MAX_TEXT, required=False) or None
    _close(
        session, model, row, WITHDRAWN, outcome=text, user_id=user_id, user_name=user_name,
        kind="change_request_withdrawn",
    )  # fmt: skip
    return _request(row, model, _count(session, row.id))


def change_status(
    session: Session,
    model: Model,
    status: str,
    *,
    reason: str,
    user_id: int,
    user_name: str | None,
    may_decide: bool,
) -> Model:
    """Move a model to another state on its wiki (pause, resume, ...): stewards and admins."""
    if not may_decide:
        raise Forbidden(f"Only the model stewards of {model.wiki} and admins change its status.")
    return set_status(session, model, status, actor=actor_of(user_id, user_name), reason=reason)


def requests_of(session: Session, model: Model, status: str | None = None) -> list[Request]:
    """A model's change requests, newest first, with their comment counts."""
    counts = (
        select(ChangeRequestComment.request_id, func.count().label("n"))
        .group_by(ChangeRequestComment.request_id)
        .subquery()
    )
    query = (
        select(ChangeRequest, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.request_id == ChangeRequest.id)
        .where(ChangeRequest.model_id == model.id)
        .order_by(ChangeRequest.id.desc())
    )
    if status is not None:
        query = query.where(ChangeRequest.status == status)
    return [_request(row, model, int(n)) for row, n in session.execute(query)]


def get_request(session: Session, model: Model, request_id: int) -> Request:
    """One change request of a model (NotFound otherwise)."""
    row = _row(session, model, request_id)
    return _request(row, model, _count(session, row.id))


def comments_of(session: Session, request: Request) -> list[Comment]:
    """A request's discussion, oldest first."""
    query = (
        select(ChangeRequestComment)
        .where(ChangeRequestComment.request_id == request.id)
        .order_by(ChangeRequestComment.id)
    )
    return [_comment(row) for row in session.scalars(query)]
