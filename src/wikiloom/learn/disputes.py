"""The disputes queue of a model: its users' disagreements with its scores, settled by
reviewers or sent, in one step, to a labeling campaign on the model's wiki."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, Conflict, NotFound
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.forms import Form
from wikiloom.labels.organizers import add_organizer
from wikiloom.labels.tables import Campaign
from wikiloom.labels.tasks import insert_tasks
from wikiloom.learn.feedback import check_text
from wikiloom.learn.registry import log_event
from wikiloom.learn.tables import (
    DISAGREE,
    DISMISSED,
    FEEDBACK_STATES,
    OPEN,
    QUEUED,
    RESOLVED,
    Feedback,
    Model,
)

#: The most disputes one page of the queue holds.
MAX_PAGE = 500
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Disputes:
    """One page of a model's disputes, and how many disputes it has in each state."""

    items: list[Feedback]
    counts: dict[str, int]
    next_after: int | None


def disputes(
    session: Session,
    model: Model,
    status: str | None = OPEN,
    *,
    limit: int = 50,
    after: int | None = None,
    newest_first: bool = False,
) -> Disputes:
    """A model's disagreements in `status` (every state for None), oldest first by default.

    Pages follow ids: `after` is the last id of the previous page (`next_after`).
    """
    if status is not None and status not in FEEDBACK_STATES:
        raise BadRequest(f"status must be one of {', '.join(FEEDBACK_STATES)}, not {status!r}")
    if not 0 < limit <= MAX_PAGE:
        raise BadRequest(f"limit must be from 1 to {MAX_PAGE}, not {limit}")
    query = select(Feedback).where(Feedback.model_id == model.id, Feedback.verdict == DISAGREE)
    if status is not None:
        query = query.where(Feedback.status == status)
    if after is not None and after > MAX_ID:  # beyond every id (and the column's type)
        after = None if newest_first else MAX_ID
    if after is not None:
        query = query.where(Feedback.id < after if newest_first else Feedback.id > after)
    order = Feedback.id.desc() if newest_first else Feedback.id
    rows = list(session.scalars(query.order_by(order).limit(limit + 1)))
    counted = session.execute(
        select(Feedback.status, func.count())
        .where(Feedback.model_id == model.id, Feedback.verdict == DISAGREE)
        .group_by(Feedback.status)
    )
    counts = dict.fromkeys(FEEDBACK_STATES, 0) | {state: int(n) for state, n in counted}
    more = len(rows) > limit
    items = rows[:limit]
    return Disputes(items, counts, items[-1].id if more else None)


def _dispute(session: Session, model: Model, feedback_id: int) -> Feedback:
    # Ids are 32-bit: a bigger one names nothing (and PostgreSQL would refuse to compare it).
    row = session.get(Feedback, feedback_id) if 0 < feedback_id <= MAX_ID else None
    if row is None or row.model_id != model.id:
        raise NotFound(f"{model.wiki} {model.name} has no feedback {feedback_id}")
    if row.verdict != DISAGREE:
        raise Conflict(f"feedback {feedback_id} agrees with the score: it is no dispute")
    return row


def _settle(
    session: Session,
    model: Model,
    feedback_id: int,
    status: str,
    actor: str | None,
    note: str | None,
) -> Feedback:
    row = _dispute(session, model, feedback_id)
    if row.status in (RESOLVED, DISMISSED):
        raise Conflict(f"dispute {feedback_id} is already {row.status}")
    row.status = status
    row.resolution = check_text("the note", note)
    row.resolved_by = actor
    row.resolved = utcnow()
    session.flush()
    return row


def resolve(
    session: Session, model: Model, feedback_id: int, *, actor: str | None, note: str | None = None
) -> Feedback:
    """Settle a dispute: the model was wrong and this is known now (labelled, retrained)."""
    return _settle(session, model, feedback_id, RESOLVED, actor, note)


def dismiss(
    session: Session, model: Model, feedback_id: int, *, actor: str | None, note: str | None = None
) -> Feedback:
    """Set a dispute aside: its feedback is not used for training any more."""
    return _settle(session, model, feedback_id, DISMISSED, actor, note)


def form_for(model: Model, forms: Mapping[str, Form], form: str | None = None) -> str:
    """The form a campaign of the model's disputes asks: one with a field named its target."""
    if form is not None:
        if form not in forms:
            raise BadRequest(f"unknown form {form!r}; known forms: {', '.join(sorted(forms))}")
        if model.target not in forms[form].fields:
            raise BadRequest(
                f"form {form!r} has no field {model.target!r}: its labels could not train "
                f"{model.name}"
            )
        return form
    for name in sorted(forms):
        if model.target in forms[name].fields:
            return name
    raise BadRequest(f"no form asks for {model.target!r}; add one to the catalog")


@dataclass(frozen=True)
class DisputesCampaign:
    """The campaign made of a model's disputes: its tasks, and the disputes it took."""

    campaign: Campaign
    tasks: int
    queued: int


def disputes_to_campaign(
    session: Session,
    model: Model,
    *,
    name: str,
    forms: Mapping[str, Form],
    form: str | None = None,
    actor: str | None = None,
    organizer: int | None = None,
    labels_per_task: int = 3,
    tasks_per_assignment: int = 10,
    info_url: str | None = None,
    limit: int | None = None,
) -> DisputesCampaign:
    """Turn a model's open disputes into a labeling campaign on its wiki, in one step.

    The campaign gets one `{"rev_id": N}` task per disputed revision (each revision once,
    oldest dispute first, at most `limit` revisions), its disputes become `queued` with the
    campaign's id, and the model's audit log says so. `organizer` organizes the campaign.
    """
    chosen = form_for(model, forms, form)
    if "\x00" in name + (info_url or ""):
        raise BadRequest("a campaign's name and info_url may not contain a NUL character")
    query = (
        select(Feedback)
        .where(Feedback.model_id == model.id, Feedback.verdict == DISAGREE)
        .where(Feedback.status == OPEN)
        .order_by(Feedback.id)
        .with_for_update()
    )
    rows = list(session.scalars(query))
    rev_ids = list(dict.fromkeys(row.rev_id for row in rows))
    if limit is not None:
        if limit <= 0:
            raise BadRequest(f"limit must be a positive number of revisions, not {limit}")
        rev_ids = rev_ids[:limit]
    if not rev_ids:
        raise Conflict(f"{model.wiki} {model.name} has no open disputes")
    campaign = create_campaign(
        session, wiki=model.wiki, name=name, form=chosen, view="DiffToPrevious",
        labels_per_task=labels_per_task, tasks_per_assignment=tasks_per_assignment,
        known_forms=forms, info_url=info_url,
    )  # fmt: skip
    if organizer is not None:
        add_organizer(session, campaign.id, organizer, added_by=organizer)
    insert_tasks(session, campaign.id, (orjson.dumps({"rev_id": rev_id}) for rev_id in rev_ids))
    chosen_revs = set(rev_ids)
    for row in rows:
        if row.rev_id in chosen_revs:
            row.status, row.campaign_id = QUEUED, campaign.id
    session.flush()
    queued = sum(row.rev_id in chosen_revs for row in rows)
    log_event(
        session, model, "disputes_campaign", new=str(campaign.id), actor=actor,
        reason=f"{queued} disputes of {len(rev_ids)} revisions sent to campaign {name!r}",
    )  # fmt: skip
    return DisputesCampaign(campaign, len(rev_ids), queued)
