"""The form builder: edit a form's YAML with a live preview, then propose it for review.

`POST /form_builder/preview` loads a form from its YAML and messages and answers its config
(as `/forms/<name>/` serves it), fields and label schema, or the problems with their lines.
Proposals are stored for admins to accept or reject; the server never installs a form
(forms are files deployed by operators), so an accepted proposal shows what to deploy.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wikiloom.errors import AppError, BadRequest, Forbidden, FormError, NotFound
from wikiloom.http.deps import in_transaction
from wikiloom.http.identity import require_user, session_user
from wikiloom.http.messages import Messages
from wikiloom.http.openapi import ErrorDetail, form_body
from wikiloom.http.organizing import is_admin
from wikiloom.http.rendering import page_language, render
from wikiloom.labels.forms import Form, FormProblem, builtin_forms_dir
from wikiloom.labels.proposals import (
    MAX_NOTE,
    MAX_YAML_BYTES,
    FormSource,
    Proposal,
    TooLarge,
    clean_i18n,
    field_records,
    get_proposal,
    list_proposals,
    load_source,
    propose_form,
    review_proposal,
)

router = APIRouter(prefix="/form_builder", tags=["form builder"])
PREFIX = "wikiloom-formbuilder-"
#: The largest request body read: the YAML (up to 100 KiB) and messages, JSON-escaped.
MAX_BODY = 1024 * 1024
STARTER = """\
# A form: OOjs UI widget configs (see /forms/ for the forms this server offers).
# Every widget with a "name" becomes a key of the label JSON.
name: my_form
title: "<my_form-title>"
fields:
  - class: FieldLayout
    label: "<my_form-question>"
    fieldWidget:
      class: ButtonSelectWidget
      name: answer
      items:
        - {class: ButtonOptionWidget, data: true, label: "<my_form-yes>"}
        - {class: ButtonOptionWidget, data: false, label: "<my_form-no>"}
  - class: FieldLayout
    label: "<my_form-unsure>"
    align: inline
    fieldWidget: {class: CheckboxInputWidget, name: unsure}
"""
STARTER_I18N = {
    "en": {
        "my_form-title": "My form",
        "my_form-question": "Is this edit damaging?",
        "my_form-yes": "Yes",
        "my_form-no": "No",
        "my_form-unsure": "Unsure?",
    }
}


class Problem(BaseModel):
    """A problem in the submitted YAML: its line and column (1-based, column if known)."""

    line: int
    column: int | None = None
    message: str


class Failure(BaseModel):
    """The error envelope, with the problems of the YAML (`errors`, empty for other errors)."""

    error: ErrorDetail
    errors: list[Problem] = []


class FieldRecord(BaseModel):
    """A named field of the form: a key of the label JSON."""

    name: str
    widget: str
    kind: str
    options: list[Any]
    required: bool
    line: int


class Preview(BaseModel):
    """A loaded form: its config with `i18n` (as `/forms/<name>/` serves it), fields, schema."""

    form: dict[str, Any]
    fields: list[FieldRecord]
    schema_: dict[str, Any] = Field(alias="schema")


class ProposalRecord(BaseModel):
    """A form proposal and its review (`status`: pending, accepted or rejected)."""

    id: int
    key: str
    yaml: str
    i18n: dict[str, dict[str, str]]
    note: str
    user: dict[str, Any]
    created: str
    status: str
    reviewer: dict[str, Any] | None
    reviewed: str | None
    comment: str | None
    url: str


class ProposalAnswer(BaseModel):
    """The proposal stored or reviewed."""

    proposal: ProposalRecord


def _failure(description: str) -> dict[str, Any]:
    return {"model": Failure, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _failure("The body is not a JSON object of the documented fields."),
    413: _failure("The body, the YAML (100 KiB) or the messages are too large."),
    422: _failure("The form does not load: `errors` name the lines of the YAML."),
}
SOURCE = {
    "yaml": {"type": "string", "description": "The form's YAML."},
    "i18n": {
        "type": ["object", "null"],
        "description": "Messages: `{language: {key: text}}`; `@metadata` is left out.",
        "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
PREVIEW_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["yaml"],
                "properties": {
                    **SOURCE,
                    "key": {"type": "string", "description": "The form's key (file name)."},
                },
            }
        }
    },
}
PROPOSAL_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["key", "yaml"],
                "properties": {
                    **SOURCE,
                    "key": {
                        "type": "string",
                        "pattern": "^[a-z0-9_]{1,64}$",
                        "description": "The file name the form would get (`<key>.yaml`).",
                    },
                    "note": {"type": "string", "maxLength": MAX_NOTE},
                },
            }
        }
    },
}


def _problem_response(error: AppError) -> Response:
    """The error envelope of `error`, with its line when it is a problem of the YAML."""
    problems = []
    if isinstance(error, FormProblem):
        problems = [{"line": error.line, "column": error.column, "message": error.problem}]
    status = 422 if isinstance(error, FormError) else error.status
    body = {"error": {"code": error.code, "message": error.message}, "errors": problems}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _answer(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def _json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, read up to `MAX_BODY` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge(f"the body must be at most {MAX_BODY // 1024} KiB")
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise BadRequest(f'"{name}" must be a string' if name in body else f'"{name}" is missing')
    return value


def _source(body: dict[str, Any], key: str) -> FormSource:
    """The form of a body's `yaml` and `i18n` (raises a FormProblem if it does not load)."""
    text = _string(body, "yaml")
    if len(text) > MAX_YAML_BYTES:  # before anything else looks at it
        raise TooLarge(f"a form's YAML must be at most {MAX_YAML_BYTES // 1024} KiB")
    return load_source(text, clean_i18n(body.get("i18n")), key)


