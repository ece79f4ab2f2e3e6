"""Jobs of the learning side: extract a campaign's features, train a model from its labels.

Each job owns its transactions and never holds one while a wiki is asked: read what is
needed, close the transaction, fetch and extract, then store in a new one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.learn.featuresets import feature_set
from wikiloom.learn.featurestore import fetch_and_extract, missing_rev_ids, store_vectors
from wikiloom.learn.observations import campaign_targets, dataset_from_store
from wikiloom.learn.registry import create_model, find_model, register_version
from wikiloom.learn.training import TrainingOptions, train
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.registry import wiki_language


@dataclass(frozen=True)
class ExtractionReport:
    """What a feature extraction did: values stored, revisions already stored, problems."""

    stored: int
    already_stored: int
    problems: dict[int, str]


@dataclass(frozen=True)
class TrainingReport:
    """The version a training job registered, and the extraction it needed first."""

    wiki: str
    model: str
    version: str
    statistics: dict[str, Any]
    extraction: ExtractionReport


def wiki_client(settings: Settings) -> WikiClient:
    """A wiki client as the settings describe it (User-Agent, configured wikis, maxlag)."""
    return WikiClient(
        settings.user_agent,
        custom_wikis=settings.wikis,
        timeout=settings.wiki_timeout,
        maxlag=5,
    )


async def extract_features(
    settings: Settings,
    factory: sessionmaker[Session],
    wiki: str,
    rev_ids: list[int],
    feature_set_name: str,
    *,
    client: WikiClient | None = None,
) -> ExtractionReport:
    """Fill the feature store for these revisions of a wiki (those not stored yet)."""
    features = feature_set(feature_set_name, wiki_language(wiki, settings.wikis))
    with transaction(factory) as session:
        missing = missing_rev_ids(session, wiki, rev_ids, features.name, features.version)
    own = client is None
    client = client or wiki_client(settings)
    try:
        extraction = await fetch_and_extract(client, wiki, missing, features)
    finally:
        if own:
            await client.aclose()
    with transaction(factory, write=True) as session:
        stored = store_vectors(
            session,
            wiki,
            features.name,
            features.version,
            len(features.get_feature_names_out()),
            extraction.vectors,
        )
    return ExtractionReport(
        stored=stored,
        already_stored=len(set(rev_ids)) - len(missing),
        problems={rev_id: problem.code for rev_id, problem in extraction.problems.items()},
    )


def train_campaign(
    settings: Settings,
    factory: sessionmaker[Session],
    campaign_id: int,
    field: str,
    *,
    feature_set_name: str = "editquality",
    model_name: str | None = None,
    aggregation: str = "majority",
    options: TrainingOptions | None = None,
    version: str | None = None,
    actor: str | None = None,
    client: WikiClient | None = None,
) -> TrainingReport:
    """Train a model of a campaign's wiki from its labels of `field` and register it.

    The labelled revisions' features are extracted first where the store lacks them;
    revisions the wiki cannot give (deleted ones) are left out and counted.
    """
    with transaction(factory) as session:
        targets = campaign_targets(session, campaign_id, field, aggregation=aggregation)
    extraction = asyncio.run(
        extract_features(
            settings,
            factory,
            targets.wiki,
            list(targets.targets),
            feature_set_name,
            client=client,
        )
    )
    features = feature_set(feature_set_name, wiki_language(targets.wiki, settings.wikis))
    with transaction(factory) as session:
        dataset = dataset_from_store(session, targets, features)
    trained = train(
        dataset,
        options,
        feature_set=(features.name, features.version),
        provenance={**targets.provenance, "not_extracted": extraction.problems},
    )
    name = model_name or field
    with transaction(factory, write=True) as session:
        model = find_model(session, targets.wiki, name) or create_model(
            session, targets.wiki, name, field, actor=actor
        )
        registered = register_version(session, model, trained, version=version, actor=actor)
        label = registered.version
    return TrainingReport(targets.wiki, name, label, dict(trained.statistics), extraction)
