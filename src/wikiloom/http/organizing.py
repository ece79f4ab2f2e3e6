"""Campaign management over HTTP: admins create campaigns; organizers edit them, open or
close them, add tasks and other organizers. (Wiki labels answered 501 here.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest, Forbidden
from wikiloom.http.deps import in_transaction
from wikiloom.http.identity import require_user, session_user
from wikiloom.http.openapi import RESPONSES, extra, form_body
from wikiloom.http.responses import respond
from wikiloom.labels.campaigns import (
    MAX_INT,
    MAX_LENGTH,
    campaign_record,
    create_campaign,
    edit_campaign,
    get_campaign,
    set_active,
)
from wikiloom.labels.forms import Field
from wikiloom.labels.learning import LearningSettings, learning_of, parse_fraction
from wikiloom.labels.organizers import MAX_USER_ID, add_organizer, is_organizer, organizers
from wikiloom.labels.requirements import Requirements, parse_groups, requirements_of
from wikiloom.labels.tables import SAMPLING_STRATEGIES, Campaign
from wikiloom.labels.tasks import insert_tasks
from wikiloom.learn.featuresets import FEATURE_SETS
from wikiloom.learn.learningcurve import learning_summary

router = APIRouter(tags=["organizing"], responses=RESPONSES)
_SETTINGS = {
    "name": "The campaign's name (unique on its wiki).",
    "info_url": "A page that explains the campaign.",
    "labels_per_task": "How many labelers each task wants (a positive integer).",
    "tasks_per_assignment": "How many tasks a workset holds at most (a positive integer).",
    "required_groups": "User groups labelers need one of, `|`-separated; empty for none.",
    "min_edit_count": "Edits labelers need on the wiki (an integer ≥ 0).",
    "sampling": "How tasks are served: `random`, or most informative first for the campaign's "
    "model (`uncertainty`, `margin`, `entropy`, `committee`, `density`).",
    "holdout_fraction": "The share of tasks kept in random order for unbiased evaluation, "
    "at least 0 and below 1 (default 0.2); fixed once the campaign has had a round.",
    "retrain_every": "New labeled tasks between two rounds of the campaign's model (default 50).",
    "learning_field": "The form field the campaign's model learns, e.g. `damaging`; active "
    "sampling needs one. Empty for none.",
    "feature_set": "The feature set the campaign's model reads (default `editquality`).",
}
_INTEGERS = ("labels_per_task", "tasks_per_assignment", "min_edit_count", "expiry", "retrain_every")
_COUNT = {"minimum": 1, "maximum": MAX_INT}
_LIMITS: dict[str, dict[str, Any]] = {
    "name": {"minLength": 1, "maxLength": MAX_LENGTH["name"]},
    "info_url": {"maxLength": MAX_LENGTH["info_url"]},
    "labels_per_task": _COUNT,
    "tasks_per_assignment": _COUNT,
    "expiry": _COUNT,
    "min_edit_count": {"minimum": 0, "maximum": MAX_INT},
    "sampling": {"enum": list(SAMPLING_STRATEGIES)},
    "retrain_every": _COUNT,
    "learning_field": {"maxLength": 64},
    "feature_set": {"enum": sorted(FEATURE_SETS)},
}
MAX_TASKS_BODY = 64 * 1024 * 1024


def is_admin(request: Request) -> bool:
    """Whether the logged-in user is one of the configured admins."""
    user = session_user(request)
    return user is not None and user.get("name") in request.app.state.settings.admins


def _organizing(request: Request, session: Session, wiki: str, campaign_id: int) -> int:
    """The caller's user id, when they may manage this campaign."""
    user_id = require_user(request)
    get_campaign(session, campaign_id, wiki)
    if not (is_admin(request) or is_organizer(session, campaign_id, user_id)):
        raise Forbidden(f"user_id={user_id} does not organize campaign_id={campaign_id}")
    return user_id


