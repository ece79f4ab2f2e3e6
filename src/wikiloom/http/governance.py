"""Governance over HTTP: a model's status (the pause switch), change requests, the audit log.

Writes need a logged-in user (401 otherwise) and an Origin of ours (403 for a cross-site
write). Anyone logged in opens a change request and comments on it; the model stewards of
the wiki (`WIKILOOM_MODEL_STEWARDS`) and the admins change a model's status and decide
requests; the author withdraws one. Bodies are JSON or a browser's form: a form gets a 303
back to its page, or on error a page saying what went wrong. The audit log: `http/audit.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from wikiloom.errors import AppError, BadRequest, Unauthenticated
from wikiloom.http.audit import AUDIT_KINDS, READ_ONLY, entry_record
from wikiloom.http.deps import in_transaction
from wikiloom.http.identity import check_origin, safe_next, session_user
from wikiloom.http.openapi import ERRORS, extra, form_body, text_param
from wikiloom.http.organizing import is_admin
from wikiloom.http.rendering import render
from wikiloom.http.responses import respond
from wikiloom.learn import governance
from wikiloom.learn.audit import MAX_PAGE, audit_log, audit_path
from wikiloom.learn.governance import Comment, actor_of, requests_path
from wikiloom.learn.registry import SERVED_STATES, TRANSITIONS, get_model
from wikiloom.learn.tables import PAUSED, REQUEST_KINDS, Model

router = APIRouter(
    tags=["governance"],
    responses={
        **ERRORS,
        401: {"model": ERRORS[403]["model"], "description": "Nobody is logged in."},
    },
)
MAX_BODY = 64 * 1024
#: Codex info-chip variants of the requests' states.
REQUEST_CHIPS = {
    "open": "progressive",
    "accepted": "success",
    "declined": "error",
    "withdrawn": "subtle",
    "done": "success",
}


@dataclass(frozen=True)
class Caller:
    """Who writes: central user id and username."""

    id: int
    name: str | None


def caller(request: Request) -> Caller:
    """The logged-in user (401 otherwise), once the Origin of a cookie write is checked."""
    user = session_user(request)
    if user is None:
        raise Unauthenticated("Log in to do this: it is recorded under your username.")
    check_origin(request)
    return Caller(int(user["id"]), str(user.get("name") or "") or None)


def may_govern(request: Request, wiki: str) -> bool:
    """Whether the logged-in user is an admin or a model steward of the wiki."""
    user = session_user(request)
    if user is None:
        return False
    stewards: Mapping[str, list[str]] = request.app.state.settings.model_stewards
    return is_admin(request) or (bool(user.get("name")) and user["name"] in stewards.get(wiki, []))


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def request_record(item: governance.Request) -> dict[str, Any]:
    """A change request as JSON (people named by their usernames: these acts are public)."""
    return {
        "id": item.id,
        "wiki": item.wiki,
        "model": item.model,
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "details": item.details,
        "author": actor_of(item.user_id, item.user_name),
        "created": _iso(item.created),
        "status": item.status,
        "outcome": item.outcome,
        "decided_by": item.decided_by,
        "decided": _iso(item.decided),
        "comments": item.comments,
        "url": requests_path(item.wiki, item.model, item.id),
        "page": item.page,
    }


def comment_record(comment: Comment) -> dict[str, Any]:
    """A comment as JSON."""
    return {
        "id": comment.id,
        "author": actor_of(comment.user_id, comment.user_name),
        "body": comment.body,
        "created": _iso(comment.created),
    }


def resume_state(events: list[dict[str, Any]]) -> str:
    """The state a paused model resumes to: the one it was paused from (`active` by default).

    `events` are the model page's entries, newest first.
    """
    for event in events:
        if event["kind"] == "status" and event["new"] == PAUSED:
            return str(event["old"]) if event["old"] in SERVED_STATES else "active"
    return "active"


def model_controls(
    request: Request, wiki: str, name: str, status: str, events: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the model page offers (`governance`): the status switch for stewards, the
    change requests, the audit log; with the chips and kinds its templates show."""
    allowed = sorted(TRANSITIONS[status])
    if PAUSED in allowed:  # the pause switch comes first
        allowed.remove(PAUSED)
        allowed.insert(0, PAUSED)
    resume = resume_state(events) if status == PAUSED else None
    if resume is not None and resume in allowed:
        allowed.remove(resume)
        allowed.insert(0, resume)
    page = f"/ui/{quote(wiki, safe='')}/models/{quote(name, safe='')}/"
    controls = {
        "may_govern": may_govern(request, wiki),
        "logged_in": session_user(request) is not None,
        "states": allowed,
        "resume": resume,
        "status_url": f"/models/{quote(wiki, safe='')}/{quote(name, safe='')}/status/",
        "new_request": f"{page}requests/new/",
        "login": f"/auth/initiate/?{urlencode({'next': page})}",
        "audit_log": f"/ui/{quote(wiki, safe='')}/audit/?{urlencode({'model': name})}",
        "audit_json": audit_path(wiki, name),
    }
    return {"governance": controls, "request_chips": REQUEST_CHIPS, "audit_kinds": AUDIT_KINDS}


