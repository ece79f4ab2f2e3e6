"""Governance pages: a change request with its discussion, a form to open one, the audit log.

`/ui/<wiki>/models/<model>/requests/new/` opens a request, `…/requests/<id>/` shows one with
its discussion, a comment box (logged in, while it is not closed), the decision form (the
wiki's stewards and admins) and the withdrawal (its author). `/ui/audit/` and
`/ui/<wiki>/audit/` show the public audit log, filtered by model and kind, a page at a time.
Forms post to the JSON routes of `http/governance.py`, which send the browser back here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from wikiloom.errors import AppError, NotFound
from wikiloom.http.audit import AUDIT_KINDS, audit_link, audit_page, next_link
from wikiloom.http.deps import in_transaction
from wikiloom.http.governance import REQUEST_CHIPS, may_govern
from wikiloom.http.identity import session_user
from wikiloom.http.model_pages import CHIPS, formatters, not_found
from wikiloom.http.rendering import render
from wikiloom.learn import governance
from wikiloom.learn.audit import MAX_PAGE, audit_log, audit_path
from wikiloom.learn.governance import requests_path
from wikiloom.learn.registry import get_model
from wikiloom.learn.tables import REQUEST_KINDS

router = APIRouter(include_in_schema=False)


def _context(request: Request, wiki: str | None, values: dict[str, Any]) -> dict[str, Any]:
    return {
        **formatters(request, wiki),
        "chips": CHIPS,
        "request_chips": REQUEST_CHIPS,
        "fields": frozenset(),
        "kinds": REQUEST_KINDS,
        "audit_kinds": AUDIT_KINDS,
        **values,
    }


def _model_page(wiki: str, name: str) -> str:
    return f"/ui/{quote(wiki, safe='')}/models/{quote(name, safe='')}/"


@router.get("/ui/{wiki}/models/{name}/requests/new/", response_class=HTMLResponse)
async def new_request(request: Request, wiki: str, name: str) -> HTMLResponse:
    """The form that opens a change request of a model (logged in)."""

    def work(session: Session) -> dict[str, Any]:
        model = get_model(session, wiki, name)
        return {"name": model.name, "status": model.status}

    try:
        model = await in_transaction(request, work)
    except NotFound as error:
        return not_found(request, wiki, error.message)
    page = request.url.path
    values = {
        "model": model,
        "model_page": _model_page(wiki, name),
        "action": requests_path(wiki, name),
        "login": f"/auth/initiate/?{urlencode({'next': page})}",
        "chosen": request.query_params.get("kind", ""),
    }
    return render(request, "governance/new.html", _context(request, wiki, values), wiki=wiki)


@router.get("/ui/{wiki}/models/{name}/requests/{request_id:int}/", response_class=HTMLResponse)
async def request_page(request: Request, wiki: str, name: str, request_id: int) -> HTMLResponse:
    """A change request: its proposal, discussion, outcome, forms and audit log entries."""

    def work(session: Session) -> dict[str, Any]:
        model = get_model(session, wiki, name)
        found = governance.get_request(session, model, request_id)
        log = audit_log(session, wiki=wiki, model=name, request_id=request_id, limit=MAX_PAGE)
        return {
            "item": found,
            "model": {"name": model.name, "status": model.status},
            "comments": governance.comments_of(session, found),
            "entries": log.entries,
        }

    try:
        values = await in_transaction(request, work)
    except NotFound as error:
        return not_found(request, wiki, error.message)
    item: governance.Request = values["item"]
    user = session_user(request)
    values |= {
        "model_page": _model_page(wiki, name),
        "action": requests_path(wiki, name, request_id),
        "logged_in": user is not None,
        "is_author": user is not None and user.get("id") == item.user_id,
        "may_decide": may_govern(request, wiki),
        "decisions": sorted(governance.DECISIONS.get(item.status, ())),
        "closed": item.status in governance.CLOSED,
        "login": f"/auth/initiate/?{urlencode({'next': request.url.path})}",
        "author": governance.actor_of(item.user_id, item.user_name),
    }
    return render(request, "governance/request.html", _context(request, wiki, values), wiki=wiki)


async def _audit(request: Request, wiki: str | None) -> HTMLResponse:
    try:
        found, query = await audit_page(request, wiki)
    except AppError as error:
        context = {"message": error.message, "back": request.url.path, "status": error.status}
        return render(request, "governance/error.html", context, wiki=wiki, status=error.status)
    path = "/ui/audit/" if wiki is None else f"/ui/{quote(wiki, safe='')}/audit/"
    values = {
        "entries": found.entries,
        "query": query,
        "fixed_wiki": wiki,
        "path": path,
        "next": next_link(path, query, found.cursor, wiki),
        "json": audit_link(audit_path(wiki), query, wiki),
        "pages": {e.id: governance.request_page(e.wiki, e.model, e.request_id or 0)
                  for e in found.entries if e.request_id},
    }  # fmt: skip
    return render(request, "governance/audit.html", _context(request, wiki, values), wiki=wiki)


@router.get("/ui/audit/", response_class=HTMLResponse)
async def audit(request: Request) -> HTMLResponse:
    """The public audit log of every model of every wiki."""
    return await _audit(request, None)


@router.get("/ui/{wiki}/audit/", response_class=HTMLResponse)
async def wiki_audit(request: Request, wiki: str) -> HTMLResponse:
    """The public audit log of one wiki's models."""
    return await _audit(request, wiki)
