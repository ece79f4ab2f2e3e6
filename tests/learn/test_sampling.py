"""Active-learning query strategies: score functions, informativeness, priorities, stopping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score
from sklearn.tree import DecisionTreeClassifier

from wikiloom.errors import BadRequest
from wikiloom.learn import sampling
from wikiloom.learn.sampling import (
    STRATEGIES,
    Informativeness,
    consensus_kl,
    density,
    entropy,
    informativeness,
    is_holdout,
    least_confidence,
    margin,
    prediction_agreement,
    priorities,
    should_stop,
    vote_entropy,
)

BINARY = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.2, 0.8]])
THREE = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])


def clusters(seed: int = 0, rows: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian clusters on the first axis, labeled by cluster."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], rows // 2)
    X = np.column_stack(
        [np.where(y == 1, 2.0, -2.0) + rng.normal(0, 1.2, rows), rng.normal(size=rows)]
    )
    return X, y


def test_least_confidence_on_hand_computed_matrices() -> None:
    assert least_confidence(BINARY) == pytest.approx([0.1, 0.4, 0.5, 0.2])
    assert least_confidence(THREE) == pytest.approx([0.3, 0.6, 2 / 3, 0.0])


def test_margin_on_hand_computed_matrices() -> None:
    assert margin(BINARY) == pytest.approx([-0.8, -0.2, 0.0, -0.6])
    assert margin(THREE) == pytest.approx([-0.5, 0.0, 0.0, -1.0])


def test_entropy_on_hand_computed_matrices() -> None:
    assert entropy(BINARY) == pytest.approx([0.325083, 0.673012, math.log(2), 0.500402], abs=1e-6)
    assert entropy(THREE) == pytest.approx([0.801819, 1.054920, math.log(3), 0.0], abs=1e-6)


def test_with_three_classes_least_confidence_and_margin_disagree() -> None:
    proba = np.array([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3]])
    assert least_confidence(proba)[1] > least_confidence(proba)[0]
    assert margin(proba)[0] > margin(proba)[1]


@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30, unique=True))
def test_binary_uncertainty_margin_and_entropy_rank_identically(positives: list[float]) -> None:
    p = np.array(positives)
    proba = np.column_stack([1 - p, p])
    distance = np.round(np.abs(p - 0.5), 9)  # the rankings are up to ties at this resolution
    for scores in (least_confidence(proba), margin(proba), entropy(proba)):
        for i in range(len(p)):
            for j in range(len(p)):
                if distance[i] < distance[j]:
                    assert scores[i] > scores[j]


def test_vote_entropy_on_hand_computed_votes() -> None:
    members = np.array(
        [
            [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]],
            [[0.7, 0.3], [0.3, 0.7], [0.4, 0.6]],
            [[0.6, 0.4], [0.9, 0.1], [0.2, 0.8]],
        ]
    )  # row 0: 3 votes for class 0; row 1: 2 to 1; row 2: 1 to 2
    two_to_one = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert vote_entropy(members) == pytest.approx([0.0, two_to_one, two_to_one])
    three = np.array([[[0.8, 0.1, 0.1]], [[0.1, 0.8, 0.1]], [[0.1, 0.1, 0.8]]])
    assert vote_entropy(three) == pytest.approx([math.log(3)])


def test_consensus_kl_on_hand_computed_members() -> None:
    members = np.array([[[0.9, 0.1], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])
    first = 0.9 * math.log(0.9 / 0.7) + 0.1 * math.log(0.1 / 0.3)
    second = 0.5 * math.log(0.5 / 0.7) + 0.5 * math.log(0.5 / 0.3)
    assert consensus_kl(members) == pytest.approx([(first + second) / 2, 0.0])
    assert consensus_kl(np.array([[[1.0, 0.0]], [[0.5, 0.5]]]))[0] > 0


def test_committee_disagrees_more_between_the_clusters_than_deep_inside_one() -> None:
    X, y = clusters()
    between = np.column_stack([np.linspace(-1, 1, 21), np.zeros(21)])
    deep = np.column_stack([np.r_[np.linspace(-7, -5, 10), np.linspace(5, 7, 10)], np.zeros(20)])
    for estimator in (LogisticRegression(), DecisionTreeClassifier(max_depth=3)):
        found = informativeness(
            "committee", estimator, X, y, np.vstack([between, deep]), random_state=0
        )
        name = type(estimator).__name__
        assert found.scores[:21].mean() > 10 * found.scores[21:].mean(), name
        assert found.scores[:21].max() > found.scores[21:].max(), name


def test_density_prefers_an_uncertain_row_in_a_dense_region_to_an_equally_uncertain_outlier() -> (
    None
):
    rng = np.random.default_rng(1)
    dense = rng.normal([5.0, 5.0], 0.3, (300, 2))
    sparse = rng.normal([-5.0, -5.0], 3.0, (60, 2))
    inside, outlier = [5.0, 5.0], [12.0, -12.0]
    pool = np.vstack([[inside, outlier], dense, sparse])
    X, y = clusters()
    # A constant model is equally uncertain about every row: only the density differs.
    found = informativeness("density", DummyClassifier(), X, y, pool, random_state=0)
    assert found.scores[0] > found.scores[1]
    assert found.scores[0] > np.median(found.scores)
    flat = informativeness("density", DummyClassifier(), X, y, pool, density_beta=0.0)
    assert flat.scores == pytest.approx(np.full(len(pool), flat.scores[0]))


def test_density_lies_in_the_unit_interval_and_samples_large_pools() -> None:
    rng = np.random.default_rng(2)
    pool = rng.normal(size=(sampling.DENSITY_SAMPLE * 3, 4))
    pool[0, 0], pool[1, 1] = np.inf, np.nan
    values = density(pool, random_state=0)
    assert values.shape == (len(pool),)
    assert np.all((values >= 0) & (values <= 1))
    assert np.isfinite(values).all()
    assert density(pool, random_state=0) == pytest.approx(values)
    assert density(np.zeros((0, 4))).shape == (0,)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_scores_every_pool_row_with_three_classes(strategy: str) -> None:
    rng = np.random.default_rng(3)
    y = np.array(["b", "a", "c"] * 20)
    X = rng.normal(size=(60, 3)) + (y == "a")[:, None] * 2.0 - (y == "c")[:, None] * 2.0
    pool = rng.normal(size=(40, 3))
    template = LogisticRegression()
    found = informativeness(strategy, template, X, y, pool, random_state=4)
    assert isinstance(found, Informativeness)
    assert found.scores.shape == (40,)
    assert np.isfinite(found.scores).all()
    assert found.proba.shape == (40, 3)
    assert found.proba.sum(axis=1) == pytest.approx(np.ones(40))
    assert list(found.classes) == ["a", "b", "c"]
    expected = LogisticRegression().fit(X, y).predict_proba(pool)
    assert found.proba == pytest.approx(expected)
    assert not hasattr(template, "classes_")  # the template was cloned, not fitted
    again = informativeness(strategy, template, X, y, pool, random_state=4)
    assert again.scores == pytest.approx(found.scores)


def test_random_scores_are_uniform_and_seeded() -> None:
    X, y = clusters()
    pool = np.zeros((2000, 2))
    found = informativeness("random", LogisticRegression(), X, y, pool, random_state=5)
    assert 0.45 < found.scores.mean() < 0.55
    other = informativeness("random", LogisticRegression(), X, y, pool, random_state=6)
    assert not np.allclose(found.scores, other.scores)


def test_uncertainty_prefers_the_boundary() -> None:
    X, y = clusters()
    pool = np.array([[-6.0, 0.0], [0.0, 0.0], [6.0, 0.0]])
    for strategy in ("uncertainty", "margin", "entropy", "density"):
        scores = informativeness(strategy, LogisticRegression(), X, y, pool).scores
        assert scores.argmax() == 1, strategy


def test_committee_members_see_every_class_of_a_rare_label(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y = clusters(rows=60)
    y = np.zeros(60, dtype=int)
    y[7] = 1  # one row of the second class: most bootstrap samples lack it
    monkeypatch.setattr(sampling, "BOOTSTRAP_TRIES", 0)
    found = informativeness("committee", LogisticRegression(), X, y, X[:5], random_state=0)
    assert found.scores.shape == (5,)
    rows = sampling._bootstrap(y, np.random.default_rng(0))
    assert set(y[rows]) == {0, 1}


def test_an_empty_pool_gets_no_scores() -> None:
    X, y = clusters()
    found = informativeness("margin", LogisticRegression(), X, y, np.zeros((0, 2)))
    assert found.scores.shape == (0,)
    assert found.proba.shape == (0, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": "qbc"}, "unknown strategy 'qbc'"),
        ({"X_labeled": np.zeros((0, 2)), "y_labeled": np.zeros(0)}, "no row is labeled"),
        ({"y_labeled": np.ones(100)}, "one class only"),
        ({"X_pool": np.zeros((3, 5))}, "2 features but the pool rows 5"),
        ({"y_labeled": np.ones(7)}, "100 labeled rows but labels"),
        ({"X_pool": np.zeros(3)}, "must be matrices"),
        ({"committee_size": 1}, "two members"),
        ({"density_beta": -1.0}, "density_beta"),
    ],
)
def test_bad_input_is_refused_clearly(change: dict[str, object], message: str) -> None:
    X, y = clusters()
    arguments: dict[str, object] = {
        "strategy": "margin",
        "estimator": LogisticRegression(),
        "X_labeled": X,
        "y_labeled": y,
        "X_pool": X[:3],
    }
    arguments.update(change)
    with pytest.raises(BadRequest, match=message):
        informativeness(**arguments)  # type: ignore[arg-type]


def test_priorities_serve_the_most_informative_first_and_keep_the_holdout() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    holdout = np.array([False, False, True, False, False])
    drawn = np.array([0.11, 0.22, 0.33, 0.44, 0.55])
    result = priorities(scores, holdout, drawn)
    assert result[2] == 0.33
    assert result[[1, 3, 4, 0]] == pytest.approx([0.125, 0.375, 0.625, 0.875])
    assert list(np.argsort(result)) == [1, 2, 3, 4, 0]


def test_priorities_break_ties_by_the_random_priority() -> None:
    result = priorities(np.ones(3), np.zeros(3, dtype=bool), np.array([0.9, 0.1, 0.5]))
    assert list(np.argsort(result)) == [1, 2, 0]


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.floats(-10, 10) | st.just(0.0),
            st.booleans(),
            st.floats(0.0, 1.0, exclude_max=True),
        ),
        min_size=1,
        max_size=60,
    ),
    st.floats(0.0, 1.0),
)
def test_priorities_spread_the_informative_tasks_evenly(
    tasks: list[tuple[float, bool, float]], cut: float
) -> None:
    scores, holdout, drawn = (np.array(column) for column in zip(*tasks, strict=True))
    holdout = holdout.astype(bool)
    result = priorities(scores, holdout, drawn)
    assert np.all((result >= 0) & (result < 1))
    assert np.array_equal(result[holdout], drawn[holdout])
    asked = ~holdout
    # Any prefix of the served order, the tasks below `cut`, holds cut x n of them.
    assert abs(np.sum(result[asked] < cut) - cut * asked.sum()) <= 0.5 + 1e-9
    order = np.argsort(result[asked])
    assert np.all(np.diff(scores[asked][order]) <= 0)  # highest score served first


def test_every_prefix_of_the_served_order_holds_the_holdout_fraction() -> None:
    rng = np.random.default_rng(7)
    ids = np.arange(10_000)
    holdout = np.array([is_holdout(int(task), 0.2, seed="campaign 3") for task in ids])
    result = priorities(rng.random(len(ids)) ** 3, holdout, rng.random(len(ids)))
    served = holdout[np.argsort(result)]
    for prefix in (250, 500, 1000, 2500, 5000, 10_000):
        assert served[:prefix].mean() == pytest.approx(holdout.mean(), abs=0.05), prefix


def test_priorities_refuse_mismatched_or_out_of_range_input() -> None:
    with pytest.raises(BadRequest, match="one length"):
        priorities(np.ones(3), np.zeros(2, dtype=bool), np.zeros(3))
    with pytest.raises(BadRequest, match=r"\[0, 1\)"):
        priorities(np.ones(2), np.zeros(2, dtype=bool), np.array([0.5, 1.0]))


def test_is_holdout_draws_the_fraction_and_the_same_tasks_every_time() -> None:
    chosen = [is_holdout(task, 0.1, seed="s") for task in range(10_000)]
    assert 0.09 < sum(chosen) / len(chosen) < 0.11
    assert chosen == [is_holdout(task, 0.1, seed="s") for task in range(10_000)]
    other = [is_holdout(task, 0.1, seed="t") for task in range(10_000)]
    assert other != chosen
    assert not any(is_holdout(task, 0.0) for task in range(1000))
    assert all(is_holdout(task, 1.0) for task in range(1000))
    with pytest.raises(BadRequest, match="fraction"):
        is_holdout(1, 1.5)


def test_prediction_agreement_is_cohens_kappa() -> None:
    assert prediction_agreement([0, 1, 0, 1], [0, 1, 0, 1]) == 1.0
    assert prediction_agreement([0, 1, 0, 1], [0, 1, 1, 1]) == pytest.approx(0.5)
    assert prediction_agreement([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    assert prediction_agreement(["a", "a"], ["a", "a"]) == 1.0
    assert prediction_agreement([0, 0], [1, 1]) == 0.0
    rng = np.random.default_rng(8)
    a, b = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    b[:120] = a[:120]
    assert prediction_agreement(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_prediction_agreement_refuses_mismatched_predictions() -> None:
    with pytest.raises(BadRequest, match="cannot be compared"):
        prediction_agreement([0, 1], [0, 1, 1])
    with pytest.raises(BadRequest, match="no predictions"):
        prediction_agreement([], [])


def test_should_stop_once_the_last_window_agreements_reach_the_threshold() -> None:
    assert should_stop([0.5, 0.995, 0.999, 0.991])
    assert not should_stop([0.999, 0.98, 0.999, 0.999])
    assert not should_stop([0.999, 0.999])
    assert not should_stop([])
    assert should_stop([0.5, 0.95], threshold=0.9, window=1)
    assert not should_stop([0.95, 0.5], threshold=0.9, window=1)
    assert should_stop([0.99, 0.99, 0.99])
    with pytest.raises(BadRequest, match="window"):
        should_stop([1.0], window=0)
