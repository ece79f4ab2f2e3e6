"""ORES-compatible evaluation statistics: hand-computed cases, revscoring parity, properties."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from wikiloom.errors import BadRequest
from wikiloom.learn.statistics import (
    FIELDS,
    classification_statistics,
    extra_statistics,
    label_key,
    ores_round,
    threshold_table,
)

# The 10-observation binary example. Predictions are the argmax, i.e. true iff p >= 0.5:
#   obs   1    2    3    4    5    6    7    8    9    10
#   y     T    T    T    T    F    F    F    F    F    F
#   p    .9   .8   .6   .3   .7   .4   .2   .2   .1   .05
#   pred  T    T    T    F    T    F    F    F    F    F
# Label "true":  tp = 3 (1-3), fn = 1 (4), fp = 1 (5), tn = 5 (6-10).
# Label "false": tp = 5, fn = 1 (5), fp = 1 (4), tn = 3.
Y10 = [True] * 4 + [False] * 6
P10 = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.2, 0.1, 0.05])
PROBA10 = np.column_stack([P10, 1 - P10])
BINARY = [True, False]


def stats10(**kwargs: Any) -> dict[str, Any]:
    return classification_statistics(Y10, PROBA10, BINARY, **kwargs)


def test_hand_computed_binary_example() -> None:
    tree = stats10()
    assert tree["counts"] == {
        "n": 10,
        "labels": {"true": 4, "false": 6},
        "predictions": {"true": {"true": 3, "false": 1}, "false": {"true": 1, "false": 5}},
    }
    assert tree["rates"] == {
        "sample": {"true": 0.4, "false": 0.6},
        "population": {"true": 0.4, "false": 0.6},  # no population rates: the sample's
    }
    # match_rate: true 4/10, false 6/10; micro weights by trues (4 and 6): (.4*4 + .6*6)/10.
    assert tree["match_rate"] == {
        "micro": 0.52,
        "macro": 0.5,
        "labels": {"true": 0.4, "false": 0.6},
    }
    assert tree["filter_rate"] == {
        "micro": 0.48,
        "macro": 0.5,
        "labels": {"true": 0.6, "false": 0.4},
    }
    # precision: true 3/(3+1) = .75, false 5/(5+1) = .833; micro (.75*4 + 5/6*6)/10 = .8,
    # macro (.75 + .8333)/2 = .79167. recall: true 3/4, false 5/6: the same numbers.
    for name in ("precision", "recall", "f1"):
        assert tree[name] == {
            "micro": 0.8,
            "macro": 0.792,
            "labels": {"true": 0.75, "false": 0.833},
        }
    # !precision (NPV): true 5/(5+1), false 3/(3+1); !recall (specificity): true 5/6, false 3/4.
    # micro (5/6*4 + .75*6)/10 = .78333.
    for name in ("!precision", "!recall", "!f1"):
        assert tree[name] == {
            "micro": 0.783,
            "macro": 0.792,
            "labels": {"true": 0.833, "false": 0.75},
        }
    # accuracy is (tp + tn)/n = 8/10 for both labels; fpr true 1/6, false 1/4,
    # micro (1/6*4 + 1/4*6)/10 = .21667, macro (1/6 + 1/4)/2 = .20833.
    assert tree["accuracy"] == {"micro": 0.8, "macro": 0.8, "labels": {"true": 0.8, "false": 0.8}}
    assert tree["fpr"] == {
        "micro": 0.217,
        "macro": 0.208,
        "labels": {"true": 0.167, "false": 0.25},
    }


def test_hand_computed_threshold_table() -> None:
    table = stats10()["thresholds"]["true"]
    # One entry per distinct score (0.2 occurs twice), ascending.
    assert [e["threshold"] for e in table] == [0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    assert list(table[0]) == ["threshold", *FIELDS]
    # t = 0.05: everything predicted true, so no negatives predicted: !precision undefined.
    assert table[0]["match_rate"] == 1.0
    assert table[0]["precision"] == 0.4
    assert table[0]["recall"] == 1.0
    assert table[0]["fpr"] == 1.0
    assert table[0]["!precision"] is None
    assert table[0]["!f1"] is None
    # t = 0.6: {.6, .7, .8, .9}: tp 3, fp 1, fn 1, tn 5, the argmax predictions above.
    by_threshold = {e["threshold"]: e for e in table}
    assert by_threshold[0.6] == {
        "threshold": 0.6,
        "match_rate": 0.4,
        "filter_rate": 0.6,
        "precision": 0.75,
        "!precision": 0.833,
        "recall": 0.75,
        "!recall": 0.833,
        "accuracy": 0.8,
        "fpr": 0.167,
        "f1": 0.75,
        "!f1": 0.833,
    }
    # t = 0.8: {.8, .9}, both true: precision 1, recall 2/4.
    assert (by_threshold[0.8]["precision"], by_threshold[0.8]["recall"]) == (1.0, 0.5)


def test_population_rates_rescale_by_hand() -> None:
    tree = stats10(population_rates={True: 0.2, False: 0.8})
    # Label true: observed rate .4, population .2. Positives scale by .2/.4 and negatives by
    # .8/.6: tp 3 -> 1.5, fn 1 -> .5, fp 1 -> 1.3333, tn 5 -> 6.6667 (n stays 10).
    # match_rate (1.5 + 1.3333)/10 = .28333; precision 1.5/2.8333 = .52941;
    # recall 1.5/2 = .75 and fpr 1.3333/8 = .16667 do not change; accuracy 8.1667/10;
    # !precision 6.6667/7.1667 = .93023; f1 2 * .52941 * .75 / 1.27941 = .62069.
    # Label false: observed .6, population .8: tp 5 -> 6.6667, fn 1 -> 1.3333, tn 3 -> 1.5,
    # fp 1 -> .5: precision 6.6667/7.1667 = .93023, match_rate .71667, fpr .5/2 = .25.
    # micro weights are the rescaled trues, 2 and 8: precision (.52941*2 + .93023*8)/10 = .85007.
    assert tree["counts"]["labels"] == {"true": 4, "false": 6}  # counts stay raw
    assert tree["rates"] == {
        "sample": {"true": 0.4, "false": 0.6},
        "population": {"true": 0.2, "false": 0.8},
    }
    assert tree["match_rate"]["labels"] == {"true": 0.283, "false": 0.717}
    assert tree["precision"] == {
        "micro": 0.85,
        "macro": 0.73,
        "labels": {"true": 0.529, "false": 0.93},
    }
    assert tree["recall"]["labels"] == {"true": 0.75, "false": 0.833}
    assert tree["fpr"]["labels"] == {"true": 0.167, "false": 0.25}
    assert tree["accuracy"]["labels"] == {"true": 0.817, "false": 0.817}
    assert tree["!precision"]["labels"] == {"true": 0.93, "false": 0.529}
    assert tree["f1"]["labels"]["true"] == 0.621
    # The same rescaling applies at every threshold: t = .6 is the argmax row above.
    row = next(e for e in tree["thresholds"]["true"] if e["threshold"] == 0.6)
    assert (row["match_rate"], row["precision"], row["recall"]) == (0.283, 0.529, 0.75)


def test_three_class_example() -> None:
    # y = A A B B C C C; predictions (argmax) A B B C C A C.
    labels = ["A", "B", "C"]
    y = ["A", "A", "B", "B", "C", "C", "C"]
    proba = [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.3, 0.5],
        [0.1, 0.2, 0.7],
        [0.5, 0.1, 0.4],
        [0.1, 0.1, 0.8],
    ]
    tree = classification_statistics(y, proba, labels)
    assert tree["counts"]["predictions"] == {
        "A": {"A": 1, "B": 1, "C": 0},
        "B": {"A": 0, "B": 1, "C": 1},
        "C": {"A": 1, "B": 0, "C": 2},
    }
    # One-vs-rest: A and B have tp 1, fn 1, fp 1, tn 4; C has tp 2, fn 1, fp 1, tn 3.
    assert tree["precision"]["labels"] == {"A": 0.5, "B": 0.5, "C": 0.667}
    assert tree["match_rate"]["labels"] == {"A": 0.286, "B": 0.286, "C": 0.429}
    assert tree["fpr"]["labels"] == {"A": 0.2, "B": 0.2, "C": 0.25}
    # ORES's per-label accuracy is one-vs-rest ((tp + tn)/n = 5/7), not the overall 4/7;
    # micro recall is the overall accuracy, (.5*2 + .5*2 + 2/3*3)/7 = 4/7.
    assert tree["accuracy"]["labels"] == {"A": 0.714, "B": 0.714, "C": 0.714}
    assert tree["recall"]["micro"] == 0.571
    assert tree["recall"]["macro"] == 0.556  # (.5 + .5 + .6667)/3
    assert set(tree["thresholds"]) == {"A", "B", "C"}
    assert [e["threshold"] for e in tree["thresholds"]["C"]] == [0.1, 0.4, 0.5, 0.7, 0.8]


# revscoring's own test data (revscoring/scoring/statistics/classification/tests/
# test_classification.py) and the values it asserts for them.
POOL = [
    (i / 100, i / 100 >= 0.5, not ((i < 50 and i % 10 != 3) or i % 10 == 5)) for i in range(101)
] + [(i / 100, i / 100 >= 0.5, False) for i in range(51)] * 39
SKEWED = [o for o in POOL if o[2]][:51] + [o for o in POOL if not o[2]][:1949]


def test_matches_revscorings_own_expectations() -> None:
    p = np.array([o[0] for o in SKEWED])
    tree = classification_statistics(
        [o[2] for o in SKEWED],
        np.column_stack([p, 1 - p]),
        BINARY,
        predictions=[o[1] for o in SKEWED],
        population_rates={True: 0.05, False: 0.95},
    )
    assert tree["counts"]["n"] == 2000
    assert tree["counts"]["labels"]["true"] == 51
    assert tree["counts"]["predictions"]["true"]["true"] == 46
    assert tree["rates"]["sample"]["true"] == 0.026
    assert tree["rates"]["population"]["true"] == 0.05
    assert (tree["roc_auc"]["micro"], tree["roc_auc"]["macro"]) == (0.952, 0.946)
    assert (tree["pr_auc"]["micro"], tree["pr_auc"]["macro"]) == (0.988, 0.933)
    assert (tree["accuracy"]["micro"], tree["accuracy"]["macro"]) == (0.975, 0.975)


#: The statistics of ORES's production enwiki damaging 0.5.1 model (editquality
#: model_info/enwiki.damaging.md; trained with --pop-rate true=0.0342 false=0.9658).
ENWIKI_DAMAGING = {
    "match_rate": (0.913, 0.5, 0.057, 0.943),
    "filter_rate": (0.087, 0.5, 0.943, 0.057),
    "recall": (0.949, 0.768, 0.574, 0.962),
    "!recall": (0.588, 0.768, 0.962, 0.574),
    "precision": (0.963, 0.666, 0.347, 0.985),
    "!precision": (0.369, 0.666, 0.985, 0.347),
    "f1": (0.955, 0.703, 0.433, 0.973),
    "!f1": (0.451, 0.703, 0.973, 0.433),
    "accuracy": (0.949, 0.949, 0.949, 0.949),
    "fpr": (0.412, 0.232, 0.038, 0.426),
}


def test_reproduces_the_production_enwiki_damaging_statistics() -> None:
    # Its confusion matrix: true -> 429 true, 318 false; false -> 710 true, 17875 false.
    y = [True] * 747 + [False] * 18585
    p = np.array([0.9] * 429 + [0.1] * 318 + [0.9] * 710 + [0.1] * 17875)
    tree = classification_statistics(
        y, np.column_stack([p, 1 - p]), BINARY, population_rates={True: 0.0342, False: 0.9658}
    )
    assert tree["counts"]["n"] == 19332
    assert tree["rates"]["sample"] == {"true": 0.039, "false": 0.961}
    assert tree["rates"]["population"] == {"true": 0.034, "false": 0.966}
    for name, (micro, macro, true, false) in ENWIKI_DAMAGING.items():
        expected = {"micro": micro, "macro": macro, "labels": {"true": true, "false": false}}
        assert tree[name] == expected, name


#: The key set of ORES's model_info statistics for a binary model (the production model_info
#: above and the v3 response in the reference notes, section 1.4), in ORES's order.
ORES_KEYS = ["counts", "rates", "match_rate", "filter_rate", "recall", "!recall", "precision"]
ORES_KEYS += ["!precision", "f1", "!f1", "accuracy", "fpr", "roc_auc", "pr_auc", "thresholds"]
ORES_ENTRY = ["threshold", "match_rate", "filter_rate", "precision", "!precision", "recall"]
ORES_ENTRY += ["!recall", "accuracy", "fpr", "f1", "!f1"]


def test_shape_is_exactly_ores_model_info_statistics() -> None:
    tree = stats10(population_rates={True: 0.3, False: 0.7})
    assert list(tree) == ORES_KEYS
    assert list(tree["counts"]) == ["n", "labels", "predictions"]
    assert list(tree["rates"]) == ["sample", "population"]
    for name in ORES_KEYS[2:-1]:
        assert list(tree[name]) == ["micro", "macro", "labels"], name
        assert list(tree[name]["labels"]) == ["true", "false"], name
    assert list(tree["thresholds"]) == ["true", "false"]
    assert all(list(entry) == ORES_ENTRY for entry in tree["thresholds"]["false"])
    assert json.loads(json.dumps(tree, allow_nan=False)) == tree


def test_labels_are_written_as_ores_writes_them() -> None:
    assert [label_key(v) for v in (True, False, np.bool_(True), "FA", 3)] == [
        "true",
        "false",
        "true",
        "FA",
        "3",
    ]
    as_strings = classification_statistics(["true" if y else "false" for y in Y10], PROBA10, BINARY)
    assert as_strings == stats10()


def test_rounding_is_revscorings() -> None:
    assert ores_round(0.12345, 3) == 0.123
    assert ores_round(2 / 3) == 0.667
    assert ores_round(None) is None
    assert ores_round(float("nan")) is None


def test_table_keeps_the_first_score_of_each_five_digit_threshold() -> None:
    # .123451 and .123454 are both 0.12345 in the table: ORES keeps the entry of the lower
    # score, where both are predicted true (match_rate 3/4), not the one of .123454 (2/4).
    p = np.array([0.1, 0.123451, 0.123454, 0.9])
    tree = classification_statistics(
        [False, True, False, True], np.column_stack([p, 1 - p]), BINARY
    )
    table = tree["thresholds"]["true"]
    assert [e["threshold"] for e in table] == [0.1, 0.12345, 0.9]
    assert table[1]["match_rate"] == 0.75


def test_thresholds_rounded_to_three_digits_as_production_ores() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(5000)
    y = rng.random(5000) < p
    tree = classification_statistics(y, np.column_stack([p, 1 - p]), BINARY, threshold_ndigits=3)
    thresholds = [e["threshold"] for e in tree["thresholds"]["true"]]
    assert len(thresholds) <= 1001
    assert all(t == round(t, 3) for t in thresholds)


def test_sample_weight_counts_like_repeated_observations() -> None:
    weights = [2, 1, 1, 3, 1, 1, 1, 2, 1, 1]
    weighted = stats10(sample_weight=weights)
    repeated = classification_statistics(
        np.repeat(Y10, weights), np.repeat(PROBA10, weights, axis=0), BINARY
    )
    assert weighted == repeated
    assert stats10(sample_weight=[0.5] * 10)["counts"]["n"] == 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_true": [True, "maybe"], "probabilities": [[1, 0], [0, 1]]}, "'maybe' at position 1"),
        ({"probabilities": [[0.5, 0.5]]}, "shape"),
        ({"probabilities": [[1.5, -0.5], [0.5, 0.5]]}, "within [0, 1]"),
        ({"population_rates": {True: 0.2}}, "every label"),
        ({"population_rates": {True: 0.2, False: 0.2}}, "sum to 1"),
        ({"sample_weight": [1, -1]}, "non-negative"),
        ({"labels": [True, True]}, "distinct"),
    ],
)
def test_bad_inputs_are_named(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "y_true": [True, False],
        "probabilities": [[0.8, 0.2], [0.3, 0.7]],
        "labels": BINARY,
        **kwargs,
    }
    with pytest.raises(BadRequest, match=message.replace("[", r"\[")):
        classification_statistics(
            arguments.pop("y_true"), arguments.pop("probabilities"), **arguments
        )


def random_binary(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < rng.uniform(0.1, 0.9)
    y[:2] = [True, False]  # both labels present
    p = np.clip(rng.normal(0.5 + rng.uniform(0, 0.4) * (y - 0.5), 0.2), 0, 1).round(3)
    return y, p


def same(ours: float | None, theirs: float) -> bool:
    """Compare a rounded statistic with sklearn's (None is sklearn's NaN)."""
    if ours is None:
        return bool(np.isnan(theirs))
    return abs(ours - theirs) <= 5e-4 + 1e-9


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(30, 400), k=st.integers(2, 4))
def test_agrees_with_sklearn(seed: int, n: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += rng.uniform(0, 1.5)
    proba /= proba.sum(axis=1, keepdims=True)
    labels = [f"L{j}" for j in range(k)]
    y_labels = [labels[j] for j in y]
    tree = classification_statistics(y_labels, proba, labels)
    predicted = proba.argmax(axis=1)
    for name, metric in (("precision", precision_score), ("recall", recall_score)):
        per_label = metric(y, predicted, labels=range(k), average=None, zero_division=np.nan)
        for j, label in enumerate(labels):
            assert same(tree[name]["labels"][label], per_label[j]), (name, label)
        macro = metric(y, predicted, labels=range(k), average="macro", zero_division=np.nan)
        weighted = metric(y, predicted, labels=range(k), average="weighted", zero_division=np.nan)
        assert same(tree[name]["macro"], macro)
        assert same(tree[name]["micro"], weighted)  # ORES's micro is sklearn's "weighted"
    f1 = f1_score(y, predicted, labels=range(k), average=None, zero_division=np.nan)
    for j, label in enumerate(labels):
        ours = tree["f1"]["labels"][label]
        assert ours is None or abs(ours - f1[j]) <= 1e-3 or np.isnan(f1[j])
        assert abs(tree["roc_auc"]["labels"][label] - roc_auc_score(y == j, proba[:, j])) < 0.02


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(30, 400))
def test_binary_auc_close_to_sklearn_and_extra_exact(seed: int, n: int) -> None:
    y, p = random_binary(seed, n)
    proba = np.column_stack([p, 1 - p])
    tree = classification_statistics(y, proba, BINARY)
    extra = extra_statistics(y, proba, BINARY)
    assert abs(tree["roc_auc"]["labels"]["true"] - roc_auc_score(y, p)) < 0.02
    assert extra["roc_auc"]["labels"]["true"] == pytest.approx(roc_auc_score(y, p))
    assert extra["average_precision"]["labels"]["true"] == pytest.approx(
        average_precision_score(y, p)
    )
    assert extra["brier"]["labels"]["true"] == pytest.approx(brier_score_loss(y, p))
    assert extra["log_loss"] == pytest.approx(log_loss(y, p))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 300),
    rate=st.none() | st.floats(0.01, 0.99),
    weighted=st.booleans(),
)
def test_threshold_tables_are_monotone(
    seed: int, n: int, rate: float | None, weighted: bool
) -> None:
    y, p = random_binary(seed, n)
    weights = np.random.default_rng(seed).uniform(0.1, 3, n) if weighted else None
    full = threshold_table(y, p, sample_weight=weights, population_rate=rate)
    pops = None if rate is None else {True: rate, False: 1 - rate}
    tree = classification_statistics(
        y, np.column_stack([p, 1 - p]), BINARY, sample_weight=weights, population_rates=pops
    )
    for table in (full, tree["thresholds"]["true"], tree["thresholds"]["false"]):
        thresholds = [e["threshold"] for e in table]
        assert thresholds == sorted(set(thresholds))
        for name in ("match_rate", "recall", "fpr"):
            values = [e[name] for e in table]
            assert all(a >= b - 1e-12 for a, b in itertools.pairwise(values)), name
        assert table[0]["match_rate"] == 1.0
        assert table[0]["recall"] == 1.0
    assert len(full) == len(np.unique(p))


def test_extra_statistics_by_hand() -> None:
    extra = extra_statistics(Y10, PROBA10, BINARY, calibration_bins=2)
    # Bin [0, .5): p .3 .4 .2 .2 .1 .05 (one true): mean .20833, rate 1/6, gap .04167;
    # bin [.5, 1]: p .9 .8 .6 .7 (three true): mean .75, rate .75, gap 0.
    # ECE = 6/10 * .04167 = .025.
    bins = extra["reliability"]["labels"]["true"]
    assert [(b["lower"], b["upper"], b["count"]) for b in bins] == [(0, 0.5, 6), (0.5, 1, 4)]
    assert bins[0]["mean_probability"] == pytest.approx(1.25 / 6)
    assert bins[0]["rate"] == pytest.approx(1 / 6)
    assert extra["calibration_error"]["labels"]["true"] == pytest.approx(0.025)
    # Brier: squared errors .01 .04 .16 .49 .49 .16 .04 .04 .01 .0025 -> 1.4425/10.
    assert extra["brier"]["labels"]["true"] == pytest.approx(0.14425)
    assert extra["roc_auc"]["labels"]["true"] == pytest.approx(roc_auc_score(Y10, P10))
    assert "pr_auc" not in extra  # sklearn's exact PR-AUC is average_precision


def test_extra_population_rates_reweight_observations() -> None:
    extra = extra_statistics(Y10, PROBA10, BINARY, population_rates={True: 0.2, False: 0.8})
    # True observations weigh .2/.4, false ones .8/.6.
    weights = np.where(np.array(Y10), 0.5, 4 / 3)
    expected = brier_score_loss(Y10, P10, sample_weight=weights)
    assert extra["brier"]["labels"]["true"] == pytest.approx(expected)
    assert sum(b["count"] for b in extra["reliability"]["labels"]["true"]) == pytest.approx(10)


def test_twenty_thousand_distinct_scores_well_under_a_second() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(20_000) < 0.1
    p = rng.random(20_000)
    proba = np.column_stack([p, 1 - p])
    started = time.perf_counter()
    tree = classification_statistics(y, proba, BINARY, population_rates={True: 0.05, False: 0.95})
    elapsed = time.perf_counter() - started
    assert len(tree["thresholds"]["true"]) > 15_000
    assert elapsed < 1.0, elapsed
