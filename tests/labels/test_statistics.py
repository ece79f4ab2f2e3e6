"""Campaign statistics from real rows, on every engine."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.labels.factories import campaign_with_tasks
from wikiloom.db import transaction
from wikiloom.errors import NotFound
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.statistics import campaign_statistics
from wikiloom.labels.tables import Task
from wikiloom.labels.worksets import assign_workset, workset_tasks

FORM = load_catalog()["damaging_and_goodfaith"]
Factory = sessionmaker[Session]
START = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
# Per user: when the workset is created, and the seconds between consecutive labels.
SCHEDULE = {
    1: (START, [10, 20, 30]),
    2: (dt.datetime(2026, 1, 1, 23, 59, 50, tzinfo=dt.UTC), [20, 20, 20]),
    3: (dt.datetime(2026, 1, 3, 8, 0, tzinfo=dt.UTC), [5, 100]),
}
# damaging per (task rank, user); user 3 never labels the third task.
DAMAGING = {
    (0, 1): False, (0, 2): False, (0, 3): False,
    (1, 1): True, (1, 2): True, (1, 3): False,
    (2, 1): True, (2, 2): False,
}  # fmt: skip


@pytest.fixture
def campaign(sessions: Factory) -> tuple[int, list[int]]:
    """A 3-task campaign labeled by three users on three days; its id and task ids."""
    with transaction(sessions, write=True) as session:
        campaign = campaign_with_tasks(session, 3, labels_per_task=3, tasks_per_assignment=3)
        campaign_id = campaign.id
        tasks = list(session.scalars(select(Task.id).order_by(Task.id)))
    for user, (created, gaps) in SCHEDULE.items():
        with transaction(sessions, write=True) as session:
            workset = assign_workset(session, campaign_id, user, now=created)
            held = [t.id for t in workset_tasks(session, workset.id)]
            moment = created
            for task_id, gap in zip(held, gaps, strict=False):
                moment += dt.timedelta(seconds=gap)
                data = {"damaging": DAMAGING[tasks.index(task_id), user], "goodfaith": True}
                save_label(
                    session, form=FORM, workset_id=workset.id, task_id=task_id, user_id=user,
                    data={**data, "unsure": False}, now=moment,
                )  # fmt: skip
    return campaign_id, tasks


def test_progress_pace_and_agreement(sessions: Factory, campaign: tuple[int, list[int]]) -> None:
    campaign_id, tasks = campaign
    later = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    with transaction(sessions) as session:
        stats = campaign_statistics(
            session, campaign_id, ["damaging", "goodfaith", "damaging"], now=later, bootstrap=200
        )
    progress = stats.progress
    assert (progress.tasks, progress.labels, progress.labels_needed) == (3, 8, 9)
    assert progress.tasks_done == 2
    assert progress.fraction == pytest.approx(8 / 9)
    assert stats.generated == later
    assert stats.labels_per_day == {
        dt.date(2026, 1, 1): 3,
        dt.date(2026, 1, 2): 3,
        dt.date(2026, 1, 3): 2,
    }
    # Gaps 10, 20, 30 | 20, 20, 20 | 5, 100: median 20.
    assert stats.median_seconds_per_task == 20.0
    assert list(stats.fields) == ["damaging", "goodfaith"]

    damaging = stats.fields["damaging"]
    assert damaging.distribution == {False: 5, True: 3}
    # Coincidences: o(F,F) = 3, o(T,T) = 1, o(T,F) = o(F,T) = 2; n_F = 5, n_T = 3:
    # alpha = 1 - (4/8) / (2 * 5 * 3 / (8 * 7)) = 1/15.
    assert damaging.alpha.alpha == pytest.approx(1 / 15)
    assert (damaging.alpha.n_tasks, damaging.alpha.n_labelers) == (3, 3)
    assert damaging.alpha.low is not None
    assert damaging.alpha.high is not None
    first, second, third = tasks
    assert {t: (c.value, c.n) for t, c in damaging.majority.items()} == {
        first: (False, 3),
        second: (True, 3),
        third: (False, 2),  # a tie goes to False
    }
    assert set(damaging.dawid_skene.posteriors) == set(tasks)
    for posterior in damaging.dawid_skene.posteriors.values():
        assert sum(posterior.values()) == pytest.approx(1.0)
    assert {u: (a.labels, a.agreed) for u, a in damaging.labelers.items()} == {
        1: (2, 1),
        2: (2, 1),
        3: (2, 1),
    }

    goodfaith = stats.fields["goodfaith"]
    assert goodfaith.distribution == {True: 8}
    assert goodfaith.alpha.alpha is None  # one value only: undefined
    assert all(c.value is True for c in goodfaith.majority.values())


def test_now_cuts_off_later_labels(sessions: Factory, campaign: tuple[int, list[int]]) -> None:
    campaign_id, _ = campaign
    before_day_three = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)
    with transaction(sessions) as session:
        stats = campaign_statistics(session, campaign_id, [], now=before_day_three)
    assert (stats.progress.labels, stats.progress.tasks_done) == (6, 0)
    assert sum(stats.labels_per_day.values()) == 6
    assert stats.fields == {}


def test_an_empty_campaign_and_a_missing_one(sessions: Factory) -> None:
    with transaction(sessions, write=True) as session:
        campaign = campaign_with_tasks(session, 0)
        stats = campaign_statistics(session, campaign.id, ["damaging"])
        assert (stats.progress.tasks, stats.progress.labels, stats.progress.fraction) == (0, 0, 1)
        assert stats.median_seconds_per_task is None
        assert stats.labels_per_day == {}
        assert stats.fields["damaging"].alpha.alpha is None
        with pytest.raises(NotFound):
            campaign_statistics(session, campaign.id + 1, [])
