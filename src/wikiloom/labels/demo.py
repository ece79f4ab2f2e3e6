"""The demo: two real enwiki campaigns that `make run` loads, idempotently."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.tables import Campaign
from wikiloom.labels.tasks import insert_tasks

DEMO_DIR = Path(__file__).resolve().parent / "demo"


@dataclass(frozen=True)
class DemoCampaign:
    """A demo campaign and the file of its tasks."""

    name: str
    form: str
    view: str
    tasks_file: str
    labels_per_task: int
    tasks_per_assignment: int
    info_url: str


DEMO_CAMPAIGNS = (
    DemoCampaign(
        name="Edit quality (demo, 2015 sample)",
        form="damaging_and_goodfaith",
        view="DiffToPrevious",
        tasks_file="enwiki_edit_quality.jsonl",
        labels_per_task=2,
        tasks_per_assignment=10,
        info_url="https://meta.wikimedia.org/wiki/Research:Revision_scoring_as_a_service/Wiki_labels",
    ),
    DemoCampaign(
        name="Article quality (demo, wp10 sample)",
        form="wp10",
        view="PageAsOfRevision",
        tasks_file="enwiki_article_quality.jsonl",
        labels_per_task=1,
        tasks_per_assignment=5,
        info_url="https://en.wikipedia.org/wiki/Wikipedia:Content_assessment",
    ),
)


def load_demo(session: Session, known_forms: Collection[str], wiki: str = "enwiki") -> list[int]:
    """Create the demo campaigns that do not exist yet; return the ids of those created."""
    created = []
    for demo in DEMO_CAMPAIGNS:
        exists = session.scalar(
            select(Campaign.id).where(Campaign.wiki == wiki, Campaign.name == demo.name)
        )
        if exists is not None:
            continue
        campaign = create_campaign(
            session,
            wiki=wiki,
            name=demo.name,
            form=demo.form,
            view=demo.view,
            labels_per_task=demo.labels_per_task,
            tasks_per_assignment=demo.tasks_per_assignment,
            info_url=demo.info_url,
            known_forms=known_forms,
        )
        with (DEMO_DIR / demo.tasks_file).open("rb") as lines:
            insert_tasks(session, campaign.id, lines, seed=campaign.id)
        created.append(campaign.id)
    return created


def demo_rev_ids() -> set[int]:
    """The rev_ids of the edit-quality demo campaign's tasks."""
    with (DEMO_DIR / DEMO_CAMPAIGNS[0].tasks_file).open("rb") as lines:
        return {int(orjson.loads(line)["rev_id"]) for line in lines if line.strip()}