def _served(form: Form) -> dict[str, Any]:
    """A form's config as `/forms/<name>/` serves it."""
    return {**form.config, "i18n": form.i18n}


def _time(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _shown_time(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _record(proposal: Proposal) -> dict[str, Any]:
    reviewer = None
    if proposal.reviewer_id is not None:
        reviewer = {"id": proposal.reviewer_id, "name": proposal.reviewer_name}
    return {
        "id": proposal.id,
        "key": proposal.key,
        "yaml": proposal.yaml,
        "i18n": proposal.i18n,
        "note": proposal.note,
        "user": {"id": proposal.user_id, "name": proposal.user_name},
        "created": _time(proposal.created),
        "status": proposal.status,
        "reviewer": reviewer,
        "reviewed": _time(proposal.reviewed),
        "comment": proposal.comment,
        "url": f"/form_builder/proposals/{proposal.id}",
    }


def _page_messages(request: Request) -> dict[str, str]:
    """The form builder's UI messages in the page language, for its script."""
    messages: Messages = request.app.state.messages
    return messages.bundle(page_language(request), PREFIX)


def _form_text(request: Request, key: str) -> str | None:
    """The YAML file of catalog form `key` (a configured directory wins over the built-in)."""
    if key not in request.app.state.forms:
        return None
    extra: Path | None = request.app.state.settings.forms_dir
    for directory in [*([extra] if extra is not None else []), builtin_forms_dir()]:
        path = directory / f"{key}.yaml"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def builder(request: Request) -> HTMLResponse:
    """The editor: `?form=<key>` starts from a form of the catalog."""
    key = request.query_params.get("form")
    text = _form_text(request, key) if key else None
    missing = key is not None and text is None
    if text is not None and key is not None:
        i18n, start_key = request.app.state.forms[key].i18n, key
    else:
        text, i18n, start_key = STARTER, STARTER_I18N, "my_form"
    config = {
        "messages": _page_messages(request),
        "lang": page_language(request),
        "maxBytes": MAX_YAML_BYTES,
    }
    context = {
        "config": config,
        "yaml_text": text,
        "key": start_key,
        "i18n_text": orjson.dumps(i18n, option=orjson.OPT_INDENT_2).decode(),
        "forms": sorted(request.app.state.forms),
        "chosen": key,
        "missing": missing,
        "max_kib": MAX_YAML_BYTES // 1024,
    }
    return render(request, "form_builder/builder.html", context, status=404 if missing else 200)


@router.post(
    "/preview",
    responses={200: {"model": Preview, "description": "The form loads."}, **ERRORS},
    openapi_extra={"requestBody": PREVIEW_BODY},
)
async def preview(request: Request) -> Response:
    """Load a form from its YAML and messages: its config, fields and label schema."""
    try:
        body = await _json_body(request)
        key = _string(body, "key", "form")
        source = await run_in_threadpool(_source, body, key)
    except AppError as error:
        return _problem_response(error)
    form = source.form
    fields = field_records(form)
    return _answer({"form": _served(form), "fields": fields, "schema": form.json_schema()})


@router.post(
    "/proposals",
    responses={
        200: {"model": ProposalAnswer, "description": "The proposal, stored (pending)."},
        403: _failure("Not logged in, or a cross-site write."),
        **ERRORS,
    },
    openapi_extra={"requestBody": PROPOSAL_BODY},
)
async def submit(request: Request) -> Response:
    """Propose a form for review (logged in); only a form that loads can be proposed."""
    try:
        user_id = require_user(request)
        name = (session_user(request) or {}).get("name") or None
        body = await _json_body(request)
        source = await run_in_threadpool(_source, body, _string(body, "key"))
        note = _string(body, "note", "")

        def work(session: Session) -> Proposal:
            return propose_form(session, source, note=note, user_id=user_id, user_name=name)

        proposal = await in_transaction(request, work, write=True)
    except AppError as error:
        return _problem_response(error)
    return _answer({"proposal": _record(proposal)})


@router.get("/proposals", response_class=HTMLResponse, include_in_schema=False)
async def proposals(request: Request) -> HTMLResponse:
    """Every proposal, newest first, with its status."""
    found = await in_transaction(request, list_proposals)
    return render(request, "form_builder/proposals.html", {"proposals": found})


def _loaded(proposal: Proposal) -> tuple[dict[str, Any] | None, str | None]:
    """The proposal's form as served, or why it no longer loads (the rules may change)."""
    try:
        form = load_source(proposal.yaml, proposal.i18n, proposal.key).form
    except AppError as error:
        return None, error.message
    return _served(form), None


@router.get("/proposals/{proposal_id:int}", response_class=HTMLResponse, include_in_schema=False)
async def proposal_page(request: Request, proposal_id: int) -> HTMLResponse:
    """One proposal: its YAML and messages to deploy, a preview, and its review."""
    try:
        proposal = await in_transaction(request, lambda s: get_proposal(s, proposal_id))
    except NotFound:
        return render(request, "form_builder/missing.html", {"id": proposal_id}, status=404)
    served, problem = await run_in_threadpool(_loaded, proposal)
    files = {
        language: orjson.dumps(messages, option=orjson.OPT_INDENT_2).decode()
        for language, messages in proposal.i18n.items()
    }
    preview = {
        "form": served,
        "messages": _page_messages(request),
        "lang": page_language(request),
    }
    context = {
        "proposal": proposal,
        "files": files,
        "problem": problem,
        "preview": preview,
        "admin": is_admin(request),
        "created": _shown_time(proposal.created),
        "reviewed": _shown_time(proposal.reviewed),
    }
    return render(request, "form_builder/proposal.html", context)


@router.post(
    "/proposals/{proposal_id:int}/review",
    responses={
        200: {"model": ProposalAnswer, "description": "The proposal, reviewed."},
        303: {"description": "A browser's form: back to the proposal's page."},
        403: _failure("Not an admin, not logged in, or a cross-site write."),
        404: _failure("No such proposal."),
        409: _failure("The proposal was already reviewed."),
        400: _failure("`status` is not accepted or rejected, or the comment is too long."),
        413: _failure("The body is too large."),
    },
    openapi_extra={
        "requestBody": form_body(
            {
                "status": "`accepted` or `rejected`.",
                "comment": "Why (shown on the proposal's page).",
            },
            required=("status",),
            limits={
                "status": {"enum": ["accepted", "rejected"]},
                "comment": {"maxLength": MAX_NOTE},
            },
        )
    },
)
async def review(request: Request, proposal_id: int) -> Response:
    """Accept or reject a pending proposal with a comment (admins)."""
    try:
        reviewer_id = require_user(request)
        if not is_admin(request):
            raise Forbidden("Only admins review form proposals.")
        name = (session_user(request) or {}).get("name") or None
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            raise TooLarge(f"the body must be at most {MAX_BODY // 1024} KiB")
        form = await request.form()
        status, comment = str(form.get("status") or ""), str(form.get("comment") or "")

        def work(session: Session) -> Proposal:
            return review_proposal(
                session,
                proposal_id,
                status=status,
                comment=comment,
                reviewer_id=reviewer_id,
                reviewer_name=name,
            )

        proposal = await in_transaction(request, work, write=True)
    except AppError as error:
        return _problem_response(error)
    except ValueError as error:  # a Content-Length that is no number
        return _problem_response(BadRequest(f"malformed request: {error}"))
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/form_builder/proposals/{proposal.id}", status_code=303)
    return _answer({"proposal": _record(proposal)})
