"""Feedback on scores over HTTP: give it (logged in), read a model's disputes (public), and
turn them into a labeling campaign or settle them (admins).

Bodies are JSON, read by hand and checked with the Pydantic models below, so that every
error answers the app's envelope `{"error": {"code", "message"}}` (401 when nobody is
logged in, 403 for a cross-site write or a non-admin).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest, Forbidden, Unauthenticated
from wikiloom.http.deps import in_transaction
from wikiloom.http.identity import require_user, session_user
from wikiloom.http.openapi import ErrorEnvelope, extra, flag, text_param
from wikiloom.http.organizing import is_admin
from wikiloom.labels.campaigns import MAX_INT, MAX_LENGTH, campaign_record
from wikiloom.labels.export import pseudonymizer
from wikiloom.learn.disputes import (
    MAX_PAGE,
    dismiss,
    disputes,
    disputes_to_campaign,
    resolve,
)
from wikiloom.learn.feedback import (
    MAX_COMMENT,
    MAX_REV_ID,
    Author,
    feedback_record,
    find_model_of,
    give_feedback,
)
from wikiloom.learn.tables import DISMISSED, FEEDBACK_STATES, RESOLVED

#: The largest JSON body read, in bytes.
MAX_BODY = 64 * 1024
Label = bool | int | float | str


class FeedbackBody(BaseModel):
    """What a user says of a model's score of a revision."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    wiki: str = Field(min_length=1, max_length=64, description="The wiki's dbname (`enwiki`).")
    rev_id: int = Field(gt=0, le=MAX_REV_ID, strict=True, description="The revision scored.")
    model: str = Field(min_length=1, max_length=64, description="The model's name (`damaging`).")
    model_version: str | None = Field(
        None, max_length=32, description="The version whose score was shown (default: current)."
    )
    verdict: Literal["agree", "disagree"] = Field(description="Whether the score is right.")
    correct_label: Label | None = Field(
        None,
        description="The right label, one of the model's labels (`true`). A disagreement "
        "without it is kept but flagged `no_correct_label`; an agreement's is the prediction.",
    )
    comment: str | None = Field(None, max_length=MAX_COMMENT, description="Why, in words.")
    score: dict[str, Any] | None = Field(
        None,
        description='The score shown: `{"prediction": label, "probability": {label: p}}`.',
    )


class CampaignBody(BaseModel):
    """The campaign the open disputes become; every field has a default."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, min_length=1, max_length=MAX_LENGTH["name"], description="Default: dated."
    )
    form: str | None = Field(None, description="Default: a form asking the model's target.")
    labels_per_task: int = Field(3, ge=1, le=MAX_INT, strict=True)
    tasks_per_assignment: int = Field(10, ge=1, le=MAX_INT, strict=True)
    info_url: str | None = Field(None, max_length=MAX_LENGTH["info_url"])
    limit: int | None = Field(
        None, ge=1, le=MAX_INT, strict=True, description="At most this many revisions."
    )


class SettleBody(BaseModel):
    """How a reviewer settles a dispute."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["resolved", "dismissed"] = Field(
        description="`resolved`: the model was wrong; `dismissed`: the feedback is set aside "
        "(no longer used for training)."
    )
    note: str | None = Field(None, max_length=MAX_COMMENT, description="Why, for the record.")


class UserRef(BaseModel):
    """Who gave the feedback: the central user id and name, or a pseudonym (`name` null)."""

    id: int | str
    name: str | None


class FeedbackRecord(BaseModel):
    """A stored feedback; `flags` warn reviewers (`no_correct_label`)."""

    id: int
    wiki: str
    model: str
    version: str
    rev_id: int
    verdict: Literal["agree", "disagree"]
    correct_label: Label | None
    comment: str | None
    score: dict[str, Any] | None
    user: UserRef
    created: str
    updated: str | None
    status: Literal["open", "queued", "resolved", "dismissed"]
    campaign_id: int | None
    resolution: str | None
    resolved_by: str | None
    resolved: str | None
    flags: list[str]


class FeedbackAnswer(BaseModel):
    """The feedback as stored."""

    feedback: FeedbackRecord


class ModelRef(BaseModel):
    """The model the disputes are about."""

    wiki: str
    name: str
    target: str


