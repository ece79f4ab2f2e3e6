"""The round jobs: with the features already stored (the wiki is not asked), and against the
local MediaWiki, whose revisions the round extracts first."""

from __future__ import annotations

import uuid

import orjson
import pytest
from sqlalchemy import func, select

from tests.learn.rounds_support import FORM, Factory, label, make_campaign, tasks_of
from tests.support.mediawiki import USER_AGENT, MediaWiki, history_dump
from tests.support.models import offline_client
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import Conflict
from wikiloom.jobs.rounds import due_rounds, retrain_campaign
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.learning import LearningSettings
from wikiloom.labels.tables import CampaignRound, Event, Label, Task
from wikiloom.labels.tasks import insert_tasks
from wikiloom.learn.holdout import holdout_ids
from wikiloom.learn.rounds import plan_round, record_round
from wikiloom.learn.tables import FeatureVector


def test_a_due_campaign_retrains_from_the_stored_features(
    settings: Settings, sessions: Factory
) -> None:
    campaign_id = make_campaign(sessions, 300, deleted=(), retrain_every=30)
    label(sessions, campaign_id, 1, 100)
    assert due_rounds(settings, sessions) == [campaign_id]
    report = retrain_campaign(settings, sessions, campaign_id, client=offline_client())
    assert (report.number, report.labels, report.without_features) == (1, 100, 0)
    # Every unlabeled task outside the holdout (whose size depends on the task ids drawn).
    waiting = [row for row in tasks_of(sessions, campaign_id).values() if row[3] == 0]
    assert report.rescored == sum(1 for row in waiting if not row[2])
    assert report.rescored > 120
    assert set(report.seconds) == {"read", "fit", "write"}
    assert due_rounds(settings, sessions) == []
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(CampaignRound)) == 1
        events = session.scalars(select(Event.data).where(Event.type == "campaign.round"))
        assert [event["number"] for event in events] == [1]


def test_a_round_planned_before_another_was_recorded_is_refused(sessions: Factory) -> None:
    campaign_id = make_campaign(sessions, 200, deleted=())
    label(sessions, campaign_id, 1, 60)
    with transaction(sessions) as session:
        stale = plan_round(session, campaign_id)
        fresh = plan_round(session, campaign_id)
    with transaction(sessions, write=True) as session:
        record_round(session, fresh)
    with (
        pytest.raises(Conflict, match="had round 1 recorded meanwhile"),
        transaction(sessions, write=True) as session,
    ):
        record_round(session, stale)


@pytest.fixture(scope="module")
def history(mediawiki: MediaWiki) -> list[int]:
    """16 imported revisions of one page, every other one by an IP, the others by 2 accounts."""
    tag = uuid.uuid4().hex[:6]
    prefix = f"Round page {tag}"
    editors = [f"Round editor {tag} {n}" for n in range(2)]
    mediawiki.create_users(editors)
    mediawiki.import_dump(history_dump(prefix, pages=1, revisions=16, editors=editors, series=3))
    return mediawiki.history(f"{prefix} 0")


def test_a_round_extracts_features_from_the_real_wiki_first(
    settings: Settings, sessions: Factory, mediawiki: MediaWiki, history: list[int]
) -> None:
    local = settings.model_copy(
        update={"user_agent": USER_AGENT, "wikis": {mediawiki.dbname: mediawiki.api_url}}
    )
    with transaction(sessions, write=True) as session:
        campaign = create_campaign(
            session, wiki=mediawiki.dbname, name="Rounds", form=FORM.key, view="DiffToPrevious",
            labels_per_task=1, tasks_per_assignment=10, known_forms=[FORM.key],
            learning=LearningSettings("margin", 0.2, 5, "damaging", "ores.enwiki.demo"),
            form_fields=FORM.fields,
        )  # fmt: skip
        campaign_id = campaign.id
        lines = [orjson.dumps({"rev_id": rev_id}) for rev_id in [*history, 999_999_999]]
        insert_tasks(session, campaign_id, lines, seed=5)
    ip_edit = {rev_id: position % 2 == 1 for position, rev_id in enumerate(history)}
    label(sessions, campaign_id, 1, 10, value=ip_edit)
    report = retrain_campaign(local, sessions, campaign_id)
    with transaction(sessions) as session:
        stored = set(
            session.scalars(
                select(FeatureVector.rev_id).where(FeatureVector.wiki == mediawiki.dbname)
            )
        )
        labeled = set(session.scalars(select(Label.task_id)))
        tasks = session.execute(
            select(Task.id, Task.data, Task.holdout).where(Task.campaign_id == campaign_id)
        ).all()
    assert set(history) <= stored  # extracted from the wiki; the missing revision is not
    assert 999_999_999 not in stored
    assert {t.id for t in tasks if t.holdout} == set(
        holdout_ids([t.id for t in tasks], 0.2, campaign_id)
    )
    waiting = [t for t in tasks if t.id not in labeled and not t.holdout]
    assert report.number == 1
    assert report.labels == sum(1 for t in tasks if t.id in labeled and t.data["rev_id"] in stored)
    assert report.rescored == sum(1 for t in waiting if t.data["rev_id"] in stored)
    assert report.without_features == sum(1 for t in waiting if t.data["rev_id"] not in stored)
