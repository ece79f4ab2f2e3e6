"""Evaluation statistics of a classifier, in the shape and semantics of ORES ``model_info``.

`classification_statistics` builds the ``statistics`` tree revscoring computed and ORES served.
Each label is scored one-vs-rest; the prediction is the argmax of the probabilities unless
the model's own predictions are given. Population rates rescale each label's confusion
matrix to the label's population rate (``--pop-rate``): positives by ``population /
observed``, negatives by ``(1 - population) / (1 - observed)``. ``micro`` weights labels by
their (rescaled) true observations, ``macro`` does not, ``!stat`` is ``stat`` of the negated
label. ``roc_auc``/``pr_auc`` interpolate the threshold curve onto 50 evenly spaced points of
[0, 1] and apply the trapezoid rule; `extra_statistics` has sklearn's exact values and more.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wikiloom.errors import BadRequest

FloatArray = npt.NDArray[np.float64]

#: The statistics of a threshold entry, in ORES's order.
FIELDS: tuple[str, ...] = ("match_rate", "filter_rate", "precision", "!precision", "recall")
FIELDS += ("!recall", "accuracy", "fpr", "f1", "!f1")
#: The micro/macro statistics of the tree, in ORES's order.
TREE_FIELDS: tuple[str, ...] = ("match_rate", "filter_rate", "recall", "!recall", "precision")
TREE_FIELDS += ("!precision", "f1", "!f1", "accuracy", "fpr")
NDIGITS = 3
THRESHOLD_NDIGITS = 5
AUC_POINTS = 50


def label_key(label: Hashable) -> str:
    """Return the JSON key ORES writes for a label: ``true``/``false`` for booleans."""
    if isinstance(label, bool | np.bool_):
        return "true" if label else "false"
    return str(label)


def ores_round(value: float | None, ndigits: int = NDIGITS) -> float | None:
    """Round as revscoring does, ``int(round(x * 10**n)) / 10**n``; None and NaN give None."""
    if value is None or math.isnan(value):
        return None
    scale = float(10**ndigits)
    return round(value * scale) / scale


def _listed(values: FloatArray, ndigits: int | None = None) -> list[float | None]:
    """Convert an array to floats, rounded like `ores_round` if asked, NaN becoming None."""
    if ndigits is not None:
        scale = float(10**ndigits)
        values = np.rint(values * scale) / scale + 0.0
    return [None if math.isnan(v) else v for v in values.tolist()]


def _divide(top: FloatArray, bottom: FloatArray) -> FloatArray:
    """Divide elementwise, NaN where the denominator is zero."""
    out: FloatArray = np.full(np.shape(top), np.nan)
    return np.divide(top, bottom, out=out, where=bottom != 0)


def _f1(precision: FloatArray, recall: FloatArray) -> FloatArray:
    """Harmonic mean, NaN where undefined or both are zero."""
    total = precision + recall
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * ((precision * recall) / total), np.nan)


def _matrix_statistics(
    tp: FloatArray, fp: FloatArray, tn: FloatArray, fn: FloatArray, rate: float | FloatArray
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Rescale confusion counts to a population rate (NaN: none); return the fields and trues."""
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = (tp + fn) / (tp + fn + tn + fp)
        scaled = (observed > 0) & (observed < 1) & ~np.isnan(rate)
        sample_rate = np.where(scaled, observed / rate, 1.0)
        non_sample_rate = np.where(scaled, (1 - observed) / (1 - rate), 1.0)
    tp, fn = tp / sample_rate, fn / sample_rate
    tn, fp = tn / non_sample_rate, fp / non_sample_rate
    n = tp + tn + fp + fn
    trues, falses = tp + fn, fp + tn
    match_rate = _divide(tp + fp, n)
    precision, not_precision = _divide(tp, tp + fp), _divide(tn, tn + fn)
    recall, not_recall = _divide(tp, trues), _divide(tn, falses)
    accuracy, fpr = _divide(tp + tn, n), _divide(fp, falses)
    f1, not_f1 = _f1(precision, recall), _f1(not_precision, not_recall)
    values = (match_rate, 1 - match_rate, precision, not_precision, recall, not_recall)
    return dict(zip(FIELDS, (*values, accuracy, fpr, f1, not_f1), strict=True)), trues


@dataclass(frozen=True)
class _Curve:
    """One label's threshold statistics: ascending thresholds, fields, rescaled trues."""

    thresholds: FloatArray
    fields: dict[str, FloatArray]
    trues: float