class DisputesAnswer(BaseModel):
    """One page of a model's disputes (disagreements), with counts per state."""

    model: ModelRef
    status: str
    counts: dict[str, int]
    disputes: list[FeedbackRecord]
    after: int | None = Field(description="Pass as `after` for the next page; null at the end.")


class CampaignAnswer(BaseModel):
    """The campaign made of the disputes: its tasks (revisions) and the disputes queued."""

    campaign: dict[str, Any]
    tasks: int
    queued: int
    url: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body is not JSON of the documented fields, or a value does not fit."),
    401: _error("Nobody is logged in."),
    403: _error("A cross-site write, or (campaigns, settling) the user is not an admin."),
    404: _error("No such model on that wiki, or no such dispute."),
    409: _error("No open disputes to send, a campaign name taken, or already settled."),
    503: _error("The database is unavailable."),
}
router = APIRouter(prefix="/feedback", tags=["feedback"], responses=ERRORS)
B = TypeVar("B", bound=BaseModel)


def _json_body(schema: type[BaseModel]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": schema.model_json_schema()}},
    }


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _read(request: Request, schema: type[B], *, optional: bool = False) -> B:
    """The JSON body checked against `schema`; the first problem names its field."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the body must be at most {MAX_BODY // 1024} KiB of JSON")
    if optional and not raw.strip():
        raw = b"{}"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "body"
        if where == "correct_label" and len(first["loc"]) > 1:
            raise BadRequest("correct_label must be a string, number, boolean or null") from None
        raise BadRequest(f"{where}: {first['msg']}") from None


def _author(request: Request) -> Author:
    """The logged-in user (401 otherwise), once the Origin of a cookie write is checked."""
    user = session_user(request)
    if user is None:
        raise Unauthenticated("Log in to do this: it is recorded under your account.")
    user_id = require_user(request)
    return Author(user_id, str(user.get("name") or "") or None)


def _admin(request: Request, what: str) -> Author:
    author = _author(request)
    if not is_admin(request):
        raise Forbidden(f"Only admins can {what}.")
    return author


@router.post(
    "/",
    status_code=201,
    responses={
        201: {"model": FeedbackAnswer, "description": "The feedback, stored."},
        200: {"model": FeedbackAnswer, "description": "The user's earlier feedback, changed."},
    },
    openapi_extra=extra(body=_json_body(FeedbackBody), jsonp=False),
)
async def post_feedback(request: Request) -> Response:
    """Agree or disagree with a model's score of a revision (logged in).

    One feedback per user, model and revision: sending it again changes it (200). A
    disagreement goes to the model's disputes queue; its `correct_label` must be one of the
    model's labels, and differ from the `score.prediction` the user saw.
    """
    author = _author(request)
    body = await _read(request, FeedbackBody)

    def work(session: Session) -> tuple[dict[str, Any], bool]:
        row, created = give_feedback(
            session, body.wiki, body.model, body.rev_id, verdict=body.verdict,
            correct_label=body.correct_label, comment=body.comment,
            version=body.model_version, score=body.score, user=author,
        )  # fmt: skip
        return feedback_record(row, body.model), created

    record, created = await in_transaction(request, work, write=True)
    return _answer({"feedback": record}, 201 if created else 200)


def _integer(request: Request, name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}") from None
    if not 0 < value <= MAX_INT:
        raise BadRequest(f"{name} must be from 1 to {MAX_INT}, not {value}")
    return value


def _number_param(name: str, description: str, maximum: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": maximum}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


@router.get(
    "/{wiki}/{model}/disputes/",
    responses={200: {"model": DisputesAnswer, "description": "One page of disputes."}},
    openapi_extra=extra(
        text_param(
            "status",
            "Disputes in this state (default `open`), or `all`.",
            enum=[*FEEDBACK_STATES, "all"],
        ),
        text_param("order", "`oldest` first (default) or `newest`.", enum=["oldest", "newest"]),
        _number_param("limit", f"Disputes per page (default 50, at most {MAX_PAGE}).", MAX_PAGE),
        _number_param("after", "The `after` of the previous page.", MAX_INT),
        flag("pseudonymous", "Replace user ids by keyed hashes and leave names out."),
        jsonp=False,
    ),
)
async def list_disputes(request: Request, wiki: str, model: str) -> Response:
    """A model's disputes: the feedback that disagrees with its scores, public and read-only."""
    status = request.query_params.get("status") or "open"
    if status not in (*FEEDBACK_STATES, "all"):
        raise BadRequest(f"status must be one of {', '.join(FEEDBACK_STATES)} or all")
    order = request.query_params.get("order") or "oldest"
    if order not in ("oldest", "newest"):
        raise BadRequest(f"order must be oldest or newest, not {order!r}")
    limit = _integer(request, "limit", 50) or 50
    if limit > MAX_PAGE:
        raise BadRequest(f"limit must be from 1 to {MAX_PAGE}, not {limit}")
    after = _integer(request, "after", None)
    pseudonym = None
    if "pseudonymous" in request.query_params:
        pseudonym = pseudonymizer(request.app.state.secret_key)

    def work(session: Session) -> dict[str, Any]:
        found = find_model_of(session, wiki, model)
        page = disputes(
            session, found, None if status == "all" else status, limit=limit, after=after,
            newest_first=order == "newest",
        )  # fmt: skip
        rows = [
            feedback_record(
                row,
                found.name,
                None if pseudonym is None else {"id": pseudonym(row.user_id), "name": None},
            )
            for row in page.items
        ]
        return {
            "model": {"wiki": found.wiki, "name": found.name, "target": found.target},
            "status": status,
            "counts": page.counts,
            "disputes": rows,
            "after": page.next_after,
        }

    return _answer(await in_transaction(request, work))


