"""Agreement and aggregation of labels: Krippendorff's alpha, majority vote, Dawid-Skene.

Every function takes plain ratings, one form field at a time: an iterable of
``(task_id, labeler_id, value)`` triples with hashable values. ``None`` values are ignored
(the labeler did not answer this field).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import krippendorff
import numpy as np
import numpy.typing as npt

Rating = tuple[Hashable, Hashable, Hashable]
Level = Literal["nominal", "ordinal", "interval", "ratio"]


@dataclass(frozen=True)
class Alpha:
    """Krippendorff's alpha with a bootstrap 95 % interval; None where undefined."""

    alpha: float | None
    low: float | None
    high: float | None
    n_tasks: int
    n_labelers: int


@dataclass(frozen=True)
class Consensus:
    """A task's majority value, the share of its labels that chose it, and its label count."""

    value: Hashable
    support: float
    n: int


@dataclass(frozen=True)
class LabelerAgreement:
    """How often a labeler agreed with the consensus of the others."""

    labels: int
    agreed: int

    @property
    def rate(self) -> float | None:
        """Agreed over compared labels, None when nothing was compared."""
        return self.agreed / self.labels if self.labels else None


@dataclass(frozen=True)
class DawidSkeneResult:
    """Posteriors over true values per task, each labeler's confusion, the class priors."""

    posteriors: dict[Hashable, dict[Hashable, float]]
    #: labeler -> true value -> observed value -> probability.
    confusion: dict[Hashable, dict[Hashable, dict[Hashable, float]]]
    priors: dict[Hashable, float]
    iterations: int
    converged: bool

    def labels(self) -> dict[Hashable, Hashable]:
        """The most probable value of each task (ties: the first value in sorted order)."""
        return {task: max(post, key=post.__getitem__) for task, post in self.posteriors.items()}


def ordered(values: Iterable[Hashable]) -> list[Hashable]:
    """Distinct values in their natural order, or by ``repr`` when they do not compare."""
    distinct = set(values)
    try:
        return sorted(distinct)  # type: ignore[type-var]
    except TypeError:
        return sorted(distinct, key=repr)


def _clean(ratings: Iterable[Rating]) -> list[Rating]:
    return [(t, u, v) for t, u, v in ratings if v is not None]


def _by_task(ratings: Iterable[Rating]) -> dict[Hashable, list[tuple[Hashable, Hashable]]]:
    tasks: dict[Hashable, list[tuple[Hashable, Hashable]]] = defaultdict(list)
    for task, labeler, value in ratings:
        tasks[task].append((labeler, value))
    return tasks


def krippendorff_alpha(
    ratings: Iterable[Rating],
    level: Level = "nominal",
    bootstrap: int = 1000,
    seed: int = 0,
) -> Alpha:
    """Krippendorff's alpha of the ratings, with a 95 % interval from resampling tasks.

    Nominal values may be any hashable; other levels need numbers. Alpha is None when
    undefined: no task with two labels, or a single value in the whole data. The interval
    is None when fewer than two bootstrap samples have a defined alpha (or `bootstrap` is 0).
    """
    clean = _clean(ratings)
    labelers = len({u for _, u, _ in clean})
    tasks = [vals for vals in _by_task(clean).values() if len(vals) >= 2]
    domain = ordered(v for vals in tasks for _, v in vals)
    if not tasks or len(domain) < 2:
        return Alpha(None, None, None, len(tasks), labelers)
    index = {value: i for i, value in enumerate(domain)}
    counts = np.zeros((len(tasks), len(domain)))
    for row, vals in enumerate(tasks):
        for _, value in vals:
            counts[row, index[value]] += 1
    scale: list[float] = (
        list(range(len(domain))) if level == "nominal" else [float(v) for v in domain]  # type: ignore[arg-type]
    )

    def alpha_of(matrix: npt.NDArray[np.float64]) -> float | None:
        if np.count_nonzero(matrix.sum(axis=0)) < 2:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            value = float(
                krippendorff.alpha(
                    value_counts=matrix, value_domain=scale, level_of_measurement=level
                )
            )
        return None if math.isnan(value) else value

    estimate = alpha_of(counts)
    rng = np.random.default_rng(seed)
    samples = [
        a
        for _ in range(bootstrap)
        if (a := alpha_of(counts[rng.integers(0, len(tasks), len(tasks))])) is not None
    ]
    if estimate is None or len(samples) < 2:
        return Alpha(estimate, None, None, len(tasks), labelers)
    low, high = np.percentile(samples, [2.5, 97.5])
    return Alpha(estimate, float(low), float(high), len(tasks), labelers)


def majority_value(values: Sequence[Hashable]) -> tuple[Hashable, int] | None:
    """The most frequent value and its votes; a tie goes to the first in sorted order."""
    if not values:
        return None
    counts = Counter(values)
    top = max(counts.values())
    return ordered(v for v, c in counts.items() if c == top)[0], top