def _curve(
    scores: FloatArray,
    truth: npt.NDArray[np.bool_],
    weights: FloatArray,
    rate: float,
    threshold_ndigits: int | None,
) -> _Curve:
    """Compute the statistics of "predict positive iff score >= t" at every distinct score."""
    if threshold_ndigits is not None:
        scores = np.rint(scores * 10**threshold_ndigits) / 10**threshold_ndigits
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    true_weights = np.where(truth[order], weights[order], 0.0)
    false_weights = weights[order] - true_weights
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    below_true = np.concatenate(([0.0], np.cumsum(true_weights)))
    below_false = np.concatenate(([0.0], np.cumsum(false_weights)))
    fn, tn = below_true[starts], below_false[starts]
    tp, fp = below_true[-1] - fn, below_false[-1] - tn
    fields, _ = _matrix_statistics(tp, fp, tn, fn, rate)
    n_true, n = below_true[-1], below_true[-1] + below_false[-1]
    trues = n_true if np.isnan(rate) or n_true in (0, n) else n_true * (rate / (n_true / n))
    return _Curve(ordered[starts], fields, float(trues))


def _zero_to_one_auc(x: FloatArray, y: FloatArray) -> float | None:
    """Interpolate a curve onto 50 points of [0, 1] and integrate it (revscoring's AUC)."""
    if len(x) == 0 or np.isnan(x).any() or np.isnan(y).any():
        return None
    space = np.linspace(0, 1, AUC_POINTS)
    if np.all(np.diff(x) > 0):
        interpolated = np.interp(space, x, y)
    else:
        interpolated = np.interp(space, x[::-1], y[::-1])
    area = float(np.trapezoid(interpolated, space))
    return None if np.isnan(area) else area


def _auc(curve: _Curve, kind: str) -> float | None:
    """ROC-AUC (recall over fpr) or PR-AUC (precision over recall) of a label's curve."""
    recall, precision = curve.fields["recall"], curve.fields["precision"]
    if kind == "roc_auc":
        return _zero_to_one_auc(curve.fields["fpr"], recall)
    defined = ~np.isnan(recall) & ~np.isnan(precision)
    return _zero_to_one_auc(recall[defined], precision[defined])


def _micro_macro(
    keys: Sequence[str],
    values: Sequence[float | None],
    trues: Sequence[float],
    ndigits: int | None = NDIGITS,
) -> dict[str, Any]:
    """Return ``{micro, macro, labels}``: micro weighted by trues, macro unweighted."""
    micro = macro = None
    if all(value is not None for value in values):
        known = [float(value) for value in values if value is not None]
        if sum(trues) != 0:
            micro = sum(v * t for v, t in zip(known, trues, strict=True)) / sum(trues)
        macro = sum(known) / len(known)

    def done(value: float | None) -> float | None:
        return value if ndigits is None else ores_round(value, ndigits)

    return {
        "micro": done(micro),
        "macro": done(macro),
        "labels": {key: done(value) for key, value in zip(keys, values, strict=True)},
    }


@dataclass(frozen=True)
class _Data:
    """Validated inputs: label keys, true and predicted label indexes, scores, weights."""

    keys: list[str]
    truth: npt.NDArray[np.intp]
    predicted: npt.NDArray[np.intp]
    probabilities: FloatArray
    weights: FloatArray
    rates: FloatArray
    integral: bool

    def count(self, value: float) -> float | int:
        """Return a count as an int when every weight is a whole number."""
        return round(value) if self.integral else value


def _indexes(
    values: Sequence[Hashable] | npt.ArrayLike, keys: list[str], what: str
) -> npt.NDArray[np.intp]:
    """Map labels onto their positions in `keys`, naming the first unknown one."""
    lookup = {key: i for i, key in enumerate(keys)}
    found = []
    for i, value in enumerate(np.asarray(values, dtype=object).ravel().tolist()):
        index = lookup.get(label_key(value))
        if index is None:
            raise BadRequest(f"{what} {value!r} at position {i} is not one of the labels {keys}")
        found.append(index)
    return np.asarray(found, dtype=np.intp)


