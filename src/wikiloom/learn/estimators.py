"""The classifier wikiloom trains: gradient boosting, calibrated, rescaled to population rates."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from wikiloom.learn.statistics import label_key

Array = npt.NDArray[np.float64]
BACKENDS = ("histgb", "lightgbm")
CALIBRATIONS = ("isotonic", "sigmoid")
EPSILON = 1e-6


@functools.cache
def _controller() -> ThreadpoolController:
    """The process's thread-pool controller (scanning the loaded libraries costs 1 ms)."""
    return ThreadpoolController()


def one_thread() -> Any:
    """A context in which native thread pools (OpenMP, BLAS) use one thread."""
    return _controller().limit(limits=1)


class WikiClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient boosting with cross-fitted probability calibration and prior correction.

    `fit` scores every training row out of fold (`cv` stratified folds), learns the
    calibration from those scores, then fits the booster on all rows: `cv` + 1 fits, one
    thread each. The out-of-fold probabilities stay available through
    `cross_validated_proba`, calibrated without seeing their own fold, for evaluation.

    Parameters
    ----------
    learning_rate : float, default=0.02
        Shrinkage of each boosting step.
    max_iter : int, default=300
        Boosting iterations (trees per class).
    max_leaf_nodes : int, default=31
        Leaves per tree.
    max_depth : int or None, default=4
        Depth limit of each tree.
    min_samples_leaf : int, default=50
        Rows a leaf needs at least.
    l2_regularization : float, default=5.0
        L2 penalty on leaf values. The defaults won 5-fold cross-validation on the
        editquality enwiki training split among 48 settings (bench/training.py).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes while boosting (ORES's `--label-weight`); the calibration,
        learned from unweighted labels, takes their bias out of the probabilities again.
    calibration : {"sigmoid", "isotonic"} or None, default="sigmoid"
        How out-of-fold scores are mapped to probabilities; None keeps the booster's.
        Sigmoid (Platt) keeps the order of the scores; isotonic ties them in steps, which
        lowered PR-AUC by 0.03 on the editquality data.
    cv : int, default=5
        Folds of the out-of-fold scores (fewer when a class has fewer rows).
    population_rates : dict or None, default=None
        The rate of each class in the population the model will score; probabilities are
        rescaled from the training sample's rates to these (Bayes' rule on the priors).
    backend : {"histgb", "lightgbm"}, default="histgb"
        scikit-learn's HistGradientBoosting, or LightGBM (the `lightgbm` extra).
    random_state : int, default=0
        Seed of the folds and the booster: the same seed gives the same model.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.
    estimator_ : estimator
        The booster fitted on all rows.
    calibrators_ : list
        One calibrator per class (one for both classes of a binary problem), or empty.
    sample_rates_ : ndarray
        Each class's (weighted) rate in the training sample.
    oof_proba_ : ndarray of shape (n_samples, n_classes)
        The uncalibrated out-of-fold probabilities of the training rows.
    oof_folds_ : ndarray of shape (n_samples,)
        The fold each training row was scored in.
    n_iter_ : int
        Boosting iterations of the final booster.
    oof_codes_ : ndarray of shape (n_samples,)
        Each training row's class, as an index into `classes_`. The three `oof_` attributes
        are dropped by `forget_training`.
    """

    def __init__(
        self,
        learning_rate: float = 0.02,
        max_iter: int = 300,
        max_leaf_nodes: int = 31,
        max_depth: int | None = 4,
        min_samples_leaf: int = 50,
        l2_regularization: float = 5.0,
        class_weight: Mapping[Any, float] | str | None = None,
        calibration: str | None = "sigmoid",
        cv: int = 5,
        population_rates: Mapping[Any, float] | None = None,
        backend: str = "histgb",
        random_state: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.calibration = calibration
        self.cv = cv
        self.population_rates = population_rates
        self.backend = backend
        self.random_state = random_state

    def _booster(self) -> Any:
        """A fresh, unfitted booster of the chosen backend."""
        if self.backend == "histgb":
            return HistGradientBoostingClassifier(
                learning_rate=self.learning_rate,
                max_iter=self.max_iter,
                max_leaf_nodes=self.max_leaf_nodes,
                max_depth=self.max_depth,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                class_weight=self.class_weight,
                early_stopping=False,
                random_state=self.random_state,
            )
        if self.backend == "lightgbm":
            try:
                from lightgbm import LGBMClassifier
            except ImportError as error:
                raise ValueError(
                    "backend='lightgbm' needs LightGBM: pip install 'wikiloom[lightgbm]'"
                ) from error
            return LGBMClassifier(
                learning_rate=self.learning_rate,
                n_estimators=self.max_iter,
                num_leaves=self.max_leaf_nodes,
                max_depth=-1 if self.max_depth is None else self.max_depth,
                min_child_samples=self.min_samples_leaf,
                reg_lambda=self.l2_regularization,
                class_weight=self.class_weight,
                random_state=self.random_state,
                n_jobs=1,
                verbose=-1,
            )
        raise ValueError(f"backend must be one of {BACKENDS}, not {self.backend!r}")

    def fit(self, X: Any, y: Any, sample_weight: npt.ArrayLike | None = None) -> WikiClassifier:
        """Score the rows out of fold, learn the calibration, then boost on all rows."""
        if self.calibration not in (*CALIBRATIONS, None):
            raise ValueError(f"calibration must be one of {CALIBRATIONS} or None")
        X, y = validate_data(self, X, y, ensure_all_finite=False)
        self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"training needs two classes at least ({len(self.classes_)} class in y)"
            )
        codes = np.searchsorted(self.classes_, y)
        weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        totals = np.bincount(codes, weights=weights, minlength=len(self.classes_))
        if not totals.sum() > 0:
            raise ValueError("the sample weights sum to zero")
        self.sample_rates_ = totals / totals.sum()
        folds = min(self.cv, int(np.bincount(codes).min()))
        self.oof_codes_ = codes
        # Unweighted fits when no weights were given: with weights, HistGradientBoosting bins
        # by weighted percentiles, about four times slower for the same model.
        boost_weights = None if sample_weight is None else weights
        with one_thread():
            self.oof_proba_, self.oof_folds_ = self._out_of_fold(X, y, boost_weights, folds)
            self.calibrators_ = (
                self._calibrators(self.oof_proba_, codes) if self.calibration and folds >= 2 else []
            )
            self.estimator_ = self._booster().fit(X, y, sample_weight=boost_weights)
        self.n_iter_ = int(getattr(self.estimator_, "n_iter_", self.max_iter))
        return self

    def _out_of_fold(
        self, X: Array, y: Any, weights: Array | None, folds: int
    ) -> tuple[Array, npt.NDArray[np.int64]]:
        """Each row's probabilities from a booster that did not see it, and its fold."""
        proba = np.zeros((len(y), len(self.classes_)))
        fold_of = np.full(len(y), -1, dtype=np.int64)
        if folds < 2:
            return proba, fold_of
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
        for fold, (train, test) in enumerate(splitter.split(X, y)):
            fold_weights = None if weights is None else weights[train]
            booster = clone(self._booster()).fit(X[train], y[train], sample_weight=fold_weights)
            columns = np.searchsorted(self.classes_, booster.classes_)
            proba[np.ix_(test, columns)] = booster.predict_proba(X[test])
            fold_of[test] = fold
        return proba, fold_of

    def _calibrators(self, proba: Array, codes: npt.NDArray[np.int64]) -> list[Any]:
        """Fit one calibrator per class (one for a binary problem) on out-of-fold scores."""
        columns = [1] if len(self.classes_) == 2 else range(len(self.classes_))
        fitted = []
        for column in columns:
            target = (codes == column).astype(float)
            if self.calibration == "isotonic":
                calibrator: Any = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                calibrator.fit(proba[:, column], target)
            else:
                calibrator = LogisticRegression(C=1e6)
                calibrator.fit(_logit(proba[:, column])[:, None], target)
            fitted.append(calibrator)
        return fitted

    def _calibrate(self, proba: Array, calibrators: list[Any]) -> Array:
        """Map booster probabilities through the calibrators and renormalise."""
        if not calibrators:
            return proba
        if len(self.classes_) == 2:
            positive = _apply(calibrators[0], proba[:, 1])
            return np.column_stack([1.0 - positive, positive])
        out = np.column_stack(
            [_apply(calibrator, proba[:, k]) for k, calibrator in enumerate(calibrators)]
        )
        return _normalised(out)

    def _rescale(self, proba: Array) -> Array:
        """Move probabilities from the sample's class rates to the population's."""
        if not self.population_rates:
            return proba
        given = {label_key(label): float(rate) for label, rate in self.population_rates.items()}
        missing = [c for c in self.classes_ if label_key(c) not in given]
        if missing:
            raise ValueError(f"population_rates lacks a rate for {missing}")
        rates = np.array([given[label_key(c)] for c in self.classes_], float)
        return _normalised(proba * (rates / np.maximum(self.sample_rates_, EPSILON)))

    def predict_proba(self, X: Any) -> Array:
        """Calibrated probabilities of each class, at the population's rates."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite=False)
        with one_thread():
            raw = self.estimator_.predict_proba(X)
        return self._rescale(self._calibrate(raw, self.calibrators_))

    def predict(self, X: Any) -> Any:
        """The most probable class of each row."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def cross_validated_proba(self) -> Array:
        """The training rows' out-of-fold probabilities, calibrated without their own fold.

        For each fold, the calibration is learned from the other folds' scores, so the
        figures computed from these are honest estimates of the fitted model's.
        """
        check_is_fitted(self)
        if not hasattr(self, "oof_proba_"):
            raise ValueError("the out-of-fold scores were dropped (forget_training)")
        proba = self.oof_proba_.copy()
        if self.calibration and self.calibrators_:
            for fold in np.unique(self.oof_folds_):
                inside = self.oof_folds_ == fold
                calibrators = self._calibrators(self.oof_proba_[~inside], self.oof_codes_[~inside])
                proba[inside] = self._calibrate(self.oof_proba_[inside], calibrators)
        return self._rescale(proba)

    def forget_training(self) -> WikiClassifier:
        """Drop the training rows' out-of-fold scores and labels (before saving the model)."""
        for name in ("oof_proba_", "oof_folds_", "oof_codes_"):
            self.__dict__.pop(name, None)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _apply(calibrator: Any, scores: Array) -> Array:
    """One calibrator's probabilities for one column of scores."""
    if isinstance(calibrator, IsotonicRegression):
        return np.asarray(calibrator.predict(scores), dtype=float)
    return np.asarray(calibrator.predict_proba(_logit(scores)[:, None])[:, 1], dtype=float)


def _logit(p: Array) -> Array:
    """Log-odds, with probabilities kept off 0 and 1."""
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=float)


def _normalised(proba: Array) -> Array:
    """Rows scaled to sum to 1 (a row of zeros becomes uniform)."""
    totals = proba.sum(axis=1, keepdims=True)
    uniform = np.full_like(proba, 1.0 / proba.shape[1])
    return np.where(totals > 0, proba / np.where(totals > 0, totals, 1.0), uniform)
