"""Small builders for labeling tests (real rows through the real services)."""

from __future__ import annotations

import orjson
from sqlalchemy.orm import Session

from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.tables import Campaign
from wikiloom.labels.tasks import insert_tasks

FORMS = ("damaging_and_goodfaith", "wp10", "face_depicts")


def campaign_with_tasks(
    session: Session,
    tasks: int,
    *,
    labels_per_task: int = 2,
    tasks_per_assignment: int = 3,
    name: str = "test campaign",
    expiry: int = 86400,
) -> Campaign:
    """Create an enwiki damaging/goodfaith campaign holding `tasks` revision tasks."""
    campaign = create_campaign(
        session,
        wiki="enwiki",
        name=name,
        form="damaging_and_goodfaith",
        view="DiffToPrevious",
        labels_per_task=labels_per_task,
        tasks_per_assignment=tasks_per_assignment,
        workset_expiry=expiry,
        known_forms=FORMS,
    )
    lines = (orjson.dumps({"rev_id": 1000 + i}) for i in range(tasks))
    insert_tasks(session, campaign.id, lines, seed=1)
    return campaign


GOOD_LABEL = {"damaging": False, "goodfaith": True, "unsure": False}