def _prepare(
    y_true: Sequence[Hashable] | npt.ArrayLike,
    probabilities: npt.ArrayLike,
    labels: Sequence[Hashable],
    population_rates: Mapping[Hashable, float] | None,
    sample_weight: npt.ArrayLike | None,
    predictions: Sequence[Hashable] | npt.ArrayLike | None,
) -> _Data:
    """Validate and encode the inputs of the statistics."""
    keys = [label_key(label) for label in labels]
    if len(keys) < 2 or len(set(keys)) != len(keys):
        raise BadRequest(f"labels must be at least two distinct values, got {keys}")
    truth = _indexes(y_true, keys, "true label")
    proba = np.asarray(probabilities, dtype=np.float64)
    if proba.shape != (len(truth), len(keys)) or len(truth) == 0:
        raise BadRequest(
            f"probabilities must have shape (n, {len(keys)}) with n = {len(truth)} > 0, "
            f"got {proba.shape}"
        )
    if not np.isfinite(proba).all() or proba.min() < 0 or proba.max() > 1:
        raise BadRequest("probabilities must be finite and within [0, 1]")
    weights = np.ones(len(truth)) if sample_weight is None else np.asarray(sample_weight, float)
    if weights.shape != truth.shape or not np.isfinite(weights).all() or (weights < 0).any():
        raise BadRequest(f"sample_weight must be {len(truth)} finite non-negative numbers")
    if weights.sum() <= 0:
        raise BadRequest("sample_weight must not be all zero")
    if predictions is None:
        predicted = np.argmax(proba, axis=1).astype(np.intp)
    else:
        predicted = _indexes(predictions, keys, "prediction")
        if predicted.shape != truth.shape:
            raise BadRequest(f"predictions must hold {len(truth)} labels")
    rates = np.full(len(keys), np.nan)
    if population_rates is not None:
        given = {label_key(label): float(rate) for label, rate in population_rates.items()}
        if set(given) != set(keys):
            raise BadRequest(f"population_rates must name every label {keys}, got {list(given)}")
        if any(not 0 < rate < 1 for rate in given.values()) or abs(sum(given.values()) - 1) > 0.01:
            raise BadRequest(f"population rates must lie in (0, 1) and sum to 1, got {given}")
        rates = np.array([given[key] for key in keys])
    integral = bool(np.all(weights == np.round(weights)))
    return _Data(keys, truth, predicted, proba, weights, rates, integral)


def _format_table(curve: _Curve) -> list[dict[str, Any]]:
    """Format a curve as ORES does: one entry per 5-digit threshold, the first of each group."""
    scale = 10**THRESHOLD_NDIGITS
    rounded = np.rint(curve.thresholds * scale) / scale + 0.0
    keep = np.r_[True, rounded[1:] != rounded[:-1]]
    columns = [_listed(curve.fields[field][keep], NDIGITS) for field in FIELDS]
    return _rows(rounded[keep].tolist(), columns)


def _rows(thresholds: list[float], columns: list[list[float | None]]) -> list[dict[str, Any]]:
    """Zip threshold and statistic columns into ORES's table entries."""
    names = ("threshold", *FIELDS)
    return [dict(zip(names, row, strict=True)) for row in zip(thresholds, *columns, strict=True)]


def classification_statistics(
    y_true: Sequence[Hashable] | npt.ArrayLike,
    probabilities: npt.ArrayLike,
    labels: Sequence[Hashable],
    *,
    population_rates: Mapping[Hashable, float] | None = None,
    sample_weight: npt.ArrayLike | None = None,
    predictions: Sequence[Hashable] | npt.ArrayLike | None = None,
    threshold_ndigits: int | None = None,
) -> dict[str, Any]:
    """Compute ORES's ``model_info["statistics"]`` tree, JSON-ready and rounded as ORES rounds."""
    data = _prepare(y_true, probabilities, labels, population_rates, sample_weight, predictions)
    k, keys = len(data.keys), data.keys
    cells = np.bincount(data.truth * k + data.predicted, weights=data.weights, minlength=k * k)
    confusion = cells.astype(np.float64).reshape(k, k)
    per_label = confusion.sum(axis=1)
    n = float(per_label.sum())
    tp = np.diag(confusion).copy()
    fn, fp = per_label - tp, confusion.sum(axis=0) - tp
    fields, trues = _matrix_statistics(tp, fp, n - tp - fn - fp, fn, data.rates)
    sample = per_label / n if n else np.full(k, np.nan)
    population = np.where(np.isnan(data.rates), sample, data.rates)
    tree: dict[str, Any] = {
        "counts": {
            "n": data.count(n),
            "labels": {key: data.count(c) for key, c in zip(keys, per_label.tolist(), strict=True)},
            "predictions": {
                key: {other: data.count(c) for other, c in zip(keys, row, strict=True)}
                for key, row in zip(keys, confusion.tolist(), strict=True)
            },
        },
        "rates": {
            "sample": dict(zip(keys, _listed(sample, NDIGITS), strict=True)),
            "population": dict(zip(keys, _listed(population, NDIGITS), strict=True)),
        },
    }
    for field in TREE_FIELDS:
        tree[field] = _micro_macro(keys, _listed(fields[field]), trues.tolist())
    curves = [
        _curve(proba, data.truth == j, data.weights, data.rates[j], threshold_ndigits)
        for j, proba in enumerate(data.probabilities.T)
    ]
    for kind in ("roc_auc", "pr_auc"):
        values = [_auc(curve, kind) for curve in curves]
        tree[kind] = _micro_macro(keys, values, [curve.trues for curve in curves])
    tree["thresholds"] = {key: _format_table(c) for key, c in zip(keys, curves, strict=True)}
    return tree


