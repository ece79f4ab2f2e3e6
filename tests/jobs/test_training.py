"""Training from a campaign end to end: labels, features extracted from the real wiki, a version."""

from __future__ import annotations

import uuid

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.mediawiki import USER_AGENT, MediaWiki, history_dump
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.jobs.training import extract_features, train_campaign
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.tasks import insert_tasks
from wikiloom.labels.worksets import assign_workset, workset_tasks
from wikiloom.learn.registry import get_model, get_version
from wikiloom.learn.tables import FeatureVector
from wikiloom.learn.training import TrainingOptions

FORM = load_catalog()["damaging_and_goodfaith"]
FAST = {"max_iter": 30, "learning_rate": 0.3, "min_samples_leaf": 2}


@pytest.fixture(scope="module")
def history(mediawiki: MediaWiki) -> list[int]:
    """60 imported revisions of 3 pages, every other one by an IP, the others by 3 accounts."""
    tag = uuid.uuid4().hex[:6]
    prefix = f"Campaign page {tag}"
    editors = [f"Campaign editor {tag} {n}" for n in range(3)]
    mediawiki.create_users(editors)
    mediawiki.import_dump(history_dump(prefix, pages=3, revisions=20, editors=editors))
    return [rev_id for p in range(3) for rev_id in mediawiki.history(f"{prefix} {p}")]


def labelled_campaign(sessions: sessionmaker[Session], wiki: str, rev_ids: list[int]) -> int:
    """A campaign of the revisions, each labelled by two labelers: IP edits are damaging."""
    with transaction(sessions, write=True) as session:
        campaign = create_campaign(
            session, wiki=wiki, name="Damage", form="damaging_and_goodfaith",
            view="DiffToPrevious", labels_per_task=2, tasks_per_assignment=len(rev_ids),
            known_forms=["damaging_and_goodfaith"],
        )  # fmt: skip
        campaign_id = campaign.id
        lines = (orjson.dumps({"rev_id": rev_id}) for rev_id in rev_ids)
        insert_tasks(session, campaign_id, lines, seed=1)
    ip_edit = {rev_id: position % 2 == 1 for position, rev_id in enumerate(rev_ids)}
    for user in (1, 2):
        with transaction(sessions, write=True) as session:
            workset = assign_workset(session, campaign_id, user)
            for task in workset_tasks(session, workset.id):
                damaging = ip_edit[task.data["rev_id"]]
                save_label(
                    session, form=FORM, workset_id=workset.id, task_id=task.id, user_id=user,
                    data={"damaging": damaging, "goodfaith": not damaging, "unsure": False},
                )  # fmt: skip
    return campaign_id


def test_a_campaign_trains_a_model_from_features_of_the_real_wiki(
    settings: Settings,
    sessions: sessionmaker[Session],
    mediawiki: MediaWiki,
    history: list[int],
) -> None:
    local = settings.model_copy(
        update={"user_agent": USER_AGENT, "wikis": {mediawiki.dbname: mediawiki.api_url}}
    )
    campaign_id = labelled_campaign(sessions, mediawiki.dbname, history)
    report = train_campaign(
        local, sessions, campaign_id, "damaging",
        options=TrainingOptions(params=FAST, folds=3),
        actor="Organizer",
    )  # fmt: skip
    assert (report.wiki, report.model, report.version) == (mediawiki.dbname, "damaging", "1.0")
    assert report.extraction.stored == 60
    assert report.extraction.problems == {}
    assert report.statistics["counts"]["labels"] == {"false": 30, "true": 30}
    assert report.statistics["roc_auc"]["labels"]["true"] > 0.9  # IP edits are easy to tell
    with transaction(sessions) as session:
        model = get_model(session, mediawiki.dbname, "damaging")
        version = get_version(session, model)
        assert version.feature_set == "editquality"
        campaign = version.provenance["campaign"]
        assert campaign["id"] == campaign_id
        assert (campaign["labels"], campaign["labelers"]) == (120, 2)
        assert campaign["krippendorff_alpha"] == 1.0  # the two labelers always agree
        assert version.provenance["training_data"]["rows"] == 60
        stored = session.scalar(select(func.count()).select_from(FeatureVector))
        assert stored == 60
    again = train_campaign(
        local, sessions, campaign_id, "damaging", aggregation="dawid-skene",
        options=TrainingOptions(params=FAST, folds=3),
    )  # fmt: skip
    assert again.version == "2.0"
    assert (again.extraction.stored, again.extraction.already_stored) == (0, 60)


@pytest.mark.anyio
async def test_revisions_the_wiki_cannot_give_are_reported_not_stored(
    settings: Settings, sessions: sessionmaker[Session], mediawiki: MediaWiki, history: list[int]
) -> None:
    local = settings.model_copy(
        update={"user_agent": USER_AGENT, "wikis": {mediawiki.dbname: mediawiki.api_url}}
    )
    report = await extract_features(
        local, sessions, mediawiki.dbname, [history[0], 999_999_999], "ores.enwiki.demo"
    )
    assert report.stored == 1
    assert report.problems == {999_999_999: "RevisionNotFound"}
