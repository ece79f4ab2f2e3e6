"""Training: a dataset becomes a fitted classifier, its statistics and its provenance."""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score

from wikiloom.errors import BadRequest
from wikiloom.learn.datasets import Dataset
from wikiloom.learn.estimators import WikiClassifier
from wikiloom.learn.registry import TrainedModel
from wikiloom.learn.statistics import classification_statistics, extra_statistics, label_key
from wikiloom.learn.thresholds import ThresholdQuery

#: Estimator parameters a caller may set (`-p name=value` on the command line).
PARAMETERS = frozenset(WikiClassifier().get_params())
#: Feature columns that split the evaluation data into groups whose figures a card compares.
FACTORS: Mapping[str, Mapping[float, str]] = {
    "revision.user.is_anon": {0.0: "registered editors", 1.0: "anonymous (IP) editors"},
}
#: Scores are rounded to 3 digits for the threshold tables, as ORES does (at most 1,001
#: entries a label).
THRESHOLD_DIGITS = 3
#: The threshold at which group figures are compared: ORES's "maybe bad".
FACTOR_THRESHOLD = "maximum filter_rate @ recall >= 0.9"


@dataclass(frozen=True)
class TrainingOptions:
    """How to train: estimator parameters, the seed, folds, priors and class weights."""

    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    folds: int = 5
    population_rates: Mapping[Any, float] | None = None
    class_weight: Mapping[Any, float] | None = None


def _estimator(options: TrainingOptions, labels: list[Any]) -> WikiClassifier:
    """The classifier the options describe, its rates and weights keyed by real labels."""
    unknown = sorted(set(options.params) - PARAMETERS)
    if unknown:
        raise BadRequest(f"unknown estimator parameters {unknown}; known: {sorted(PARAMETERS)}")
    if options.folds < 2:
        raise BadRequest(f"cross-validation needs 2 folds at least, not {options.folds}")
    by_key = {label_key(label): label for label in labels}

    def keyed(values: Mapping[Any, float] | None, what: str) -> dict[Any, float] | None:
        if values is None:
            return None
        out = {}
        for key, value in values.items():
            if label_key(key) not in by_key:
                raise BadRequest(f"{what} names {key!r}, which is not a label ({sorted(by_key)})")
            out[by_key[label_key(key)]] = float(value)
        return out

    rates = keyed(options.population_rates, "a population rate")
    if rates is not None:
        if set(rates) != set(labels):
            raise BadRequest(f"give a population rate for every label: {sorted(by_key)}")
        if any(rate <= 0 for rate in rates.values()) or abs(sum(rates.values()) - 1) > 1e-6:
            raise BadRequest("population rates are positive and sum to 1")
    params = {
        **dict(options.params),
        "random_state": options.seed,
        "cv": options.folds,
        "population_rates": rates,
    }
    if options.class_weight is not None:
        params["class_weight"] = keyed(options.class_weight, "a label weight")
    return WikiClassifier(**params)


