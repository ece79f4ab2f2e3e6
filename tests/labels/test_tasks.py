"""Reading a campaign's tasks back with their labels, as a stream."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from wikiloom.db import transaction
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tables import Label, Task
from wikiloom.labels.tasks import campaign_tasks
from wikiloom.labels.worksets import assign_workset, workset_tasks

FORM = load_catalog()["damaging_and_goodfaith"]


def test_campaign_tasks_carry_every_label_in_order_whatever_the_batch(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions, write=True) as session:
        campaign = campaign_with_tasks(session, 7, labels_per_task=2, tasks_per_assignment=4)
        other = campaign_with_tasks(session, 3, name="other campaign")
        for user in (9, 3):  # user ids out of order: labels come back by user id
            workset = assign_workset(session, campaign.id, user)
            for number, task in enumerate(workset_tasks(session, workset.id)):
                if number != 1:
                    value = {**GOOD_LABEL, "damaging": user == 3}
                    save_label(
                        session, form=FORM, workset_id=workset.id, task_id=task.id,
                        user_id=user, data=value,
                    )  # fmt: skip
    with transaction(sessions) as session:
        expected = {
            task.id: (task.campaign_id, task.data, [])
            for task in session.scalars(
                select(Task).where(Task.campaign_id == campaign.id).order_by(Task.id)
            )
        }
        labels = session.scalars(select(Label).order_by(Label.task_id, Label.user_id))
        for label in labels:
            expected[label.task_id][2].append((label.user_id, label.timestamp, label.data))
        assert sum(len(found[2]) for found in expected.values()) == 6
        for batch in (1, 2, 1000):
            streamed = list(campaign_tasks(session, campaign.id, batch=batch))
            assert [t.id for t in streamed] == sorted(expected)
            assert {t.id: (t.campaign_id, t.data, t.labels) for t in streamed} == expected
        assert [t.labels for t in campaign_tasks(session, other.id)] == [[], [], []]
        assert list(campaign_tasks(session, 999_999)) == []
