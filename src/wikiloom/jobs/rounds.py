"""Jobs of active learning: which campaigns are due a round, and running one.

A round first fills the feature store for the campaign's revisions (outside any
transaction while the wiki is asked), then plans the round in a read transaction (the
fits take seconds) and writes it in a short write transaction.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.jobs.runs import Run
from wikiloom.jobs.training import extract_features
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.tasks import task_rev_ids
from wikiloom.learn.featuresets import feature_set
from wikiloom.learn.rounds import RoundReport, due_campaigns, plan_round, record_round
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.registry import wiki_language


def due_rounds(settings: Settings, factory: sessionmaker[Session]) -> list[int]:
    """The campaigns due a round now, by id."""
    with transaction(factory) as session:
        return due_campaigns(session)


def retrain_campaign(
    settings: Settings,
    factory: sessionmaker[Session],
    campaign_id: int,
    *,
    client: WikiClient | None = None,
    run: Run | None = None,
) -> RoundReport:
    """Run a campaign's next active-learning round now, its features extracted first.

    Revisions the wiki cannot give (deleted ones) stay without features: their tasks keep
    their priority, and the round counts them. With a `run`, the round is recorded in the
    transaction that finishes it: once, however often the job is delivered.
    """
    with transaction(factory) as session:
        campaign = get_campaign(session, campaign_id)
        wiki, name = campaign.wiki, campaign.feature_set
        rev_ids = task_rev_ids(session, campaign_id)
    features = feature_set(name, wiki_language(wiki, settings.wikis))
    asyncio.run(extract_features(settings, factory, wiki, rev_ids, name, client=client, run=run))
    with transaction(factory) as session:
        plan = plan_round(session, campaign_id, features)
    with transaction(factory, write=True) as session:
        report = record_round(session, plan)
        if run is not None:
            run.finish(session, {"campaign_id": campaign_id, "round": report.number})
        return report
