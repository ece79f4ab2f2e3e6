"""The Wiki labels REST API: same paths, flags, objects, messages and error envelope.

Reads are public. Writes need a logged-in user and act only on the caller's own worksets.
Bodies are form-encoded (`label=<json>`, `workset=stats`); include flags are presence flags
read from the query string or the form (`?tasks`, `?campaign=stats`, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from wikiloom.db import transaction
from wikiloom.errors import BadRequest, Conflict, NotFound
from wikiloom.http import wikilabels_objects as objects
from wikiloom.http.deps import in_transaction
from wikiloom.http.eligibility import as_eligible, check_campaign
from wikiloom.http.identity import require_user
from wikiloom.http.openapi import RESPONSES, STATS, extra, flag, form_body
from wikiloom.http.responses import respond, respond_streamed
from wikiloom.labels.campaigns import get_campaign, list_campaigns, list_wikis
from wikiloom.labels.forms import Form
from wikiloom.labels.labeling import save_label
from wikiloom.labels.requirements import requirements_of
from wikiloom.labels.tables import Campaign, Task, Workset
from wikiloom.labels.tasks import campaign_tasks
from wikiloom.labels.worksets import (
    abandon_workset,
    assign_workset,
    get_workset,
    skip_task,
    user_worksets,
    workset_tasks,
)
from wikiloom.learn.learningcurve import learning_summary
from wikiloom.wiki.users import WikiUser

router = APIRouter(tags=["wikilabels"], responses=RESPONSES)
Flags = Mapping[str, str]

CAMPAIGNS_INFO = (
    "Welcome to the campaigns module.  This module provides access to data using a heirachical "
    "strategy: 'wikis' have 'campaigns', 'campaigns' have 'worksets' and 'worksets' have "
    "'tasks'.  The URL structure looks like this: /campaigns/<wiki>/<campaign_id>/"
    "<workset_id>/<task_id>/"
)
FORMS_INFO = (
    "Welcome to the forms module.  This module provides access to form configuration.  "
    "The only meaningful path is /forms/<form_name>/"
)
USERS_INFO = (
    "Welcome to the users module.  This module provides access to data via the lens of a user."
)


async def _flags(request: Request) -> dict[str, str]:
    """Presence flags from the query string and, for writes, the form body."""
    flags = dict(request.query_params)
    if request.method in ("POST", "PUT", "DELETE"):
        flags.update({k: str(v) for k, v in (await request.form()).items()})
    return flags


def _form(request: Request, name: str) -> Form:
    forms: dict[str, Form] = request.app.state.forms
    if name not in forms:
        raise NotFound(f"form_name={name}")
    return forms[name]


def _includes(
    session: Session,
    flags: Flags,
    *,
    campaign: Campaign | None = None,
    workset: Workset | None = None,
    task: Task | None = None,
) -> dict[str, Any]:
    """The optional `campaign`, `workset` and `task` objects the flags ask for."""
    body: dict[str, Any] = {}
    if campaign is not None and "campaign" in flags:
        body["campaign"] = objects.campaigns(session, [campaign], flags["campaign"] == "stats")[0]
    if workset is not None and "workset" in flags:
        body["workset"] = objects.worksets(session, [workset], flags["workset"] == "stats")[0]
    if task is not None and "task" in flags:
        body["task"] = objects.tasks(session, [task])[0]
    return body


@router.get("/campaigns/", openapi_extra=extra())
async def wikis(request: Request) -> Response:
    """The wikis that have an active campaign."""
    found = await in_transaction(request, list_wikis)
    return respond(request, {"info": CAMPAIGNS_INFO, "wikis": found})


@router.get(
    "/campaigns/{wiki}/",
    openapi_extra=extra(
        flag("campaigns", f"Include campaign objects{STATS}."),
        flag("all", "Include inactive campaigns."),
    ),
)
async def wiki_campaigns(request: Request, wiki: str) -> Response:
    """A wiki's active campaigns (`?all` adds inactive ones; `?campaigns=stats`)."""
    flags = await _flags(request)

    def work(session: Session) -> list[dict[str, Any]]:
        rows = list_campaigns(session, wiki, include_inactive="all" in flags)
        return objects.campaigns(session, rows, flags.get("campaigns") == "stats")

    return respond(request, {"wiki": wiki, "campaigns": await in_transaction(request, work)})


