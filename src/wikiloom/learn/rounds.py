"""Active-learning rounds of a campaign: fit its model on the labels so far, measure it on
the random holdout, re-prioritise the tasks still to label, and tell when to stop.

A round reads (`plan_round`), then writes (`record_round`); `run_round` does both in the
caller's transaction. Planning fits models for seconds and writes nothing, so a job can
plan in a read transaction and keep the write transaction (SQLite's write lock) short.

For a campaign whose `learning_field` names the form field to learn, a round:

* marks the holdout tasks inserted since the last round (`holdout.holdout_ids`);
* fits `round_estimator` on the labeled tasks with stored features (the targets are the
  field's majority value per revision) and scores, with the campaign's `sampling`, the
  tasks still to label that are neither holdout nor fully assigned;
* spreads the next batch (the `retrain_every` tasks outside the holdout labeled before the
  next round) over the feature space (`batches.diverse`);
* gives those tasks priorities by descending score (`sampling.priorities`), spread like
  the waiting holdout tasks (`holdout.aligned`), so that any prefix of the served order
  holds the campaign's share of random holdout tasks; tasks whose revision has no stored
  features (deleted revisions) keep their priority and are counted;
* measures a model fitted on the labeled tasks outside the holdout on the labeled holdout
  tasks (`holdout.holdout_scores`), and compares its stop-set predictions with the
  previous round's (`stopping`).

A `random` campaign may run rounds too, for the figures; its order never changes.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from sqlalchemy import Row, Table, distinct, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, Conflict
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.events import record_event
from wikiloom.labels.tables import Campaign, CampaignRound, Label, Task
from wikiloom.labels.tasks import reorder_tasks
from wikiloom.learn.batches import diverse
from wikiloom.learn.estimators import WikiClassifier
from wikiloom.learn.featuresets import feature_set
from wikiloom.learn.featurestore import FeatureSet, get_vectors
from wikiloom.learn.holdout import TOP, aligned, holdout_ids, holdout_scores
from wikiloom.learn.learningcurve import campaign_rounds
from wikiloom.learn.observations import campaign_targets
from wikiloom.learn.sampling import informativeness, priorities
from wikiloom.learn.stopping import labels_array, stop_agreement, stop_set_ids, stop_suggested
from wikiloom.wiki.registry import wiki_language

#: Labeled tasks a campaign needs (giving the field two values) before its first round.
MIN_FIRST_ROUND = 20
ROUNDS = cast(Table, CampaignRound.__table__)


@dataclass(frozen=True)
class RoundReport:
    """What a round did and found; `seconds` per phase (read, fit, write)."""

    campaign_id: int
    number: int
    strategy: str
    labels: int
    holdout_labels: int
    holdout_roc_auc: float | None
    holdout_pr_auc: float | None
    agreement: float | None
    stop_suggested: bool
    rescored: int
    without_features: int
    holdout_marked: int
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RoundPlan:
    """A round computed but not written: its row, and the task updates in task id order,
    each (task id, new priority or None to keep it, holdout)."""

    row: dict[str, Any]
    updates: list[tuple[int, float | None, bool]]
    holdout_marked: int
    seconds: dict[str, float]


@dataclass
class _Snapshot:
    """What a round reads of its campaign: tasks in id order, labels, targets, features."""

    tasks: list[Row[Any]]
    labeled: set[int]
    targets: dict[int, Hashable]
    rev_of: dict[int, int]
    vectors: dict[int, list[float]]
    holdout: set[int]
    marked: list[int]

    def has_vector(self, task_id: int) -> bool:
        return task_id in self.rev_of and self.rev_of[task_id] in self.vectors

    def vector(self, task_id: int) -> list[float]:
        return self.vectors[self.rev_of[task_id]]


def round_estimator(labels: int, seed: int = 0) -> WikiClassifier:
    """The estimator template of a round fitted on `labels` labeled tasks.

    wikiloom's booster with its defaults but two: leaves need 5 rows (growing to 50 at
    1,000 labels), or the first rounds' few labels would grow no tree at all; and no
    calibration folds (`cv=1`), whose monotone maps change neither a binary ranking nor
    its AUCs and would cost five more fits per model.
    """
    leaf = int(np.clip(labels // 20, 5, 50))
    return WikiClassifier(min_samples_leaf=leaf, cv=1, random_state=seed)


def labeled_task_counts(session: Session, campaign_ids: Iterable[int]) -> dict[int, int]:
    """Tasks holding at least one label, per campaign."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Task.campaign_id, func.count(distinct(Label.task_id)))
        .join(Label, Label.task_id == Task.id)
        .where(Task.campaign_id.in_(ids))
        .group_by(Task.campaign_id)
    )
    found = {campaign_id: int(count) for campaign_id, count in rows}
    return {campaign_id: found.get(campaign_id, 0) for campaign_id in ids}


