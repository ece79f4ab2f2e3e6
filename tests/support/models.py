"""A registered sample model for scoring tests: the fixture `sample_trained` and helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.featuresets import feature_set_of_columns
from wikiloom.learn.featurestore import store_vectors
from wikiloom.learn.registry import TrainedModel, create_model, register_version, set_status
from wikiloom.learn.training import TrainingOptions, train
from wikiloom.scoring.cache import MemoryScoreCache
from wikiloom.scoring.loaded import ModelPool
from wikiloom.scoring.scores import Scorer
from wikiloom.wiki.client import WikiClient

SAMPLE = Path(__file__).parent.parent / "data" / "editquality" / "enwiki.reverted.sample.csv"
AGENT = "wikiloom-tests/0.1 (https://example.org/wikiloom; tests@example.org)"


@pytest.fixture(scope="session")
def sample_trained() -> TrainedModel:
    dataset = read_dataset(SAMPLE, "reverted")
    return train(
        dataset,
        TrainingOptions(params={"max_iter": 40}),
        feature_set=feature_set_of_columns(dataset.features),
    )


def register(
    sessions: sessionmaker[Session], trained: TrainedModel, wiki: str, name: str = "reverted"
) -> None:
    """Register the model on a wiki, active, with the sample's features stored for its wiki."""
    dataset = read_dataset(SAMPLE, "reverted")
    with transaction(sessions, write=True) as session:
        model = create_model(session, wiki, name, "reverted")
        register_version(session, model, trained)
        set_status(session, model, "active", actor="tests", reason="scoring tests")
        vectors = dict(zip(dataset.ids or (), dataset.X.tolist(), strict=True))
        store_vectors(session, wiki, "ores.enwiki.demo", 1, 9, vectors)


def offline_client() -> WikiClient:
    """A client whose every request fails the test: the wiki must not be asked."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the wiki was asked: {request.url}")

    return WikiClient(AGENT, transport=httpx.MockTransport(refuse))


def make_scorer(
    sessions: sessionmaker[Session], client: Callable[[], WikiClient] | None = None
) -> Scorer:
    shared = offline_client()
    return Scorer(
        ModelPool(sessions, state_ttl=0.0), MemoryScoreCache(), sessions, client or (lambda: shared)
    )
