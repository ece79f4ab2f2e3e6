"""Campaigns of real editquality revisions for the active-learning tests.

Each task is `{"rev_id": N}` for a row of the enwiki `reverted` sample; the feature store
holds that row's nine ORES features (`ores.enwiki.demo` v1); labels go through the labeling
service, `damaging` taken from the row's real `reverted` value.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.learning import LearningSettings
from wikiloom.labels.tables import Task
from wikiloom.labels.tasks import insert_tasks
from wikiloom.labels.worksets import abandon_workset, assign_workset, workset_tasks
from wikiloom.learn.datasets import Dataset, read_dataset
from wikiloom.learn.featurestore import store_vectors

SAMPLE = Path(__file__).parent.parent / "data" / "editquality" / "enwiki.reverted.sample.csv"
FORM = load_catalog()["damaging_and_goodfaith"]
FEATURES = "ores.enwiki.demo"
#: Revisions with no stored features: deleted ones, which the wiki would not give.
DELETED = (11, 12, 13, 14, 15, 16)
Factory = sessionmaker[Session]


def sample() -> Dataset:
    return read_dataset(SAMPLE, "reverted")


def reverted() -> dict[int, bool]:
    data = sample()
    return {int(rev_id): bool(value) for rev_id, value in zip(data.ids or (), data.y, strict=True)}


def anonymous_damaging() -> dict[int, bool]:
    """A rule a model learns from few labels (anonymous edits are damaging), by rev_id: its
    models predict both classes, which the stopping suggestion needs."""
    data = sample()
    return {int(r): bool(x[6]) for r, x in zip(data.ids or (), data.X, strict=True)}


def make_campaign(
    sessions: Factory,
    tasks: int,
    *,
    sampling: str = "margin",
    holdout_fraction: float = 0.2,
    retrain_every: int = 50,
    tasks_per_assignment: int = 50,
    deleted: tuple[int, ...] = DELETED,
    name: str = "Active damage",
) -> int:
    """A campaign of the sample's first `tasks` revisions and the deleted ones, features stored."""
    data = sample()
    rev_ids = [int(rev_id) for rev_id in (data.ids or ())[:tasks]]
    learning = LearningSettings(
        sampling=sampling,
        holdout_fraction=holdout_fraction,
        retrain_every=retrain_every,
        learning_field="damaging",
        feature_set=FEATURES,
    )
    with transaction(sessions, write=True) as session:
        campaign = create_campaign(
            session, wiki="enwiki", name=name, form="damaging_and_goodfaith",
            view="DiffToPrevious", labels_per_task=1, tasks_per_assignment=tasks_per_assignment,
            known_forms=[FORM.key], learning=learning, form_fields=FORM.fields,
        )  # fmt: skip
        lines = [orjson.dumps({"rev_id": rev_id}) for rev_id in [*rev_ids, *deleted]]
        insert_tasks(session, campaign.id, lines, seed=3)
        vectors = dict(zip(data.ids or (), data.X.tolist(), strict=True))
        store_vectors(session, "enwiki", FEATURES, 1, data.X.shape[1], vectors)
        return campaign.id


def label(
    sessions: Factory, campaign_id: int, user: int, count: int, value: dict[int, bool] | None = None
) -> list[int]:
    """The user takes worksets and labels `count` tasks (damaging = the real `reverted`, or
    `value` by rev_id); the labeled task ids. A workset left half done is abandoned."""
    truth = reverted() if value is None else value
    done: list[int] = []
    while len(done) < count:
        with transaction(sessions, write=True) as session:
            workset = assign_workset(session, campaign_id, user)
            held = workset_tasks(session, workset.id)
            chosen = held[: count - len(done)]
            for task in chosen:
                damaging = truth.get(task.data["rev_id"], False)
                save_label(
                    session, form=FORM, workset_id=workset.id, task_id=task.id, user_id=user,
                    data={"damaging": damaging, "goodfaith": True, "unsure": False},
                )  # fmt: skip
                done.append(task.id)
            if len(chosen) < len(held):
                abandon_workset(session, workset.id, user)
    return done


def tasks_of(sessions: Factory, campaign_id: int) -> dict[int, tuple[int, float, bool, int]]:
    """Task id -> (rev_id, priority, holdout, assigned)."""
    with transaction(sessions) as session:
        rows = session.execute(
            select(Task.id, Task.data, Task.priority, Task.holdout, Task.assigned).where(
                Task.campaign_id == campaign_id
            )
        )
        return {r.id: (r.data["rev_id"], r.priority, r.holdout, r.assigned) for r in rows}
