"""Campaigns: creating, finding, listing, counting and retiring them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, Conflict, NotFound
from wikiloom.labels.events import record_event
from wikiloom.labels.forms import Field
from wikiloom.labels.learning import LearningSettings, learning_of, set_learning
from wikiloom.labels.requirements import Requirements, set_requirements
from wikiloom.labels.tables import (
    LABELED,
    LEASED,
    Campaign,
    Label,
    Task,
    WorksetTask,
)
from wikiloom.labels.views import check_view

#: The largest value of the campaigns' integer columns (counts and seconds).
MAX_INT = 2**31 - 1
#: The longest text the campaigns' columns hold.
MAX_LENGTH = {"wiki": 64, "name": 255, "info_url": 2000}


def check_number(field: str, value: int) -> None:
    """Refuse a count or duration that is not positive or does not fit its column."""
    if not 0 < value <= MAX_INT:
        raise BadRequest(f"{field} must be a positive integer up to {MAX_INT}, not {value}")


def check_length(field: str, value: str | None) -> None:
    """Refuse a wiki, name or info_url longer than its column."""
    if value is not None and len(value) > MAX_LENGTH[field]:
        limit = MAX_LENGTH[field]
        raise BadRequest(f"{field} must be at most {limit} characters, not {len(value)}")


@dataclass(frozen=True)
class CampaignStats:
    """The counts Wiki labels reports for `?campaign=stats`."""

    tasks: int = 0
    labels: int = 0
    coders: int = 0
    assignments: int = 0


def epoch(moment: dt.datetime) -> float:
    """Seconds since the epoch, as Wiki labels' JSON carries timestamps."""
    return moment.timestamp()


def campaign_record(campaign: Campaign) -> dict[str, Any]:
    """The campaign as a Wiki labels campaign object (exactly its keys)."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "wiki": campaign.wiki,
        "form": campaign.form,
        "view": campaign.view,
        "created": epoch(campaign.created),
        "labels_per_task": campaign.labels_per_task,
        "tasks_per_assignment": campaign.tasks_per_assignment,
        "active": campaign.active,
        "info_url": campaign.info_url,
    }


def create_campaign(
    session: Session,
    *,
    wiki: str,
    name: str,
    form: str,
    view: str,
    labels_per_task: int,
    tasks_per_assignment: int,
    known_forms: Collection[str],
    info_url: str | None = None,
    force: bool = False,
    workset_expiry: int = 86400,
    requirements: Requirements | None = None,
    learning: LearningSettings | None = None,
    form_fields: Mapping[str, Field] | None = None,
    known_feature_sets: Collection[str] | None = None,
    now: dt.datetime | None = None,
) -> Campaign:
    """Create an active campaign; a duplicate (wiki, name) needs `force`.

    `learning` (random sampling by default) is checked against the form's fields (a
    `learning_field` needs them) and the known feature sets, when given.
    """
    if not wiki.strip() or not name.strip():
        raise BadRequest("wiki and name must not be empty")
    for field, text in (("wiki", wiki), ("name", name), ("info_url", info_url)):
        check_length(field, text)
    if form not in known_forms:
        raise BadRequest(f"unknown form {form!r}; known forms: {', '.join(sorted(known_forms))}")
    check_view(view)
    for field, value in (
        ("labels_per_task", labels_per_task),
        ("tasks_per_assignment", tasks_per_assignment),
        ("workset_expiry", workset_expiry),
    ):
        check_number(field, value)
    taken = session.scalar(
        select(func.max(Campaign.name_seq)).where(Campaign.wiki == wiki, Campaign.name == name)
    )
    if taken is not None and not force:
        raise Conflict(
            f"Duplicate campaign: {name} already exists for {wiki}.  "
            "Use --force if this is expected."
        )
    campaign = Campaign(
        wiki=wiki,
        name=name,
        name_seq=0 if taken is None else taken + 1,
        form=form,
        view=view,
        labels_per_task=labels_per_task,
        tasks_per_assignment=tasks_per_assignment,
        info_url=info_url,
        active=True,
        created=now or utcnow(),
        workset_expiry=workset_expiry,
    )
    set_requirements(campaign, requirements or Requirements())
    set_learning(
        session,
        campaign,
        learning or LearningSettings(),
        form_fields=form_fields,
        known_feature_sets=known_feature_sets,
    )
    try:
        with session.begin_nested():
            session.add(campaign)
            session.flush()
    except IntegrityError as error:
        raise Conflict(f"Duplicate campaign: {name} already exists for {wiki}.") from error
    record_event(
        session,
        "campaign.created",
        campaign_id=campaign.id,
        data=campaign_record(campaign)
        | (requirements.record() if requirements else {})
        | (learning.record() if learning else {}),
        now=campaign.created,
    )
    return campaign


def get_campaign(session: Session, campaign_id: int, wiki: str | None = None) -> Campaign:
    """Return the campaign (of that wiki, when given) or raise NotFound in Wiki labels' words."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or (wiki is not None and campaign.wiki != wiki):
        raise NotFound(f"campaign_id={campaign_id}")
    return campaign