def wants_page(request: Request) -> bool:
    """Whether a browser's form sent the request (it gets pages, not JSON)."""
    content = request.headers.get("content-type", "")
    return "text/html" in request.headers.get("accept", "") and "form" in content


async def fields_of(request: Request) -> dict[str, Any]:
    """The body's fields: a JSON object, or a form (`details.<key>` fields make `details`)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the body must be at most {MAX_BODY // 1024} KiB")
    if "form" not in request.headers.get("content-type", ""):
        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as error:
            raise BadRequest(f"the body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body
    form = await request.form()
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if key.startswith("details."):
            fields.setdefault("details", {})[key.removeprefix("details.")] = value
        else:
            fields[key] = value
    return fields


def text(fields: Mapping[str, Any], name: str) -> str:
    """A text field ("" when absent); other types are refused by name."""
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f'"{name}" must be a string')
    return value


Act = Callable[[Session, Model, dict[str, Any], Caller], tuple[dict[str, Any], str]]


async def act(request: Request, wiki: str, name: str, work: Act) -> Response:
    """Run a write on a model as the caller: JSON back, or a browser's 303 to `work`'s page."""
    try:
        who = caller(request)
        fields = await fields_of(request)

        def run(session: Session) -> tuple[dict[str, Any], str]:
            return work(session, get_model(session, wiki, name), fields, who)

        body, page = await in_transaction(request, run, write=True)
    except AppError as error:
        if not wants_page(request):
            raise
        context = {"message": error.message, "back": _back(request, wiki), "status": error.status}
        return render(request, "governance/error.html", context, wiki=wiki, status=error.status)
    if wants_page(request):
        return RedirectResponse(page, status_code=303)
    return respond(request, body)


def _back(request: Request, wiki: str) -> str:
    """The page a form came from, when it is one of ours (its Referer), else the models."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/ui/"):
        return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
    return f"/ui/{quote(wiki, safe='')}/models/"


def _form(fields: dict[str, str], required: tuple[str, ...] = (), **limits: Any) -> Any:
    body = form_body(fields, required=required, limits=limits)
    body["content"]["application/json"] = body["content"]["application/x-www-form-urlencoded"]
    return extra(body=body, jsonp=False)


@router.post(
    "/models/{wiki}/{name}/status/",
    openapi_extra=_form(
        {"status": "proposed, trial, active, paused or retired.", "reason": "Why (public)."},
        ("status", "reason"),
    ),
)
async def change_status(request: Request, wiki: str, name: str) -> Response:
    """Change a model's status on its wiki (stewards and admins): `paused` stops serving
    and precaching it at once, in every process; `reason` goes to the public audit log."""
    steward = may_govern(request, wiki)

    def work(
        session: Session, model: Model, fields: dict[str, Any], who: Caller
    ) -> tuple[dict[str, Any], str]:
        governance.change_status(
            session, model, text(fields, "status"), reason=text(fields, "reason"),
            user_id=who.id, user_name=who.name, may_decide=steward,
        )  # fmt: skip
        record = {"wiki": model.wiki, "name": model.name, "status": model.status}
        body = {"model": record, "audit_log": audit_path(model.wiki, model.name)}
        return body, f"/ui/{quote(wiki, safe='')}/models/{quote(name, safe='')}/"

    return await act(request, wiki, name, work)


@router.get(
    "/models/{wiki}/{name}/requests/",
    responses={200: READ_ONLY},
    openapi_extra=extra(text_param("status", "Only requests in this state (open, ...).")),
)
async def list_requests(request: Request, wiki: str, name: str) -> Response:
    """A model's change requests, newest first (public)."""
    status = request.query_params.get("status") or None

    def work(session: Session) -> list[dict[str, Any]]:
        model = get_model(session, wiki, name)
        return [request_record(r) for r in governance.requests_of(session, model, status)]

    return respond(request, {"requests": await in_transaction(request, work)})