def _has_two_values(session: Session, campaign_id: int, field_name: str) -> bool:
    """Whether the campaign's labels give the field two different values at least."""
    value = Label.data[field_name].as_string()
    rows = session.scalars(
        select(value)
        .join(Task, Task.id == Label.task_id)
        .where(Task.campaign_id == campaign_id, value.is_not(None))
        .distinct()
        .limit(3)
    )
    return len({row for row in rows if row != "null"}) >= 2


def due_campaigns(session: Session) -> list[int]:
    """Open, actively sampled campaigns whose model should be fitted again, by id.

    Due: `retrain_every` more labeled tasks than at the last round; before a first round,
    `MIN_FIRST_ROUND` labeled tasks whose labels give the field two values.
    """
    candidates = {
        campaign_id: (every, learned)
        for campaign_id, every, learned in session.execute(
            select(Campaign.id, Campaign.retrain_every, Campaign.learning_field)
            .where(
                Campaign.active.is_(True),
                Campaign.archived.is_(None),
                Campaign.sampling != "random",
                Campaign.learning_field.is_not(None),
            )
            .order_by(Campaign.id)
        )
    }
    if not candidates:
        return []
    latest = (
        select(CampaignRound.campaign_id, func.max(CampaignRound.number).label("number"))
        .where(CampaignRound.campaign_id.in_(candidates))
        .group_by(CampaignRound.campaign_id)
        .subquery()
    )
    baseline = dict(
        session.execute(
            select(CampaignRound.campaign_id, CampaignRound.labeled_tasks).join(
                latest,
                (latest.c.campaign_id == CampaignRound.campaign_id)
                & (latest.c.number == CampaignRound.number),
            )
        ).all()
    )
    counts = labeled_task_counts(session, candidates)
    due = []
    for campaign_id, (every, learned) in candidates.items():
        if campaign_id in baseline:
            if counts[campaign_id] - baseline[campaign_id] >= every:
                due.append(campaign_id)
        elif counts[campaign_id] >= MIN_FIRST_ROUND and _has_two_values(
            session, campaign_id, learned or ""
        ):
            due.append(campaign_id)
    return due


def _snapshot(session: Session, campaign: Campaign, target: str, features: FeatureSet) -> _Snapshot:
    tasks = session.execute(
        select(Task.id, Task.data, Task.priority, Task.assigned, Task.holdout)
        .where(Task.campaign_id == campaign.id)
        .order_by(Task.id)
    ).all()
    labeled = set(
        session.scalars(
            select(Label.task_id)
            .join(Task, Task.id == Label.task_id)
            .where(Task.campaign_id == campaign.id)
            .distinct()
        )
    )
    fresh = [row.id for row in tasks if not row.holdout]
    marked = holdout_ids(fresh, float(campaign.holdout_fraction), campaign.id)
    rev_of = {
        row.id: row.data["rev_id"]
        for row in tasks
        if isinstance(row.data, dict) and isinstance(row.data.get("rev_id"), int)
    }
    return _Snapshot(
        tasks=list(tasks),
        labeled=labeled,
        targets=campaign_targets(session, campaign.id, target).targets,
        rev_of=rev_of,
        vectors=get_vectors(
            session, campaign.wiki, rev_of.values(), features.name, features.version
        ),
        holdout={row.id for row in tasks if row.holdout} | set(marked),
        marked=marked,
    )


def _previous(session: Session, campaign_id: int) -> CampaignRound | None:
    return session.scalars(
        select(CampaignRound)
        .where(CampaignRound.campaign_id == campaign_id)
        .order_by(CampaignRound.number.desc())
        .limit(1)
    ).first()


