"""Diverse batches: the served order spreads each batch over clusters of the shortlist."""

from __future__ import annotations

import numpy as np
import pytest

from wikiloom.errors import BadRequest
from wikiloom.learn.batches import CANDIDATES, MAX_CLUSTERS, diverse


def blobs(per_blob: int = 60, centres: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated Gaussian blobs, one axis each, and each row's blob."""
    rng = np.random.default_rng(seed)
    blob = np.repeat(np.arange(centres), per_blob)
    X = rng.normal(scale=0.3, size=(len(blob), centres)) + 10.0 * np.eye(centres)[blob]
    return X, blob


def served(scores: np.ndarray) -> np.ndarray:
    """Row indices in the served order (highest score first)."""
    return np.argsort(-scores, kind="stable")


def test_a_batch_takes_the_most_informative_row_of_every_cluster() -> None:
    X, blob = blobs()
    rng = np.random.default_rng(1)
    # Blob 0 is where the model is unsure: ranked by score alone, a batch would be all blob 0.
    scores = np.where(blob == 0, 0.9, 0.1) + 0.05 * rng.random(len(blob))
    assert set(blob[served(scores)[:5]]) == {0}

    order = served(diverse(scores, X, 5, random_state=0))
    first = order[:5]
    assert sorted(blob[first]) == [0, 1, 2, 3, 4]
    for row in first:  # each one the best of its blob
        assert scores[row] == scores[blob == blob[row]].max()
    # The next batch takes each blob's second best, and so on through the shortlist.
    second = order[5:10]
    assert sorted(blob[second]) == [0, 1, 2, 3, 4]
    for row in second:
        ranked = np.sort(scores[blob == blob[row]])[::-1]
        assert scores[row] == ranked[1]


def test_rows_outside_the_shortlist_follow_by_score() -> None:
    X, _ = blobs(per_blob=100)
    scores = np.random.default_rng(2).random(len(X))
    batch = 3
    order = served(diverse(scores, X, batch, random_state=0))
    shortlist = batch * CANDIDATES
    top = served(scores)
    assert set(order[:shortlist]) == set(top[:shortlist])
    assert list(order[shortlist:]) == list(top[shortlist:])
    assert sorted(order) == list(range(len(X)))  # a permutation: nothing lost


def test_the_order_is_reproducible_from_its_seed() -> None:
    X, _ = blobs()
    scores = np.random.default_rng(3).random(len(X))
    assert np.array_equal(
        diverse(scores, X, 4, random_state=7), diverse(scores, X, 4, random_state=7)
    )


def test_identical_rows_missing_values_and_infinities_are_ranked_by_score() -> None:
    scores = np.array([0.2, 0.9, np.nan, 0.5, 0.7])
    same = np.ones((5, 2))
    assert list(served(diverse(scores, same, 3, random_state=0))) == [1, 4, 3, 0, 2]
    odd = np.array([[np.nan, 1.0], [np.inf, 2.0], [1.0, -np.inf], [3.0, 1e300], [0.0, 0.0]])
    order = served(diverse(scores, odd, 2, random_state=0))
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert order[-1] == 2  # NaN counts as the lowest score


def test_an_empty_pool_and_a_batch_of_one() -> None:
    assert diverse(np.zeros(0), np.zeros((0, 3)), 10).shape == (0,)
    X, _ = blobs()
    scores = np.random.default_rng(4).random(len(X))
    assert list(served(diverse(scores, X, 1, random_state=0))) == list(served(scores))


def test_large_batches_use_at_most_max_clusters() -> None:
    X = np.random.default_rng(5).normal(size=(MAX_CLUSTERS * 3, 2))
    scores = np.random.default_rng(6).random(len(X))
    order = served(diverse(scores, X, 10 * MAX_CLUSTERS, random_state=0))
    assert sorted(order) == list(range(len(X)))


@pytest.mark.parametrize(
    ("scores", "X", "batch", "message"),
    [
        (np.zeros(3), np.zeros((4, 2)), 2, "one length"),
        (np.zeros((3, 1)), np.zeros((3, 2)), 2, "a vector and a matrix"),
        (np.zeros(3), np.zeros(3), 2, "a vector and a matrix"),
        (np.zeros(3), np.zeros((3, 2)), 0, "batch and candidates must be >= 1"),
    ],
)
def test_bad_input_is_refused_with_its_reason(
    scores: np.ndarray, X: np.ndarray, batch: int, message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        diverse(scores, X, batch)
