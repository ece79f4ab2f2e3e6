"""Campaign statistics: progress, pace, and per-field agreement and aggregation."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.labels.agreement import (
    Alpha,
    Consensus,
    DawidSkeneResult,
    LabelerAgreement,
    Level,
    Rating,
    dawid_skene,
    krippendorff_alpha,
    labeler_agreement,
    majority,
)
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.tables import Label, Task, Workset, WorksetTask


@dataclass(frozen=True)
class Progress:
    """How far the campaign is: labels given against labels needed."""

    tasks: int
    labels: int
    labels_needed: int
    tasks_done: int

    @property
    def fraction(self) -> float:
        """Labels given over labels needed, capped at 1 (1 for a campaign without tasks)."""
        return min(1.0, self.labels / self.labels_needed) if self.labels_needed else 1.0


@dataclass(frozen=True)
class FieldStatistics:
    """Agreement and aggregation of one form field."""

    field: str
    distribution: dict[Hashable, int]
    alpha: Alpha
    majority: dict[Hashable, Consensus]
    dawid_skene: DawidSkeneResult
    labelers: dict[Hashable, LabelerAgreement]


@dataclass(frozen=True)
class CampaignStatistics:
    """Everything a campaign organizer asks about a campaign, as of `generated`."""

    campaign_id: int
    generated: dt.datetime
    progress: Progress
    labels_per_day: dict[dt.date, int]
    median_seconds_per_task: float | None
    fields: dict[str, FieldStatistics]


def _hashable(value: Any) -> Hashable:
    """A JSON value as a hashable one (lists become tuples, objects sorted item tuples)."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value  # type: ignore[no-any-return]


def _seconds_per_task(rows: Iterable[tuple[int, dt.datetime, dt.datetime]]) -> float | None:
    """The median time between consecutive labels of a workset (first one from its creation).

    `rows` are (workset id, workset created, label timestamp), ordered by workset and time.
    """
    gaps: list[float] = []
    previous: tuple[int, dt.datetime] | None = None
    for workset, created, stamp in rows:
        start = previous[1] if previous is not None and previous[0] == workset else created
        gaps.append(max(0.0, (stamp - start).total_seconds()))
        previous = (workset, stamp)
    return statistics.median(gaps) if gaps else None


def field_statistics(
    field: str,
    ratings: list[Rating],
    *,
    level: Level = "nominal",
    bootstrap: int = 1000,
    seed: int = 0,
) -> FieldStatistics:
    """Distribution, alpha, majority, Dawid-Skene and labeler agreement of one field."""
    return FieldStatistics(
        field=field,
        distribution=dict(Counter(v for _, _, v in ratings if v is not None)),
        alpha=krippendorff_alpha(ratings, level, bootstrap=bootstrap, seed=seed),
        majority=majority(ratings),
        dawid_skene=dawid_skene(ratings),
        labelers=labeler_agreement(ratings),
    )


def campaign_statistics(
    session: Session,
    campaign_id: int,
    fields: Iterable[str],
    *,
    now: dt.datetime | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
) -> CampaignStatistics:
    """Compute a campaign's statistics from its current labels given up to `now`.

    Progress counts current labels (a relabel counts once). Labels per day group label
    timestamps by UTC date. Seconds per task: within each workset, the time from the
    previous label (or from the workset's creation, for the first) to each label, by the
    label's latest timestamp; the median over all labels of all labelers. Each named form
    field gets its value distribution, Krippendorff's alpha (nominal) with a bootstrap
    interval, majority and Dawid-Skene aggregation per task, and each labeler's agreement
    with the others. A label lacking a field counts as no answer for it.
    """
    moment = now or utcnow()
    campaign = get_campaign(session, campaign_id)
    names = list(dict.fromkeys(fields))
    tasks = session.scalar(
        select(func.count()).select_from(Task).where(Task.campaign_id == campaign_id)
    )
    rows = session.execute(
        select(
            Label.task_id,
            Label.user_id,
            Label.data,
            Label.timestamp,
            WorksetTask.workset_id,
            Workset.created,
        )
        .join(
            WorksetTask,
            (WorksetTask.task_id == Label.task_id) & (WorksetTask.user_id == Label.user_id),
        )
        .join(Workset, Workset.id == WorksetTask.workset_id)
        .where(WorksetTask.campaign_id == campaign_id, Label.timestamp <= moment)
        .order_by(WorksetTask.workset_id, Label.timestamp, Label.task_id)
        .execution_options(yield_per=1000)
    )
    per_task: Counter[int] = Counter()
    per_day: Counter[dt.date] = Counter()
    timings: list[tuple[int, dt.datetime, dt.datetime]] = []
    ratings: dict[str, list[Rating]] = defaultdict(list)
    for task_id, user_id, data, stamp, workset_id, created in rows:
        per_task[task_id] += 1
        per_day[stamp.astimezone(dt.UTC).date()] += 1
        timings.append((workset_id, created, stamp))
        values = data if isinstance(data, dict) else {}
        for name in names:
            ratings[name].append((task_id, user_id, _hashable(values.get(name))))
    labels = sum(per_task.values())
    progress = Progress(
        tasks=tasks or 0,
        labels=labels,
        labels_needed=(tasks or 0) * campaign.labels_per_task,
        tasks_done=sum(1 for n in per_task.values() if n >= campaign.labels_per_task),
    )
    return CampaignStatistics(
        campaign_id=campaign_id,
        generated=moment,
        progress=progress,
        labels_per_day=dict(sorted(per_day.items())),
        median_seconds_per_task=_seconds_per_task(timings),
        fields={
            name: field_statistics(name, ratings[name], bootstrap=bootstrap, seed=seed)
            for name in names
        },
    )
