"""The public, read-only audit log of every model over HTTP: `/audit/` and `/audit/<wiki>/`.

Newest first, filtered by wiki, model and kind of entry, `limit` at a time; `next` links the
older page (its `cursor`). Actors are named by their usernames: these are public acts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wikiloom.errors import BadRequest
from wikiloom.http.deps import in_transaction
from wikiloom.http.openapi import ERRORS, RESPONSES, extra, text_param
from wikiloom.http.responses import respond
from wikiloom.learn.audit import MAX_PAGE, PAGE, AuditEntry, AuditPage, audit_log, audit_path
from wikiloom.learn.governance import request_page, requests_path

router = APIRouter(tags=["governance"], responses={k: ERRORS[k] for k in (400, 503)})
#: A read's answer: JSON, or with `?callback=` JSONP.
READ_ONLY = RESPONSES[200]
#: The audit log's kinds of entries, offered as filters (each has a message).
AUDIT_KINDS = (
    "created", "registered", "status", "current_version", "published",
    "change_request_opened", "change_request_commented", "change_request_decided",
    "change_request_withdrawn",
)  # fmt: skip


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    """An audit log entry as JSON, with the change request it is about."""
    request = None
    if entry.request_id is not None:
        request = {
            "id": entry.request_id,
            "url": requests_path(entry.wiki, entry.model, entry.request_id),
            "page": request_page(entry.wiki, entry.model, entry.request_id),
        }
    return {
        "id": entry.id,
        "at": _iso(entry.at),
        "wiki": entry.wiki,
        "model": entry.model,
        "kind": entry.kind,
        "old": entry.old,
        "new": entry.new,
        "actor": entry.actor,
        "reason": entry.reason,
        "version": entry.version,
        "request": request,
    }


AUDIT_PARAMETERS = (
    text_param("model", "Only this model's entries (by name)."),
    text_param("kind", "Only entries of this kind: status, change_request_opened, ..."),
    text_param("cursor", "The `cursor` of the previous page: the entries before it."),
    text_param("limit", f"Entries per page, 1 to {MAX_PAGE} (default 50)."),
)


def audit_query(request: Request, wiki: str | None) -> dict[str, Any]:
    """The audit log's filters from the query string, checked."""
    params = request.query_params
    numbers = {}
    for key, default in (("cursor", None), ("limit", PAGE)):
        raw = params.get(key)
        try:
            numbers[key] = default if raw in (None, "") else int(str(raw))
        except ValueError:
            raise BadRequest(f"{key} must be an integer, not {str(raw)[:40]!r}") from None
    return {
        "wiki": wiki or params.get("wiki") or None,
        "model": params.get("model") or None,
        "kind": params.get("kind") or None,
        "before": numbers["cursor"],
        "limit": numbers["limit"],
    }


async def audit_page(request: Request, wiki: str | None) -> tuple[AuditPage, dict[str, Any]]:
    """A page of the audit log as the query string asks, and the filters used."""
    query = audit_query(request, wiki)
    found = await in_transaction(request, lambda session: audit_log(session, **query))
    return found, query


def audit_link(
    path: str, query: Mapping[str, Any], fixed: str | None, cursor: int | None = None
) -> str:
    """A link to the audit log at `path` with the same filters (and a cursor)."""
    keep = {k: v for k, v in query.items() if v is not None and k not in ("before", "wiki")}
    if query.get("wiki") and not fixed:
        keep["wiki"] = query["wiki"]
    if keep.get("limit") == PAGE:
        del keep["limit"]
    if cursor is not None:
        keep["cursor"] = cursor
    return f"{path}?{urlencode(keep)}" if keep else path


def next_link(
    path: str, query: Mapping[str, Any], cursor: int | None, fixed: str | None
) -> str | None:
    """The link to the next (older) page, keeping the filters."""
    return None if cursor is None else audit_link(path, query, fixed, cursor)


async def _audit(request: Request, wiki: str | None) -> Response:
    found, query = await audit_page(request, wiki)
    path = audit_path(wiki)
    return respond(
        request,
        {
            "entries": [entry_record(entry) for entry in found.entries],
            "cursor": found.cursor,
            "next": next_link(path, query, found.cursor, wiki),
        },
    )


@router.get(
    "/audit/",
    responses={200: READ_ONLY},
    openapi_extra=extra(text_param("wiki", "Only this wiki's models."), *AUDIT_PARAMETERS),
)
async def audit(request: Request) -> Response:
    """The public audit log of every model of every wiki, newest first, a page at a time."""
    return await _audit(request, None)


@router.get("/audit/{wiki}/", responses={200: READ_ONLY}, openapi_extra=extra(*AUDIT_PARAMETERS))
async def wiki_audit(request: Request, wiki: str) -> Response:
    """The public audit log of one wiki's models, newest first, a page at a time."""
    return await _audit(request, wiki)