@router.post(
    "/models/{wiki}/{name}/requests/",
    openapi_extra=_form(
        {
            "kind": "retrain, threshold or turn_off.",
            "title": "What to change, in a line.",
            "body": "The proposal: what and why.",
            "details": "What exactly: for a threshold, {name, label, query or value} "
            "(a form sends details.query, details.value, ...).",
        },
        ("kind", "title", "body"),
        kind={"enum": list(REQUEST_KINDS)},
        title={"maxLength": governance.MAX_TITLE},
    ),
)
async def open_request(request: Request, wiki: str, name: str) -> Response:
    """Open a change request of a model (anyone logged in)."""

    def work(
        session: Session, model: Model, fields: dict[str, Any], who: Caller
    ) -> tuple[dict[str, Any], str]:
        opened = governance.open_request(
            session, model, kind=text(fields, "kind"), title=text(fields, "title"),
            body=text(fields, "body"), details=fields.get("details"), user_id=who.id,
            user_name=who.name,
        )  # fmt: skip
        return {"request": request_record(opened)}, opened.page

    return await act(request, wiki, name, work)


@router.get("/models/{wiki}/{name}/requests/{request_id:int}/", responses={200: READ_ONLY})
async def one_request(request: Request, wiki: str, name: str, request_id: int) -> Response:
    """A change request with its discussion and its entries of the audit log (public)."""

    def work(session: Session) -> dict[str, Any]:
        model = get_model(session, wiki, name)
        found = governance.get_request(session, model, request_id)
        comments = governance.comments_of(session, found)
        log = audit_log(session, wiki=wiki, model=name, request_id=request_id, limit=MAX_PAGE)
        return {
            **request_record(found),
            "discussion": [comment_record(c) for c in comments],
            "log": [entry_record(e) for e in reversed(log.entries)],
        }

    return respond(request, {"request": await in_transaction(request, work)})


@router.post(
    "/models/{wiki}/{name}/requests/{request_id:int}/comments/",
    openapi_extra=_form({"body": "The comment."}, ("body",)),
)
async def comment(request: Request, wiki: str, name: str, request_id: int) -> Response:
    """Comment on a change request (anyone logged in; not once it is closed)."""

    def work(
        session: Session, model: Model, fields: dict[str, Any], who: Caller
    ) -> tuple[dict[str, Any], str]:
        added = governance.comment_on(
            session, model, request_id, body=text(fields, "body"), user_id=who.id,
            user_name=who.name,
        )  # fmt: skip
        page = governance.request_page(wiki, name, request_id)
        return {"comment": comment_record(added)}, f"{page}#comment-{added.id}"

    return await act(request, wiki, name, work)


@router.post(
    "/models/{wiki}/{name}/requests/{request_id:int}/decision/",
    openapi_extra=_form(
        {"status": "accepted, declined, or done (of an accepted one).", "outcome": "Why."},
        ("status", "outcome"),
        status={"enum": ["accepted", "declined", "done"]},
    ),
)
async def decide(request: Request, wiki: str, name: str, request_id: int) -> Response:
    """Decide a change request (stewards and admins): accepting `turn_off` pauses the model."""
    steward = may_govern(request, wiki)

    def work(
        session: Session, model: Model, fields: dict[str, Any], who: Caller
    ) -> tuple[dict[str, Any], str]:
        decided = governance.decide(
            session, model, request_id, status=text(fields, "status"),
            outcome=text(fields, "outcome"), user_id=who.id, user_name=who.name,
            may_decide=steward,
        )  # fmt: skip
        return {"request": request_record(decided)}, decided.page

    return await act(request, wiki, name, work)


@router.post(
    "/models/{wiki}/{name}/requests/{request_id:int}/withdrawal/",
    openapi_extra=_form({"reason": "Why (optional)."}),
)
async def withdraw(request: Request, wiki: str, name: str, request_id: int) -> Response:
    """Withdraw an open change request (its author)."""

    def work(
        session: Session, model: Model, fields: dict[str, Any], who: Caller
    ) -> tuple[dict[str, Any], str]:
        withdrawn = governance.withdraw(
            session, model, request_id, user_id=who.id, user_name=who.name,
            reason=text(fields, "reason"),
        )  # fmt: skip
        return {"request": request_record(withdrawn)}, withdrawn.page

    return await act(request, wiki, name, work)
