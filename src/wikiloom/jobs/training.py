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
from wikiloom.jobs.politeness import wait_for_turn
from wikiloom.jobs.runs import Run
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
    run: Run | None = None,
) -> ExtractionReport:
    """Fill the feature store for these revisions of a wiki (those not stored yet).

    Batch by batch: each waits for the wiki's politeness gate, is fetched and extracted
    outside any transaction, then stored with the run's checkpoint in one. A new attempt
    of a killed run finds the stored batches in the store and fetches only the rest.
    """
    features = feature_set(feature_set_name, wiki_language(wiki, settings.wikis))
    progress = dict(run.progress) if run is not None else {}
    known_problems: dict[str, str] = dict(progress.get("problems", {}))
    with transaction(factory) as session:
        missing = missing_rev_ids(session, wiki, rev_ids, features.name, features.version)
    missing = [rev_id for rev_id in missing if str(rev_id) not in known_problems]
    already = len(set(rev_ids)) - len(missing) - len(known_problems)
    stored = 0
    own = client is None and bool(missing)
    client = client or (wiki_client(settings) if missing else None)
    try:
        for start in range(0, len(missing), settings.job_batch_size):
            batch = missing[start : start + settings.job_batch_size]
            await asyncio.to_thread(wait_for_turn, factory, wiki, settings.wiki_job_interval)
            assert client is not None  # made above whenever something is missing
            extraction = await fetch_and_extract(client, wiki, batch, features)
            known_problems.update(
                (str(rev_id), problem.code) for rev_id, problem in extraction.problems.items()
            )
            with transaction(factory, write=True) as session:
                stored += store_vectors(
                    session,
                    wiki,
                    features.name,
                    features.version,
                    len(features.get_feature_names_out()),
                    extraction.vectors,
                )
                if run is not None:
                    done = int(progress.get("stored", 0)) + len(extraction.vectors)
                    progress = {**progress, "stored": done, "problems": known_problems}
                    run.checkpoint(session, progress)
    finally:
        if own and client is not None:
            await client.aclose()
    return ExtractionReport(
        stored=stored,
        already_stored=already,
        problems={int(rev_id): code for rev_id, code in known_problems.items()},
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
    run: Run | None = None,
    include_feedback: bool = True,
) -> TrainingReport:
    """Train a model of a campaign's wiki from its labels of `field` and register it.

    The labelled revisions' features are extracted first where the store lacks them;
    revisions the wiki cannot give (deleted ones) are left out and counted. With a `run`,
    the version is registered in the transaction that finishes it: once, however often the
    job is delivered. `include_feedback` adds the labels that feedback on scores gives the
    revisions the campaign did not label (its provenance says how many, from whom).
    """
    with transaction(factory) as session:
        targets = campaign_targets(
            session, campaign_id, field, aggregation=aggregation, include_feedback=include_feedback
        )
    extraction = asyncio.run(
        extract_features(
            settings,
            factory,
            targets.wiki,
            list(targets.targets),
            feature_set_name,
            client=client,
            run=run,
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
        report = TrainingReport(
            targets.wiki, name, registered.version, dict(trained.statistics), extraction
        )
        if run is not None:
            run.finish(session, {"wiki": report.wiki, "model": name, "version": report.version})
    return report