@router.get(
    "/campaigns/{wiki}/{campaign_id:int}/",
    openapi_extra=extra(
        flag("campaign", "`stats` adds the campaign's statistics."),
        flag("tasks", "Include every task with every labeler's labels (streamed)."),
        flag("worksets", f"Include the campaign's worksets{STATS}."),
        flag("requirements", "Include the user groups and edit count labelers need."),
        flag("learning", "Include the active-learning settings, rounds and stop suggestion."),
    ),
)
async def campaign(request: Request, wiki: str, campaign_id: int) -> Response:
    """A campaign, with `?tasks` (every user's labels), `?worksets[=stats]`,
    `?requirements` (the user groups and edit count its labelers need) and `?learning` (its
    active-learning settings, round count, last round and stop suggestion).

    The tasks are streamed from one cursor, in a transaction of their own after the rest.
    """
    flags = await _flags(request)

    def work(session: Session) -> dict[str, Any]:
        found = get_campaign(session, campaign_id, wiki)
        stats = flags.get("campaign") == "stats"
        body: dict[str, Any] = {"campaign": objects.campaigns(session, [found], stats)[0]}
        if "worksets" in flags:
            rows = session.query(Workset).filter_by(campaign_id=campaign_id).order_by(Workset.id)
            body["worksets"] = objects.worksets(session, rows, flags["worksets"] == "stats")
        if "requirements" in flags:
            body["requirements"] = requirements_of(found).record()
        if "learning" in flags:
            body["learning"] = learning_summary(session, found)
        return body

    head = await in_transaction(request, work)
    if "tasks" not in flags:
        return respond(request, head)
    factory = request.app.state.sessions

    def tasks() -> Iterator[dict[str, Any]]:
        with transaction(factory) as session:
            yield from objects.labeled_tasks(campaign_tasks(session, campaign_id))

    return respond_streamed(request, head, "tasks", tasks())


@router.post(
    "/campaigns/{wiki}/{campaign_id:int}/",
    openapi_extra=extra(
        body=form_body(
            {
                "workset": "`stats` adds the workset's statistics.",
                "campaign": f"Include the campaign object{STATS}.",
                "tasks": "Include the workset's tasks.",
            }
        )
    ),
)
async def assign(request: Request, wiki: str, campaign_id: int) -> Response:
    """Assign the caller a new workset; the form flags choose what comes back."""
    user_id = require_user(request)
    flags = await _flags(request)

    def work(session: Session, known: WikiUser | None) -> dict[str, Any]:
        found = get_campaign(session, campaign_id, wiki)
        check_campaign(request, found, known)
        workset = assign_workset(session, campaign_id, user_id)
        stats = flags.get("workset") == "stats"
        body: dict[str, Any] = {"workset": objects.worksets(session, [workset], stats)[0]}
        body |= _includes(session, flags, campaign=found)
        if "tasks" in flags:
            # A new workset's tasks carry no label of its owner (nobody gets a task twice).
            body["tasks"] = [objects.task_record(t, []) for t in workset_tasks(session, workset.id)]
        return body

    try:
        return respond(request, await as_eligible(request, wiki, work))
    except Conflict as error:  # Wiki labels' words, then where to see how the campaign fares
        url = f"{request.base_url}campaigns/{wiki}/{campaign_id}/statistics/"
        raise Conflict(
            f"{error.message} Please try again or check campaign status {url}"
        ) from error


@router.get(
    "/campaigns/{wiki}/{campaign_id:int}/{workset_id:int}/",
    openapi_extra=extra(
        flag("workset", "`stats` adds the workset's statistics."),
        flag("campaign", f"Include the campaign object{STATS}."),
        flag("tasks", "Include the workset's tasks with the owner's labels."),
    ),
)
async def workset(request: Request, wiki: str, campaign_id: int, workset_id: int) -> Response:
    """A workset, with `?tasks` (the owner's labels only), `?campaign`, `?workset=stats`."""
    flags = await _flags(request)

    def work(session: Session) -> dict[str, Any]:
        found = get_campaign(session, campaign_id, wiki)
        held = get_workset(session, workset_id, campaign_id)
        stats = flags.get("workset") == "stats"
        body: dict[str, Any] = {"workset": objects.worksets(session, [held], stats)[0]}
        body |= _includes(session, flags, campaign=found)
        if "tasks" in flags:
            rows = workset_tasks(session, workset_id)
            body["tasks"] = objects.tasks(session, rows, held.user_id)
        return body

    return respond(request, await in_transaction(request, work))