def strict_majority(values: Sequence[Hashable]) -> Hashable | None:
    """The most frequent value, or None when two values tie for first place."""
    counts = Counter(values).most_common(2)
    if not counts or (len(counts) == 2 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def majority(ratings: Iterable[Rating]) -> dict[Hashable, Consensus]:
    """The majority value of each task.

    A tie is broken deterministically, independent of the order of the ratings: the tied
    value that comes first in natural order (``False`` before ``True``, 1 before 2) wins,
    or first by ``repr`` when the values do not compare.
    """
    result: dict[Hashable, Consensus] = {}
    for task, vals in _by_task(_clean(ratings)).items():
        values = [v for _, v in vals]
        winner = majority_value(values)
        if winner is not None:
            result[task] = Consensus(winner[0], winner[1] / len(values), len(values))
    return result


def dawid_skene(
    ratings: Iterable[Rating],
    max_iter: int = 1000,
    tol: float = 1e-8,
    smoothing: float = 0.01,
) -> DawidSkeneResult:
    """Estimate true values and labeler confusion matrices by expectation-maximisation.

    Parameters
    ----------
    ratings : iterable of (task_id, labeler_id, value)
        The labels of one field; ``None`` values are ignored.
    max_iter : int, default=1000
        Upper bound on EM iterations.
    tol : float, default=1e-8
        Stop when the log-likelihood of the labels improves by less than this fraction.
    smoothing : float, default=0.01
        Pseudo-count added to every confusion cell and prior, so that no probability is 0.

    Returns
    -------
    DawidSkeneResult
        Posteriors per task (each sums to 1), the confusion matrix of each labeler,
        the class priors, the iterations run and whether EM converged.

    Notes
    -----
    Dawid & Skene (1979). EM starts from the per-task vote shares (soft majority vote).
    The value domain is every value seen in the ratings.
    """
    clean = _clean(ratings)
    tasks = list(dict.fromkeys(t for t, _, _ in clean))
    labelers = list(dict.fromkeys(u for _, u, _ in clean))
    domain = ordered(v for _, _, v in clean)
    if not clean:
        return DawidSkeneResult({}, {}, {}, 0, True)
    t_index = {t: i for i, t in enumerate(tasks)}
    u_index = {u: i for i, u in enumerate(labelers)}
    v_index = {v: i for i, v in enumerate(domain)}
    ti = np.array([t_index[t] for t, _, _ in clean])
    ui = np.array([u_index[u] for _, u, _ in clean])
    vi = np.array([v_index[v] for _, _, v in clean])
    k = len(domain)
    post = np.zeros((len(tasks), k))
    np.add.at(post, (ti, vi), 1.0)
    post /= post.sum(axis=1, keepdims=True)
    priors = np.full(k, 1.0 / k)
    confusion = np.full((len(labelers), k, k), 1.0 / k)
    converged, iterations, likelihood = False, 0, -np.inf
    while iterations < max_iter:
        iterations += 1
        # M-step: priors and confusion matrices from the current posteriors.
        priors = post.sum(axis=0) + smoothing
        priors /= priors.sum()
        confusion = np.full((len(labelers), k, k), smoothing)
        for observed in range(k):
            mask = vi == observed
            np.add.at(confusion[:, :, observed], ui[mask], post[ti[mask]])
        confusion /= confusion.sum(axis=2, keepdims=True)
        # E-step: posteriors from priors and the likelihood of each observed label.
        log_post = np.tile(np.log(priors), (len(tasks), 1))
        np.add.at(log_post, ti, np.log(confusion[ui, :, vi]))
        peak = log_post.max(axis=1, keepdims=True)
        post = np.exp(log_post - peak)
        totals = post.sum(axis=1, keepdims=True)
        post /= totals
        previous, likelihood = likelihood, float((peak + np.log(totals)).sum())
        if abs(likelihood - previous) <= tol * abs(likelihood):
            converged = True
            break
    return DawidSkeneResult(
        posteriors={
            t: dict(zip(domain, map(float, post[i]), strict=True)) for t, i in t_index.items()
        },
        confusion={
            u: {
                true: dict(zip(domain, map(float, confusion[j, a]), strict=True))
                for a, true in enumerate(domain)
            }
            for u, j in u_index.items()
        },
        priors=dict(zip(domain, map(float, priors), strict=True)),
        iterations=iterations,
        converged=converged,
    )


def labeler_agreement(
    ratings: Iterable[Rating],
    consensus: Callable[[Sequence[Hashable]], Hashable | None] = strict_majority,
) -> dict[Hashable, LabelerAgreement]:
    """Each labeler's agreement with the consensus of the other labelers of a task.

    Only tasks with at least two labels count. `consensus` turns the others' values into
    one value, or None when they have none (by default: their strict majority, so a tie
    among the others leaves the task out for this labeler).
    """
    seen: dict[Hashable, list[int]] = defaultdict(lambda: [0, 0])
    for vals in _by_task(_clean(ratings)).values():
        if len(vals) < 2:
            continue
        for i, (labeler, value) in enumerate(vals):
            others = consensus([v for j, (_, v) in enumerate(vals) if j != i])
            tally = seen[labeler]
            if others is not None:
                tally[0] += 1
                tally[1] += int(others == value)
    return {labeler: LabelerAgreement(n, agreed) for labeler, (n, agreed) in seen.items()}
