"""Shared pieces of the learning tests: the anyio backend, a trained sample model."""

from __future__ import annotations

from pathlib import Path

import pytest

from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.registry import TrainedModel
from wikiloom.learn.training import TrainingOptions, train

SAMPLE = Path(__file__).parent.parent / "data" / "editquality" / "enwiki.reverted.sample.csv"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sample_model() -> TrainedModel:
    """A model of the 1,500-edit editquality sample, cross-validated (a few seconds)."""
    return train(read_dataset(SAMPLE, "reverted"), TrainingOptions(params={"max_iter": 40}))
