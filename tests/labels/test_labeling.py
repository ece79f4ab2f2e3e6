"""Storing labels: validation against the form, ownership, history."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from wikiloom.db import transaction
from wikiloom.errors import Forbidden, InvalidLabel, NotFound
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tables import Event, Label, LabelHistory, WorksetTask
from wikiloom.labels.worksets import assign_workset, workset_stats, workset_tasks

FORM = load_catalog()["damaging_and_goodfaith"]
Factory = sessionmaker[Session]


@pytest.fixture
def held(sessions: Factory) -> tuple[int, int, list[int]]:
    """Campaign id, workset id and task ids of user 1's workset."""
    with transaction(sessions, write=True) as session:
        campaign = campaign_with_tasks(session, 4, tasks_per_assignment=2)
        workset = assign_workset(session, campaign.id, 1)
        return campaign.id, workset.id, [t.id for t in workset_tasks(session, workset.id)]


def save(sessions: Factory, workset: int, task: int, data: object, user: int = 1) -> Label:
    with transaction(sessions, write=True) as session:
        return save_label(
            session, form=FORM, workset_id=workset, task_id=task, user_id=user, data=data
        )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"damaging": "maybe", "goodfaith": True, "unsure": False}, "damaging", "damaging"),
        ({"damaging": True, "unsure": False}, "goodfaith", "goodfaith"),
        ({**GOOD_LABEL, "spam": True}, "spam", "spam"),
        ({"damaging": True, "goodfaith": True, "unsure": "no"}, "unsure", "unsure"),
        (["damaging"], None, "object"),
    ],
)
def test_an_invalid_label_names_the_field_and_stores_nothing(
    sessions: Factory,
    held: tuple[int, int, list[int]],
    data: object,
    field: str | None,
    message: str,
) -> None:
    _, workset, tasks = held
    with pytest.raises(InvalidLabel, match=message) as raised:
        save(sessions, workset, tasks[0], data)
    if field is not None:
        assert raised.value.field == field
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Label)) == 0
        states = set(session.scalars(select(WorksetTask.state)))
        assert states == {"leased"}
        assert "label.saved" not in set(session.scalars(select(Event.type)))


def test_a_relabel_keeps_the_earlier_version(
    sessions: Factory, held: tuple[int, int, list[int]]
) -> None:
    _, workset, tasks = held
    first = save(sessions, workset, tasks[0], GOOD_LABEL)
    changed = {"damaging": True, "goodfaith": False, "unsure": True}
    second = save(sessions, workset, tasks[0], changed)
    assert second.data == changed
    assert second.timestamp >= first.timestamp
    with transaction(sessions) as session:
        history = session.scalars(select(LabelHistory)).one()
        assert (history.data, history.reason) == (GOOD_LABEL, "relabel")
        assert session.get(Label, (tasks[0], 1)).data == changed  # type: ignore[union-attr]


def test_completing_a_workset_closes_it(
    sessions: Factory, held: tuple[int, int, list[int]]
) -> None:
    campaign, workset, tasks = held
    for task in tasks:
        save(sessions, workset, task, GOOD_LABEL)
    with transaction(sessions, write=True) as session:
        stats = workset_stats(session, [workset])[workset]
        assert (stats.tasks, stats.labeled) == (2, 2)
        assign_workset(session, campaign, 1)  # no longer blocked by the complete one


def test_only_the_owner_labels_and_only_tasks_of_the_workset(
    sessions: Factory, held: tuple[int, int, list[int]]
) -> None:
    campaign, workset, tasks = held
    with pytest.raises(Forbidden, match="owned by user_id=1, but your user_id is 2"):
        save(sessions, workset, tasks[0], GOOD_LABEL, user=2)
    with transaction(sessions) as session:
        other = session.scalar(
            select(func.max(WorksetTask.task_id)).where(WorksetTask.workset_id == workset)
        )
    assert other is not None
    with pytest.raises(NotFound, match=f"task_id={other + 1} is not in workset_id={workset}"):
        save(sessions, workset, other + 1, GOOD_LABEL)
    with pytest.raises(NotFound, match="workset_id=424242"):
        save(sessions, 424242, tasks[0], GOOD_LABEL)
    with pytest.raises(NotFound, match=f"workset_id={workset}"), transaction(sessions) as s:
        save_label(
            s, form=FORM, workset_id=workset, task_id=tasks[0], user_id=1, data=GOOD_LABEL,
            campaign_id=campaign + 1,
        )  # fmt: skip