def _number(form: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    raw = form.get(name)
    if raw in (None, ""):
        if required:
            raise BadRequest(f'the form field "{name}" is missing')
        return None
    try:
        return int(str(raw))
    except ValueError as error:
        raise BadRequest(f'"{name}" must be an integer, not {raw!r}') from error


def _text(form: Mapping[str, Any], name: str) -> str | None:
    raw = form.get(name)
    return None if raw is None else str(raw)


def _requirements(form: Mapping[str, Any], base: Requirements) -> Requirements | None:
    """`base` changed by the fields `required_groups` (`a|b`) and `min_edit_count`, if sent."""
    groups, count = _text(form, "required_groups"), _number(form, "min_edit_count")
    if groups is None and count is None:
        return None
    return Requirements(
        base.groups if groups is None else parse_groups(groups),
        base.min_edit_count if count is None else count,
    )


def _learning(form: Mapping[str, Any], base: LearningSettings) -> LearningSettings | None:
    """`base` changed by the active-learning fields sent (`learning_field=` clears it)."""
    names = ("sampling", "holdout_fraction", "retrain_every", "learning_field", "feature_set")
    if all(form.get(name) is None for name in names):
        return None
    fraction, field = _text(form, "holdout_fraction"), _text(form, "learning_field")
    every = _number(form, "retrain_every")
    return LearningSettings(
        sampling=_text(form, "sampling") or base.sampling,
        holdout_fraction=base.holdout_fraction if not fraction else parse_fraction(fraction),
        retrain_every=base.retrain_every if every is None else every,
        learning_field=base.learning_field if field is None else field.strip() or None,
        feature_set=_text(form, "feature_set") or base.feature_set,
    )


def _fields(request: Request, form: str) -> Mapping[str, Field] | None:
    """The named fields of a form of the catalog (None for a form it lacks)."""
    found = request.app.state.forms.get(form)
    return None if found is None else found.fields


def _record(session: Session, campaign: Campaign) -> dict[str, Any]:
    """The campaign object plus its requirements and active learning (organizer routes only)."""
    return campaign_record(campaign) | {
        "requirements": requirements_of(campaign).record(),
        "learning": learning_summary(session, campaign),
    }


@router.post(
    "/campaigns/{wiki}/",
    openapi_extra=extra(
        body=form_body(
            {
                **_SETTINGS,
                "form": "The form labelers fill in (a name from /forms/).",
                "view": "How tasks are shown, e.g. DiffToPrevious.",
                "expiry": "Seconds a workset's leases last (default WIKILOOM_WORKSET_EXPIRY).",
            },
            required=("name", "form", "view", "labels_per_task", "tasks_per_assignment"),
            integers=_INTEGERS,
            limits=_LIMITS,
        )
    ),
)
async def create(request: Request, wiki: str) -> Response:
    """Create a campaign (admins); its creator becomes its first organizer."""
    user_id = require_user(request)
    if not is_admin(request):
        raise Forbidden("Only admins can create campaigns.")
    form = dict(await request.form())
    name, form_name, view = (_text(form, k) for k in ("name", "form", "view"))
    if not (name and form_name and view):
        raise BadRequest('the form fields "name", "form" and "view" are required')
    labels_per_task = _number(form, "labels_per_task", required=True)
    tasks_per_assignment = _number(form, "tasks_per_assignment", required=True)
    expiry = _number(form, "expiry") or request.app.state.settings.workset_expiry

    def work(session: Session) -> dict[str, Any]:
        campaign = create_campaign(
            session, wiki=wiki, name=name, form=form_name, view=view,
            labels_per_task=labels_per_task or 0, tasks_per_assignment=tasks_per_assignment or 0,
            info_url=_text(form, "info_url") or None, workset_expiry=expiry,
            known_forms=request.app.state.forms, requirements=_requirements(form, Requirements()),
            learning=_learning(form, LearningSettings()), form_fields=_fields(request, form_name),
            known_feature_sets=FEATURE_SETS,
        )  # fmt: skip
        add_organizer(session, campaign.id, user_id, added_by=user_id)
        return _record(session, campaign)

    return respond(request, {"campaign": await in_transaction(request, work, write=True)})


@router.post(
    "/campaigns/{wiki}/{campaign_id:int}/settings/",
    openapi_extra=extra(
        body=form_body(
            {**_SETTINGS, "active": "`true` opens the campaign, `false` closes it."},
            integers=_INTEGERS,
            limits=_LIMITS,
        )
    ),
)
async def edit(request: Request, wiki: str, campaign_id: int) -> Response:
    """Edit a campaign (form fields name, info_url, labels_per_task, tasks_per_assignment,
    required_groups, min_edit_count, and the active-learning sampling, holdout_fraction,
    retrain_every, learning_field, feature_set) and open or close it (`active=true|false`)."""
    form = dict(await request.form())
    active = _text(form, "active")
    if active not in (None, "true", "false"):
        raise BadRequest(f'"active" must be true or false, not {active!r}')

    def work(session: Session) -> dict[str, Any]:
        _organizing(request, session, wiki, campaign_id)
        found = get_campaign(session, campaign_id)
        current = requirements_of(found)
        campaign = edit_campaign(
            session, campaign_id, name=_text(form, "name"), info_url=_text(form, "info_url"),
            labels_per_task=_number(form, "labels_per_task"),
            tasks_per_assignment=_number(form, "tasks_per_assignment"),
            requirements=_requirements(form, current),
            learning=_learning(form, learning_of(found)), form_fields=_fields(request, found.form),
            known_feature_sets=FEATURE_SETS,
        )  # fmt: skip
        if active is not None:
            campaign = set_active(session, campaign_id, active == "true")
        return _record(session, campaign)

    return respond(request, {"campaign": await in_transaction(request, work, write=True)})


@router.post(
    "/campaigns/{wiki}/{campaign_id:int}/tasks/",
    openapi_extra=extra(
        body={
            "required": True,
            "description": "One JSON object per line, each a task for the campaign's view.",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    ),
)
async def add_tasks(request: Request, wiki: str, campaign_id: int) -> Response:
    """Insert tasks: the body holds one JSON object per line; a bad line inserts nothing."""
    body = await request.body()
    if len(body) > MAX_TASKS_BODY:
        raise BadRequest(f"at most {MAX_TASKS_BODY // 2**20} MB of tasks per request")

    def work(session: Session) -> int:
        _organizing(request, session, wiki, campaign_id)
        return insert_tasks(session, campaign_id, body.splitlines())

    return respond(request, {"inserted": await in_transaction(request, work, write=True)})


@router.post(
    "/campaigns/{wiki}/{campaign_id:int}/organizers/",
    openapi_extra=extra(
        body=form_body(
            {"user_id": "The new organizer's central user id."},
            required=("user_id",),
            integers=("user_id",),
            limits={"user_id": {"minimum": 1, "maximum": MAX_USER_ID}},
        )
    ),
)
async def add_organizers(request: Request, wiki: str, campaign_id: int) -> Response:
    """Add an organizer (form field user_id); answers the campaign's organizers."""
    form = dict(await request.form())
    new = _number(form, "user_id", required=True) or 0

    def work(session: Session) -> list[int]:
        user_id = _organizing(request, session, wiki, campaign_id)
        add_organizer(session, campaign_id, new, added_by=user_id)
        return organizers(session, campaign_id)

    return respond(request, {"organizers": await in_transaction(request, work, write=True)})
