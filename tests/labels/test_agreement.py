"""Agreement and aggregation on small hand-computed cases, plus properties."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wikiloom.labels.agreement import (
    Rating,
    dawid_skene,
    krippendorff_alpha,
    labeler_agreement,
    majority,
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 coders x 12 units
# example: nominal alpha 0.743, interval alpha 0.849.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
TEXTBOOK_RATINGS: list[Rating] = [
    (unit, coder, value) for coder, row in enumerate(TEXTBOOK) for unit, value in enumerate(row)
]


def test_alpha_matches_krippendorffs_worked_example() -> None:
    nominal = krippendorff_alpha(TEXTBOOK_RATINGS)
    assert nominal.alpha == pytest.approx(0.743, abs=5e-4)
    assert (nominal.n_tasks, nominal.n_labelers) == (11, 4)  # unit 12 has one value only
    assert nominal.low is not None
    assert nominal.high is not None
    assert nominal.low <= nominal.alpha <= nominal.high
    interval = krippendorff_alpha(TEXTBOOK_RATINGS, level="interval", bootstrap=0)
    assert interval.alpha == pytest.approx(0.849, abs=5e-4)
    assert (interval.low, interval.high) == (None, None)


def test_alpha_is_one_on_perfect_agreement_and_reproducible() -> None:
    ratings: list[Rating] = [(t, u, t % 2 == 0) for t in range(10) for u in ("a", "b", "c")]
    result = krippendorff_alpha(ratings, seed=3)
    assert (result.alpha, result.low, result.high) == (1.0, 1.0, 1.0)
    noisy = [*ratings, (0, "d", False), (1, "d", False), (2, "d", False)]
    assert krippendorff_alpha(noisy, seed=7) == krippendorff_alpha(noisy, seed=7)


@pytest.mark.parametrize(
    "ratings",
    [
        [],
        [(1, "a", True), (2, "a", False), (3, "b", True)],  # no task labeled twice
        [(1, "a", True), (1, "b", True), (2, "a", True), (2, "b", True)],  # one value only
        [(1, "a", None), (1, "b", None)],
    ],
)
def test_alpha_is_none_when_undefined(ratings: list[Rating]) -> None:
    result = krippendorff_alpha(ratings)
    assert (result.alpha, result.low, result.high) == (None, None, None)


def test_majority_breaks_ties_by_natural_order_whatever_the_input_order() -> None:
    ratings: list[Rating] = [
        (1, "a", True), (1, "b", False),
        (2, "a", "x"), (2, "b", "y"), (2, "c", "y"),
        (3, "a", None), (3, "b", 2), (3, "c", 1), (3, "d", 2), (3, "e", 1),
    ]  # fmt: skip
    result = majority(ratings)
    assert majority(list(reversed(ratings))) == result
    assert (result[1].value, result[1].support, result[1].n) == (False, 0.5, 2)
    assert (result[2].value, result[2].support, result[2].n) == ("y", pytest.approx(2 / 3), 3)
    assert (result[3].value, result[3].n) == (1, 4)


def test_labelers_are_compared_with_the_others_consensus() -> None:
    ratings: list[Rating] = [
        (1, "a", 1), (1, "b", 1), (1, "c", 2),
        (2, "a", 1), (2, "b", 2),
        (3, "a", 1),  # a single label: not compared
    ]  # fmt: skip
    result = labeler_agreement(ratings)
    # Task 1: a vs {b: 1, c: 2} is a tie (left out); b likewise; c vs {1, 1} disagrees.
    # Task 2: a vs b disagrees, b vs a disagrees.
    assert {u: (r.labels, r.agreed) for u, r in result.items()} == {
        "a": (1, 0),
        "b": (1, 0),
        "c": (1, 0),
    }
    assert result["a"].rate == 0.0
    perfect = labeler_agreement([(1, "a", 1), (1, "b", 1), (1, "c", 1)])
    assert all(r.rate == 1.0 for r in perfect.values())


def synthetic(seed: int) -> tuple[dict[int, bool], list[Rating]]:
    """Truth and labels: a good labeler, a mediocre one and one who always lies."""
    rng = random.Random(seed)
    truth = {task: rng.random() < 0.4 for task in range(300)}
    ratings: list[Rating] = []
    for task, value in truth.items():
        ratings.append((task, "good", value if rng.random() < 0.95 else not value))
        ratings.append((task, "fair", value if rng.random() < 0.7 else not value))
        ratings.append((task, "liar", not value))
    return truth, ratings


def test_dawid_skene_beats_majority_with_an_adversarial_labeler() -> None:
    truth, ratings = synthetic(seed=11)
    result = dawid_skene(ratings)
    assert result.converged
    assert result.iterations > 1
    estimated = result.labels()
    voted = {task: c.value for task, c in majority(ratings).items()}
    ds_accuracy = sum(estimated[t] == v for t, v in truth.items()) / len(truth)
    mv_accuracy = sum(voted[t] == v for t, v in truth.items()) / len(truth)
    assert ds_accuracy >= 0.97
    assert ds_accuracy > mv_accuracy + 0.2
    assert result.confusion["liar"][True][False] > 0.95
    assert result.confusion["good"][False][False] > 0.9
    assert sum(result.priors.values()) == pytest.approx(1.0)
    for posterior in result.posteriors.values():
        assert sum(posterior.values()) == pytest.approx(1.0)
        assert all(0.0 < p < 1.0 for p in posterior.values())  # smoothing: never exactly 0
    assert dawid_skene(ratings) == result


def test_dawid_skene_on_nothing() -> None:
    result = dawid_skene([(1, "a", None)])
    assert (result.posteriors, result.iterations) == ({}, 0)


ratings_strategy = st.lists(
    st.tuples(st.integers(0, 8), st.sampled_from("abcd"), st.sampled_from([None, "x", "y", "z"])),
    max_size=40,
)


@given(ratings_strategy)
@settings(max_examples=60, deadline=None)
def test_posteriors_are_distributions_and_alpha_is_bounded(ratings: list[Rating]) -> None:
    result = dawid_skene(ratings, max_iter=20)
    tasks = {t for t, _, v in ratings if v is not None}
    assert set(result.posteriors) == tasks
    for posterior in result.posteriors.values():
        assert math.isclose(sum(posterior.values()), 1.0, abs_tol=1e-9)
        assert all(0.0 <= p <= 1.0 for p in posterior.values())
    alpha = krippendorff_alpha(ratings, bootstrap=20)
    if alpha.alpha is not None:
        assert -1.0 - 1e-9 <= alpha.alpha <= 1.0 + 1e-9
        if alpha.low is not None and alpha.high is not None:
            assert alpha.low <= alpha.high
