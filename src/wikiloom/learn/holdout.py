"""A campaign's random holdout: which tasks it holds, how the other tasks' priorities
interleave with it, and what it tells about a model.

Holdout tasks keep the random priority they got at insertion and are never re-prioritised,
so the labels they receive are a random sample of the campaign whatever the model asks
for: the data that measure a model (and a successor's) without bias.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score

from wikiloom.learn.sampling import is_holdout

Array = npt.NDArray[np.float64]
#: The largest priority (priorities lie in [0, 1)).
TOP = float(np.nextafter(1.0, 0.0))


def holdout_ids(task_ids: Iterable[int], fraction: float, campaign_id: int) -> list[int]:
    """The tasks among these that belong to the campaign's holdout (the same on every run)."""
    seed = str(campaign_id)
    return [task_id for task_id in task_ids if is_holdout(task_id, fraction, seed=seed)]


def aligned(quantiles: Array, holdout_priorities: Array) -> Array:
    """Map quantiles in (0, 1) onto the distribution of the waiting holdout tasks' priorities.

    Holdout tasks are served in their random order, so those still waiting hold the
    priorities above what was served so far; the other tasks, spread evenly over [0, 1),
    would all be served before any of them. Through the holdout's empirical quantile
    function (linear between its points, strictly increasing) both kinds share one
    distribution, and any prefix of the served order holds each in proportion. Without
    holdout tasks the quantiles stay as they are.
    """
    if len(holdout_priorities) == 0:
        return np.minimum(np.asarray(quantiles, dtype=np.float64), TOP)
    points = np.sort(np.asarray(holdout_priorities, dtype=np.float64))
    count = len(points)
    low = max(0.0, float(points[0]) - (1.0 - float(points[0])) / (2 * count))
    knots = np.concatenate([[0.0], (np.arange(count) + 0.5) / count, [1.0]])
    values = np.concatenate([[low], points, [1.0]])
    return np.asarray(np.minimum(np.interp(quantiles, knots, values), TOP), dtype=np.float64)


def holdout_scores(
    template: Any, X: Array, y: npt.NDArray[Any], holdout: npt.NDArray[np.bool_]
) -> tuple[float | None, float | None]:
    """ROC-AUC and PR-AUC, on the holdout rows, of a clone of `template` fitted on the others.

    Binary: of the last class (True for a yes/no field); more classes: the mean over the
    classes of each against the rest. None when either side lacks two classes.
    """
    train, test = ~holdout, holdout
    if len(np.unique(y[train])) < 2 or len(np.unique(y[test])) < 2:
        return None, None
    model = clone(template).fit(X[train], y[train])
    proba = np.asarray(model.predict_proba(X[test]), dtype=np.float64)
    classes = list(np.asarray(model.classes_).tolist())
    rocs, prs = [], []
    for label in classes[-1:] if len(classes) == 2 else classes:
        truth = y[test] == label
        if truth.any() and not truth.all():
            column = proba[:, classes.index(label)]
            rocs.append(float(roc_auc_score(truth, column)))
            prs.append(float(average_precision_score(truth, column)))
    if not rocs:
        return None, None
    return float(np.mean(rocs)), float(np.mean(prs))