def default_name(model: str, now: dt.datetime | None = None) -> str:
    """A campaign name for a model's disputes: `Disputes of damaging, 2025-01-31 12:00:00`."""
    moment = now or dt.datetime.now(dt.UTC)
    return f"Disputes of {model}, {moment:%Y-%m-%d %H:%M:%S}"


@router.post(
    "/{wiki}/{model}/disputes/campaign",
    status_code=201,
    responses={201: {"model": CampaignAnswer, "description": "The campaign, with its tasks."}},
    openapi_extra=extra(body={**_json_body(CampaignBody), "required": False}, jsonp=False),
)
async def disputes_campaign(request: Request, wiki: str, model: str) -> Response:
    """Turn a model's open disputes into a labeling campaign on its wiki (admins).

    One `{"rev_id": N}` task per disputed revision; the disputes become `queued` with the
    campaign's id, the creator organizes the campaign, and the model's log records it.
    """
    author = _admin(request, "send disputes to a labeling campaign")
    body = await _read(request, CampaignBody, optional=True)
    forms = request.app.state.forms

    def work(session: Session) -> dict[str, Any]:
        found = find_model_of(session, wiki, model)
        made = disputes_to_campaign(
            session, found, name=body.name or default_name(found.name), forms=forms,
            form=body.form, actor=author.name or str(author.id), organizer=author.id,
            labels_per_task=body.labels_per_task, tasks_per_assignment=body.tasks_per_assignment,
            info_url=body.info_url, limit=body.limit,
        )  # fmt: skip
        campaign = made.campaign
        return {
            "campaign": campaign_record(campaign),
            "tasks": made.tasks,
            "queued": made.queued,
            "url": f"/ui/{campaign.wiki}/campaigns/{campaign.id}/manage/",
        }

    return _answer(await in_transaction(request, work, write=True), 201)


@router.post(
    "/{wiki}/{model}/disputes/{feedback_id:int}",
    responses={200: {"model": FeedbackAnswer, "description": "The dispute, settled."}},
    openapi_extra=extra(body=_json_body(SettleBody), jsonp=False),
)
async def settle_dispute(request: Request, wiki: str, model: str, feedback_id: int) -> Response:
    """Settle a dispute (admins): `resolved` (the model was wrong) or `dismissed`."""
    author = _admin(request, "settle disputes")
    body = await _read(request, SettleBody)
    settle = {RESOLVED: resolve, DISMISSED: dismiss}[body.status]

    def work(session: Session) -> dict[str, Any]:
        found = find_model_of(session, wiki, model)
        actor = author.name or str(author.id)
        row = settle(session, found, feedback_id, actor=actor, note=body.note)
        return {"feedback": feedback_record(row, found.name)}

    return _answer(await in_transaction(request, work, write=True))