def threshold_table(
    y_true: Sequence[bool] | npt.ArrayLike,
    scores: npt.ArrayLike,
    *,
    sample_weight: npt.ArrayLike | None = None,
    population_rate: float | None = None,
    threshold_ndigits: int | None = None,
) -> list[dict[str, Any]]:
    """Return one label's unrounded statistics at every distinct score, ascending."""
    truth = np.asarray(y_true, dtype=bool).ravel()
    values = np.asarray(scores, dtype=np.float64).ravel()
    rates: Mapping[Hashable, float] | None = None
    if population_rate is not None:
        rates = {True: population_rate, False: 1 - population_rate}
    probabilities = np.column_stack([values, 1 - values]) if len(values) == len(truth) else values
    data = _prepare(truth, probabilities, [True, False], rates, sample_weight, None)
    curve = _curve(values, truth, data.weights, data.rates[0], threshold_ndigits)
    return _rows(curve.thresholds.tolist(), [_listed(curve.fields[field]) for field in FIELDS])


def _reliability(
    scores: FloatArray, truth: npt.NDArray[np.bool_], weights: FloatArray, bins: int
) -> tuple[float | None, list[dict[str, Any]]]:
    """Return the expected calibration error and the reliability-diagram bins of one label."""
    which = np.minimum((scores * bins).astype(np.intp), bins - 1)

    def binned(values: FloatArray) -> FloatArray:
        return np.bincount(which, weights=values, minlength=bins).astype(np.float64)

    mass = binned(weights)
    mean, observed = _divide(binned(weights * scores), mass), _divide(binned(weights * truth), mass)
    gaps = np.where(mass > 0, np.abs(np.nan_to_num(mean - observed)), 0.0)
    error = float((mass * gaps).sum() / mass.sum()) if mass.sum() > 0 else None
    rows = zip(mass.tolist(), _listed(mean), _listed(observed), strict=True)
    return error, [
        {"lower": i / bins, "upper": (i + 1) / bins, "count": c, "mean_probability": m, "rate": o}
        for i, (c, m, o) in enumerate(rows)
    ]


def extra_statistics(
    y_true: Sequence[Hashable] | npt.ArrayLike,
    probabilities: npt.ArrayLike,
    labels: Sequence[Hashable],
    *,
    population_rates: Mapping[Hashable, float] | None = None,
    sample_weight: npt.ArrayLike | None = None,
    calibration_bins: int = 10,
) -> dict[str, Any]:
    """Compute what ORES lacks, unrounded: sklearn's AUCs, Brier, log loss, calibration.

    Population rates reweight each observation by the population over the sample rate of
    its label; ``micro`` weights labels by their (reweighted) true observations.
    """
    from sklearn.metrics import average_precision_score as ap_score
    from sklearn.metrics import roc_auc_score

    if calibration_bins < 1:
        raise BadRequest("calibration_bins must be at least 1")
    data = _prepare(y_true, probabilities, labels, population_rates, sample_weight, None)
    k, weights = len(data.keys), data.weights
    if population_rates is not None:
        per_label = np.bincount(data.truth, weights=weights, minlength=k).astype(np.float64)
        ratio = np.nan_to_num(_divide(data.rates * weights.sum(), per_label), nan=1.0)
        weights = weights * ratio[data.truth]
    names = ("roc_auc", "average_precision", "brier", "calibration_error")
    values: dict[str, list[float | None]] = {name: [] for name in names}
    reliability: dict[str, list[dict[str, Any]]] = {}
    for j, key in enumerate(data.keys):
        truth, scores = data.truth == j, data.probabilities[:, j]
        both = bool(truth.any() and not truth.all())
        for name, metric in (("roc_auc", roc_auc_score), ("average_precision", ap_score)):
            values[name].append(
                float(metric(truth, scores, sample_weight=weights)) if both else None
            )
        values["brier"].append(float(np.average((scores - truth) ** 2, weights=weights)))
        error, reliability[key] = _reliability(scores, truth, weights, calibration_bins)
        values["calibration_error"].append(error)
    trues = np.bincount(data.truth, weights=weights, minlength=k).tolist()
    eps = np.finfo(np.float64).eps  # sklearn's clipping
    chosen = np.clip(data.probabilities[np.arange(len(data.truth)), data.truth], eps, 1 - eps)
    return {
        **{name: _micro_macro(data.keys, values[name], trues, None) for name in names},
        "log_loss": float(np.average(-np.log(chosen), weights=weights)),
        "reliability": {"bins": calibration_bins, "labels": reliability},
    }
