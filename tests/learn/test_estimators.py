"""The classifier: scikit-learn's estimator checks, calibration, priors, seeds, one thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.estimators import WikiClassifier

SAMPLE = Path(__file__).parent.parent / "data" / "editquality" / "enwiki.reverted.sample.csv"


#: Checks that fail by design, and why.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "repeated rows land in different folds than one weighted row, so the out-of-fold "
        "calibration differs"
    ),
    "check_class_weight_classifiers": (
        "the calibration, learned from unweighted labels, takes the class weights' bias out "
        "of the probabilities on purpose"
    ),
}


@parametrize_with_checks(
    [WikiClassifier(max_iter=10, min_samples_leaf=1, cv=3)],
    expected_failed_checks=lambda _: EXPECTED_FAILURES,
)
def test_scikit_learn_estimator_checks(estimator: WikiClassifier, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def noisy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + rng.normal(scale=1.0, size=n)) > 1.2  # about 20 % positive
    return X, y


def test_the_same_seed_gives_the_same_model_and_another_seed_another() -> None:
    X, y = noisy(600)
    first = WikiClassifier(max_iter=30, random_state=3).fit(X, y).predict_proba(X)
    again = WikiClassifier(max_iter=30, random_state=3).fit(X, y).predict_proba(X)
    other = WikiClassifier(max_iter=30, random_state=4).fit(X, y).cross_validated_proba()
    assert np.array_equal(first, again)
    same = WikiClassifier(max_iter=30, random_state=3).fit(X, y).cross_validated_proba()
    assert not np.array_equal(same, other)  # other folds


def test_cross_validated_probabilities_are_out_of_fold_and_calibrated() -> None:
    X, y = noisy(2000)
    model = WikiClassifier(max_iter=50).fit(X, y)
    oof = model.cross_validated_proba()
    assert oof.shape == (2000, 2)
    assert np.allclose(oof.sum(axis=1), 1)
    assert set(np.unique(model.oof_folds_)) == {0, 1, 2, 3, 4}
    # Out of fold, the model ranks worse than on rows it saw, but far better than chance.
    seen = roc_auc_score(y, model.predict_proba(X)[:, 1])
    unseen = roc_auc_score(y, oof[:, 1])
    assert 0.7 < unseen < seen
    # Calibrated: the mean probability is the positive rate, within sampling error.
    assert abs(oof[:, 1].mean() - y.mean()) < 0.02


def test_population_rates_move_the_probabilities_to_the_population() -> None:
    X, y = noisy(2000)
    sample_rate = y.mean()
    plain = WikiClassifier(max_iter=30).fit(X, y)
    rescaled = WikiClassifier(max_iter=30, population_rates={True: 0.02, False: 0.98}).fit(X, y)
    p, q = plain.predict_proba(X)[:, 1], rescaled.predict_proba(X)[:, 1]
    # Bayes' rule on the priors: odds scale by (0.02 / s) / (0.98 / (1 - s)).
    factor = (0.02 / sample_rate) / (0.98 / (1 - sample_rate))
    assert np.allclose(q / (1 - q), factor * p / (1 - p), rtol=1e-6)
    assert abs(q.mean() - 0.02) < 0.02
    assert np.array_equal(np.argsort(p, kind="stable"), np.argsort(q, kind="stable"))


def test_isotonic_sigmoid_and_no_calibration_and_three_classes() -> None:
    X, y = noisy(900)
    for calibration in ("isotonic", "sigmoid", None):
        model = WikiClassifier(max_iter=20, calibration=calibration).fit(X, y)
        proba = model.predict_proba(X)
        assert proba.shape == (900, 2)
        assert np.allclose(proba.sum(axis=1), 1)
    classes = np.array(["Stub", "Start", "C"])[np.digitize(X[:, 0], [-0.5, 0.5])]
    model = WikiClassifier(max_iter=20).fit(X, classes)
    assert list(model.classes_) == ["C", "Start", "Stub"]
    proba = model.cross_validated_proba()
    assert proba.shape == (900, 3)
    assert np.allclose(proba.sum(axis=1), 1)
    assert (model.predict(X) == classes).mean() > 0.8


def test_bad_settings_are_refused() -> None:
    X, y = noisy(100)
    with pytest.raises(ValueError, match="calibration must be one of"):
        WikiClassifier(calibration="magic").fit(X, y)
    with pytest.raises(ValueError, match="backend must be one of"):
        WikiClassifier(backend="xgboost").fit(X, y)
    with pytest.raises(ValueError, match="two classes at least"):
        WikiClassifier().fit(X, np.ones(100, dtype=bool))
    with pytest.raises(ValueError, match="population_rates lacks a rate"):
        WikiClassifier(max_iter=5, population_rates={True: 1.0}).fit(X, y).predict_proba(X)


def test_forgetting_the_training_rows_keeps_the_model() -> None:
    dataset = read_dataset(SAMPLE, "reverted")
    model = WikiClassifier(max_iter=50).fit(dataset.X, dataset.y)
    before = model.predict_proba(dataset.X)
    model.forget_training()
    assert not hasattr(model, "oof_proba_")
    assert np.array_equal(model.predict_proba(dataset.X), before)
    with pytest.raises(ValueError, match="dropped"):
        model.cross_validated_proba()