def list_campaigns(
    session: Session, wiki: str | None = None, *, include_inactive: bool = False
) -> list[Campaign]:
    """List campaigns (of one wiki, or all), active ones only unless asked; archived never."""
    query = select(Campaign).where(Campaign.archived.is_(None)).order_by(Campaign.id)
    if wiki is not None:
        query = query.where(Campaign.wiki == wiki)
    if not include_inactive:
        query = query.where(Campaign.active.is_(True))
    return list(session.scalars(query))


def list_wikis(session: Session) -> list[str]:
    """The wikis that have at least one active campaign."""
    query = (
        select(Campaign.wiki)
        .distinct()
        .where(Campaign.active.is_(True), Campaign.archived.is_(None))
        .order_by(Campaign.wiki)
    )
    return list(session.scalars(query))


def campaign_stats(session: Session, campaign_ids: Iterable[int]) -> dict[int, CampaignStats]:
    """Count tasks, labels, distinct labelers and live assignments of each campaign."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    tasks = dict(
        session.execute(
            select(Task.campaign_id, func.count())
            .where(Task.campaign_id.in_(ids))
            .group_by(Task.campaign_id)
        ).all()
    )
    labels = {
        row[0]: (row[1], row[2])
        for row in session.execute(
            select(Task.campaign_id, func.count(), func.count(distinct(Label.user_id)))
            .join(Label, Label.task_id == Task.id)
            .where(Task.campaign_id.in_(ids))
            .group_by(Task.campaign_id)
        )
    }
    assignments = dict(
        session.execute(
            select(WorksetTask.campaign_id, func.count())
            .where(WorksetTask.campaign_id.in_(ids), WorksetTask.state.in_((LEASED, LABELED)))
            .group_by(WorksetTask.campaign_id)
        ).all()
    )
    return {
        cid: CampaignStats(
            tasks=tasks.get(cid, 0),
            labels=labels.get(cid, (0, 0))[0],
            coders=labels.get(cid, (0, 0))[1],
            assignments=assignments.get(cid, 0),
        )
        for cid in ids
    }


def set_active(
    session: Session, campaign_id: int, active: bool, *, now: dt.datetime | None = None
) -> Campaign:
    """Open or close a campaign for new worksets; open worksets stay labelable."""
    campaign = get_campaign(session, campaign_id)
    campaign.active = active
    record_event(
        session,
        "campaign.activated" if active else "campaign.deactivated",
        campaign_id=campaign_id,
        now=now,
    )
    return campaign


def archive_campaign(
    session: Session, campaign_id: int, *, now: dt.datetime | None = None
) -> Campaign:
    """Retire a campaign: hidden and closed, but every task and label is kept."""
    campaign = get_campaign(session, campaign_id)
    moment = now or utcnow()
    campaign.active = False
    campaign.archived = moment
    record_event(session, "campaign.archived", campaign_id=campaign_id, now=moment)
    return campaign


def edit_campaign(
    session: Session,
    campaign_id: int,
    *,
    name: str | None = None,
    info_url: str | None = None,
    labels_per_task: int | None = None,
    tasks_per_assignment: int | None = None,
    requirements: Requirements | None = None,
    learning: LearningSettings | None = None,
    form_fields: Mapping[str, Field] | None = None,
    known_feature_sets: Collection[str] | None = None,
    now: dt.datetime | None = None,
) -> Campaign:
    """Change a campaign's name, page, numbers, requirements or active-learning settings;
    the log keeps what changed. `form_fields` are those of the campaign's form."""
    campaign = get_campaign(session, campaign_id)
    changes: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise BadRequest("name must not be empty")
        check_length("name", name)
        changes["name"] = name
    if info_url is not None:
        check_length("info_url", info_url)
        changes["info_url"] = info_url or None
    for field, value in (
        ("labels_per_task", labels_per_task),
        ("tasks_per_assignment", tasks_per_assignment),
    ):
        if value is not None:
            check_number(field, value)
            changes[field] = value
    for field, value in changes.items():
        setattr(campaign, field, value)
    if requirements is not None:
        set_requirements(campaign, requirements)
        changes |= requirements.record()
    if learning is not None:
        before = learning_of(campaign).record()
        set_learning(
            session,
            campaign,
            learning,
            form_fields=form_fields,
            known_feature_sets=known_feature_sets,
        )
        changes |= {k: v for k, v in learning.record().items() if before[k] != v}
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise Conflict(f"Duplicate campaign: {name} already exists for {campaign.wiki}.") from error
    record_event(session, "campaign.edited", campaign_id=campaign_id, data=changes, now=now)
    return campaign