@router.delete("/campaigns/{wiki}/{campaign_id:int}/{workset_id:int}/", openapi_extra=extra())
async def abandon(request: Request, wiki: str, campaign_id: int, workset_id: int) -> Response:
    """Abandon one's own workset: its unlabeled tasks go back to the pool."""
    user_id = require_user(request)

    def work(session: Session) -> None:
        get_campaign(session, campaign_id, wiki)
        abandon_workset(session, workset_id, user_id, campaign_id=campaign_id)

    await in_transaction(request, work, write=True)
    return respond(request, {"success": True})


def _task(session: Session, campaign_id: int, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.campaign_id != campaign_id:
        raise NotFound(f"task_id={task_id}")
    return task


@router.get(
    "/campaigns/{wiki}/{campaign_id:int}/{workset_id:int}/{task_id:int}/",
    openapi_extra=extra(
        flag("campaign", f"Include the campaign object{STATS}."),
        flag("workset", f"Include the workset object{STATS}."),
    ),
)
async def task(
    request: Request, wiki: str, campaign_id: int, workset_id: int, task_id: int
) -> Response:
    """One task with every user's labels; `?campaign`, `?workset` as elsewhere."""
    flags = await _flags(request)

    def work(session: Session) -> dict[str, Any]:
        found = get_campaign(session, campaign_id, wiki)
        held = get_workset(session, workset_id, campaign_id)
        body = {"task": objects.tasks(session, [_task(session, campaign_id, task_id)])[0]}
        return body | _includes(session, flags, campaign=found, workset=held)

    return respond(request, await in_transaction(request, work))


def _label_json(flags: Flags) -> Any:
    if "label" not in flags:
        raise BadRequest('the form field "label" is missing (label=<JSON of the form values>)')
    try:
        return orjson.loads(flags["label"])
    except orjson.JSONDecodeError as error:
        raise BadRequest(f'"label" is not valid JSON: {error}') from error


_LABEL_FORM = form_body(
    {
        "label": "The label: JSON text of the form's values, e.g. "
        '{"damaging": false, "goodfaith": true, "unsure": false}.',
        "campaign": f"Include the campaign object{STATS}.",
        "workset": f"Include the workset object{STATS}.",
        "task": "Include the task with every labeler's labels.",
    },
    required=("label",),
)


@router.put(
    "/campaigns/{wiki}/{campaign_id:int}/{workset_id:int}/{task_id:int}/",
    openapi_extra=extra(body=_LABEL_FORM),
    operation_id="relabel_task",
)
@router.post(
    "/campaigns/{wiki}/{campaign_id:int}/{workset_id:int}/{task_id:int}/",
    openapi_extra=extra(body=_LABEL_FORM),
    operation_id="label_task",
)
async def label(
    request: Request, wiki: str, campaign_id: int, workset_id: int, task_id: int
) -> Response:
    """Store the caller's label of a task in their own workset, checked against the form."""
    user_id = require_user(request)
    flags = await _flags(request)
    data = _label_json(flags)

    def work(session: Session) -> dict[str, Any]:
        found = get_campaign(session, campaign_id, wiki)
        saved = save_label(
            session, form=_form(request, found.form), workset_id=workset_id, task_id=task_id,
            user_id=user_id, data=data, campaign_id=campaign_id,
        )  # fmt: skip
        body = {"label": objects.label(saved)}
        # Only what the flags ask for: the gadget's plain label POST needs neither query.
        held = get_workset(session, workset_id, campaign_id) if "workset" in flags else None
        task = _task(session, campaign_id, task_id) if "task" in flags else None
        return body | _includes(session, flags, campaign=found, workset=held, task=task)

    return respond(request, await in_transaction(request, work, write=True))


@router.delete(
    "/campaigns/{wiki}/{campaign_id:int}/{workset_id:int}/{task_id:int}/", openapi_extra=extra()
)
async def skip(
    request: Request, wiki: str, campaign_id: int, workset_id: int, task_id: int
) -> Response:
    """Skip a task of one's own workset (the gadget's "Skip")."""
    user_id = require_user(request)

    def work(session: Session) -> dict[str, Any]:
        get_campaign(session, campaign_id, wiki)
        withdrawn = skip_task(session, workset_id, task_id, user_id, campaign_id=campaign_id)
        held = get_workset(session, workset_id, campaign_id)
        body: dict[str, Any] = {"workset": objects.worksets(session, [held], False)[0]}
        if withdrawn is not None:  # Wiki labels merged the deleted label's columns in
            body |= objects.label(withdrawn)
        return body

    return respond(request, await in_transaction(request, work, write=True))


@router.get("/users/", openapi_extra=extra())
async def users(request: Request) -> Response:
    """Ids of the users who ever received a workset."""

    def work(session: Session) -> list[int]:
        return sorted({w.user_id for w in session.query(Workset.user_id).distinct()})

    return respond(request, {"info": USERS_INFO, "users": await in_transaction(request, work)})


def _held(session: Session, flags: Flags, user_id: int, held: list[Workset]) -> dict[str, Any]:
    """A user's worksets (`?worksets[=stats]`) and their tasks (`?tasks`), by flag."""
    body: dict[str, Any] = {}
    if "worksets" in flags:
        body["worksets"] = objects.worksets(session, held, flags["worksets"] == "stats")
    if "tasks" in flags:
        rows = [t for w in held for t in workset_tasks(session, w.id)]
        body["tasks"] = objects.tasks(session, rows, user_id)
    return body


@router.get(
    "/users/{user_id:int}/",
    openapi_extra=extra(
        flag("campaigns", f"Include the campaigns the user has worksets in{STATS}."),
        flag("worksets", f"Include the user's worksets{STATS}."),
        flag("tasks", "Include the tasks of the user's worksets with the user's labels."),
    ),
)
async def user(request: Request, user_id: int) -> Response:
    """A user's campaigns, worksets and tasks (with their own labels), by flag."""
    flags = await _flags(request)

    def work(session: Session) -> dict[str, Any]:
        held = user_worksets(session, user_id)
        body: dict[str, Any] = {"user": {"id": user_id}}
        if "campaigns" in flags:
            ids = sorted({w.campaign_id for w in held})
            rows = [get_campaign(session, cid) for cid in ids]
            body["campaigns"] = objects.campaigns(session, rows, flags["campaigns"] == "stats")
        return body | _held(session, flags, user_id, held)

    return respond(request, await in_transaction(request, work))


@router.get(
    "/users/{user_id:int}/{campaign_id:int}/",
    openapi_extra=extra(
        flag("campaign", "`stats` adds the campaign's statistics."),
        flag("worksets", f"Include the user's worksets in the campaign{STATS}."),
        flag("tasks", "Include the tasks of those worksets with the user's labels."),
    ),
)
async def user_campaign(request: Request, user_id: int, campaign_id: int) -> Response:
    """A user's worksets in one campaign (what the gadget lists), with the campaign."""
    flags = await _flags(request)

    def work(session: Session) -> dict[str, Any]:
        found = get_campaign(session, campaign_id)
        stats = flags.get("campaign") == "stats"
        body: dict[str, Any] = {"user": {"id": user_id}}
        body["campaign"] = objects.campaigns(session, [found], stats)[0]
        held = user_worksets(session, user_id, campaign_id)
        return body | _held(session, flags, user_id, held)

    return respond(request, await in_transaction(request, work))


@router.get("/forms/", openapi_extra=extra())
async def forms(request: Request) -> Response:
    """The names of the forms."""
    return respond(request, {"info": FORMS_INFO, "forms": sorted(request.app.state.forms)})


@router.get("/forms/{name}/", openapi_extra=extra())
async def form(request: Request, name: str) -> Response:
    """A form's OOUI configuration with its messages (`i18n`), as the gadget loads it."""
    found = _form(request, name)
    return respond(request, {"form": {**found.config, "i18n": found.i18n}})