def environment() -> dict[str, str | None]:
    """The software a model was trained with."""
    versions = {
        name: _version(name) for name in ("wikiloom", "scikit-learn", "numpy", "scipy", "skops")
    }
    return {
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def train(
    dataset: Dataset,
    options: TrainingOptions | None = None,
    *,
    evaluate_on: Dataset | None = None,
    feature_set: tuple[str, int] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> TrainedModel:
    """Fit a classifier on a dataset and measure it, on `evaluate_on` or by cross-validation.

    The statistics are ORES's `model_info` tree for the population (with population
    rates) plus `extra` (exact AUCs, Brier score, log loss, calibration error and its
    reliability bins) and `evaluation` (how they were measured).
    """
    options = options or TrainingOptions()
    labels = sorted(set(dataset.y.tolist()), key=label_key)
    if len(labels) < 2:
        raise BadRequest(f"training needs two labels at least; the data has only {labels}")
    estimator = _estimator(options, labels)
    started = time.perf_counter()
    estimator.fit(dataset.X, dataset.y)
    seconds = time.perf_counter() - started
    if evaluate_on is not None:
        unseen = sorted(set(evaluate_on.y.tolist()) - set(labels), key=label_key)
        if unseen:
            raise BadRequest(f"the evaluation data has labels the training data lacks: {unseen}")
        truth = evaluate_on.y
        X = evaluate_on.columns(dataset.features)
        proba = estimator.predict_proba(X)
        evaluation: dict[str, Any] = {"method": "holdout", **dict(evaluate_on.source)}
    else:
        truth, X = dataset.y, dataset.X
        proba = estimator.cross_validated_proba()
        evaluation = {"method": "cross-validation", "folds": int(np.max(estimator.oof_folds_)) + 1}
    estimator.forget_training()
    classes = list(estimator.classes_.tolist())
    rates = estimator.population_rates
    statistics = classification_statistics(
        truth, proba, classes, population_rates=rates, threshold_ndigits=THRESHOLD_DIGITS
    )
    statistics["extra"] = extra_statistics(truth, proba, classes, population_rates=rates)
    statistics["evaluation"] = evaluation
    statistics["factors"] = factor_statistics(dataset.features, X, truth, proba, statistics)
    return TrainedModel(
        estimator=estimator,
        features=dataset.features,
        labels=classes,
        estimator_info={
            "type": "WikiClassifier",
            "backend": estimator.backend,
            "params": _jsonable(estimator.get_params()),
            "environment": environment(),
            "reference": reference_values(dataset.X),
        },
        statistics=statistics,
        provenance={
            **dict(provenance or {}),
            "training_data": dict(dataset.source),
            "observations": len(dataset),
            "label_counts": {label_key(label): int(np.sum(dataset.y == label)) for label in labels},
            "seed": options.seed,
            "training_seconds": round(seconds, 3),
        },
        feature_set=None if feature_set is None else feature_set[0],
        feature_set_version=None if feature_set is None else feature_set[1],
    )


def factor_statistics(
    features: Sequence[str],
    X: npt.NDArray[np.float64],
    truth: npt.NDArray[Any],
    proba: npt.NDArray[np.float64],
    statistics: Mapping[str, Any],
) -> dict[str, Any]:
    """Figures of a binary model per group of editors (anonymous or not), for its card.

    Per group: its size, its rate of the positive label, ROC-AUC, and the share flagged,
    recall and false-positive rate at the `FACTOR_THRESHOLD` of the whole evaluation data.
    """
    table = statistics.get("thresholds", {}).get("true")
    if table is None or set(statistics["thresholds"]) != {"true", "false"}:
        return {}
    chosen = ThresholdQuery.parse(FACTOR_THRESHOLD).evaluate(table)
    positive = np.asarray(truth, dtype=bool)
    scores = proba[:, 1]
    out: dict[str, Any] = {}
    for column, groups in FACTORS.items():
        if column not in features:
            continue
        values = X[:, list(features).index(column)]
        rows = {}
        for value, name in groups.items():
            inside = values == value
            if not inside.any():
                continue
            truths, group = positive[inside], scores[inside]
            row: dict[str, Any] = {
                "n": int(inside.sum()),
                "rate": round(float(truths.mean()), 3),
                "roc_auc": round(float(roc_auc_score(truths, group)), 3)
                if 0 < truths.sum() < len(truths)
                else None,
            }
            if chosen is not None:
                flagged = group >= chosen["threshold"]
                row["flagged"] = round(float(flagged.mean()), 3)
                row["recall"] = _share(flagged & truths, truths)
                row["fpr"] = _share(flagged & ~truths, ~truths)
            rows[name] = row
        out[column] = {
            "threshold": None if chosen is None else chosen["threshold"],
            "query": FACTOR_THRESHOLD,
            "groups": rows,
        }
    return out


def reference_values(X: npt.NDArray[np.float64]) -> list[float | None]:
    """Each feature's median over the training rows (None where all are missing).

    Explanations of scores compare a revision's values with these.
    """
    present = ~np.isnan(X)
    return [
        float(np.median(X[present[:, j], j])) if present[:, j].any() else None
        for j in range(X.shape[1])
    ]


def _share(part: npt.NDArray[np.bool_], whole: npt.NDArray[np.bool_]) -> float | None:
    """The share of `whole` that is in `part`, rounded; None for an empty whole."""
    total = int(whole.sum())
    return round(int(part.sum()) / total, 3) if total else None


def _jsonable(value: Any) -> Any:
    """Estimator parameters as JSON values (label keys as ORES writes them)."""
    if isinstance(value, Mapping):
        return {label_key(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