def plan_round(session: Session, campaign_id: int, features: FeatureSet | None = None) -> RoundPlan:
    """Compute the campaign's next round from its labels and stored features; write nothing."""
    clock, started = time.perf_counter(), utcnow()
    campaign = get_campaign(session, campaign_id)
    target = campaign.learning_field
    if target is None:
        raise BadRequest(f"campaign_id={campaign_id} has no learning_field to learn")
    features = features or feature_set(campaign.feature_set, wiki_language(campaign.wiki))
    previous = _previous(session, campaign_id)
    number = 1 if previous is None else previous.number + 1
    data = _snapshot(session, campaign, target, features)
    read = time.perf_counter()

    training = [
        row.id
        for row in data.tasks
        if row.id in data.labeled
        and data.has_vector(row.id)
        and data.rev_of[row.id] in data.targets
    ]
    y = labels_array([data.targets[data.rev_of[t]] for t in training])
    if len(np.unique(y)) < 2:
        raise BadRequest(
            f"campaign_id={campaign_id} needs labeled tasks giving {target!r} two values, with "
            f"stored {features.name} features; it has {len(training)}: {sorted(set(y.tolist()))}"
        )
    X = np.asarray([data.vector(t) for t in training], dtype=np.float64)
    waiting = [
        row
        for row in data.tasks
        if row.id not in data.labeled and row.assigned < campaign.labels_per_task
    ]
    asked = [row for row in waiting if row.id not in data.holdout and data.has_vector(row.id)]
    scored = asked if campaign.sampling != "random" else []  # a random campaign keeps its order
    kept = [row for row in waiting if row.id in data.holdout]
    stop_ids = stop_set_ids(
        previous.stop_set if previous else (),
        (row.id for row in kept if data.has_vector(row.id)),
        data.has_vector,
    )
    pool = np.asarray(
        [data.vector(row.id) for row in scored] + [data.vector(t) for t in stop_ids],
        dtype=np.float64,
    ).reshape(-1, X.shape[1])
    template = round_estimator(len(training), seed=number)
    found = informativeness(campaign.sampling, template, X, y, pool, random_state=number)
    in_holdout = np.asarray([t in data.holdout for t in training], dtype=bool)
    roc_auc, pr_auc = holdout_scores(template, X, y, in_holdout)
    fitted = time.perf_counter()

    classes = list(found.classes.tolist())
    predicted = [classes[i] for i in found.proba[len(scored) :].argmax(axis=1)]
    stop_set = {str(t): label for t, label in zip(stop_ids, predicted, strict=True)}
    comparable = previous is not None and previous.estimator.get("field") == target
    agreement = (
        stop_agreement(previous.stop_set, stop_set)
        if previous is not None and comparable and previous.classes == classes
        else None
    )
    history = [r.agreement for r in campaign_rounds(session, campaign_id)] + [agreement]
    updates: list[tuple[int, float | None, bool]] = [(t, None, True) for t in data.marked]
    if scored:
        current = np.clip([row.priority for row in scored + kept], 0.0, TOP)
        batch = max(1, round(campaign.retrain_every * (1.0 - campaign.holdout_fraction)))
        spread = diverse(
            found.scores[: len(scored)], pool[: len(scored)], batch, random_state=number
        )
        scores = np.concatenate([spread, np.zeros(len(kept))])
        holdout = np.arange(len(current)) >= len(scored)
        new = aligned(priorities(scores, holdout, current)[: len(scored)], current[len(scored) :])
        updates += [(row.id, float(p), False) for row, p in zip(scored, new, strict=True)]
    row = {
        "campaign_id": campaign_id,
        "number": number,
        "started": started,
        "labeled_tasks": len(data.labeled),
        "labels": len(training),
        "holdout_labels": int(in_holdout.sum()),
        "strategy": campaign.sampling,
        "estimator": {
            "type": "WikiClassifier",
            "params": _jsonable(template.get_params()),
            "field": target,
            "feature_set": features.name,
            "feature_set_version": features.version,
        },
        "classes": classes,
        "holdout_roc_auc": roc_auc,
        "holdout_pr_auc": pr_auc,
        "agreement": agreement,
        "stop_suggested": stop_suggested(history),
        "rescored": len(scored),
        "without_features": sum(
            1 for row in waiting if row.id not in data.holdout and not data.has_vector(row.id)
        ),
        "stop_set": stop_set,
    }
    seconds = {"read": read - clock, "fit": fitted - read}
    return RoundPlan(row, sorted(updates), len(data.marked), seconds)


def record_round(session: Session, plan: RoundPlan) -> RoundReport:
    """Write a planned round: holdout marks and priorities (`tasks.reorder_tasks`, in task
    id order, the lock order of every task lock), then the round itself.

    Conflict when another round of the campaign was recorded since it was planned.
    """
    clock = time.perf_counter()
    row = plan.row
    campaign_id, number = row["campaign_id"], row["number"]
    latest = session.scalar(
        select(func.max(CampaignRound.number)).where(CampaignRound.campaign_id == campaign_id)
    )
    if (latest or 0) != number - 1:
        raise Conflict(f"campaign_id={campaign_id} had round {latest} recorded meanwhile")
    reorder_tasks(session, plan.updates)
    finished = utcnow()
    try:
        with session.begin_nested():
            session.execute(insert(ROUNDS).values(**row, finished=finished))
    except IntegrityError as error:
        raise Conflict(f"campaign_id={campaign_id} already has a round {number}") from error
    summary = {k: row[k] for k in ("number", "labels", "rescored", "agreement", "stop_suggested")}
    record_event(session, "campaign.round", campaign_id=campaign_id, data=summary, now=finished)
    seconds = {**plan.seconds, "write": time.perf_counter() - clock}
    kept = ("strategy", "labels", "holdout_labels", "holdout_roc_auc", "holdout_pr_auc",
            "agreement", "stop_suggested", "rescored", "without_features")  # fmt: skip
    return RoundReport(
        campaign_id=campaign_id,
        number=number,
        **{name: row[name] for name in kept},
        holdout_marked=plan.holdout_marked,
        seconds={name: round(value, 3) for name, value in seconds.items()},
    )


def run_round(
    session: Session, campaign_id: int, features: FeatureSet | None = None
) -> RoundReport:
    """Run the campaign's next round in the caller's (write) transaction."""
    return record_round(session, plan_round(session, campaign_id, features))


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """The estimator's parameters that JSON holds as they are."""
    return {
        name: value.item() if isinstance(value, np.generic) else value
        for name, value in params.items()
        if value is None or isinstance(value, (bool, int, float, str, np.generic))
    }
