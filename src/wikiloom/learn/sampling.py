"""Active-learning query strategies: which unlabeled rows a human should label first.

Pure numpy and scikit-learn: the functions take matrices and an unfitted estimator (a template,
cloned before fitting) and answer arrays. A campaign turns the scores into task priorities with
`priorities`, keeps a random holdout with `is_holdout`, and stops asking when consecutive
models agree (`prediction_agreement`, `should_stop`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import clone

from wikiloom.errors import BadRequest

STRATEGIES: tuple[str, ...] = ("random", "uncertainty", "margin", "entropy", "committee", "density")

#: Pool rows the density of each row is measured against (a random sample of larger pools).
DENSITY_SAMPLE = 2_000
#: Bootstrap draws tried before a committee member's sample gets its missing classes added.
BOOTSTRAP_TRIES = 20

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Informativeness:
    """How much labeling each pool row would teach the model, and the model's probabilities.

    `scores` holds one value per pool row (higher: ask a human first); `proba` the pool's
    class probabilities from the model fitted on every labeled row, columns in `classes` order.
    """

    scores: Array
    proba: Array
    classes: npt.NDArray[Any]


def least_confidence(proba: npt.ArrayLike) -> Array:
    """Score each row by 1 - its most probable class's probability."""
    p = _matrix(proba)
    return np.asarray(1.0 - p.max(axis=1), dtype=np.float64)


def margin(proba: npt.ArrayLike) -> Array:
    """Score each row by -(p1 - p2), the gap between its two most probable classes, negated."""
    p = _matrix(proba)
    if p.shape[1] < 2:
        return np.zeros(len(p))
    top = np.sort(p, axis=1)[:, -2:]
    return np.asarray(top[:, 0] - top[:, 1], dtype=np.float64)


def entropy(proba: npt.ArrayLike) -> Array:
    """Score each row by the entropy -sum p log p of its class probabilities (nats)."""
    p = _matrix(proba)
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return np.asarray(-(p * logs).sum(axis=1) + 0.0, dtype=np.float64)


def vote_entropy(probas: npt.ArrayLike) -> Array:
    """Score each row by the entropy of its committee's votes (members x rows x classes).

    Each member votes for its most probable class; the score is -sum V/C log V/C over the
    classes, V a class's votes and C the members (Dagan & Engelson 1995).
    """
    stack = _committee(probas)
    members, rows, classes = stack.shape
    votes = np.zeros((rows, classes))
    np.add.at(votes, (np.arange(rows)[None, :], stack.argmax(axis=2)), 1.0)
    return entropy(votes / members)


def consensus_kl(probas: npt.ArrayLike) -> Array:
    """Score each row by its members' mean KL divergence from their consensus.

    `probas` is members x rows x classes; the consensus is the members' mean distribution
    (McCallum & Nigam 1998). Unlike the vote entropy it also sees members that agree on the
    class but not on the confidence.
    """
    stack = _committee(probas)
    mean = stack.mean(axis=0)
    ratio = np.divide(stack, mean[None], out=np.ones_like(stack), where=stack > 0)
    return np.asarray((stack * np.log(ratio)).sum(axis=2).mean(axis=0) + 0.0, dtype=np.float64)


def informativeness(
    strategy: str,
    estimator: Any,
    X_labeled: npt.ArrayLike,
    y_labeled: npt.ArrayLike,
    X_pool: npt.ArrayLike,
    *,
    random_state: int | np.random.Generator | None = None,
    committee_size: int = 5,
    density_beta: float = 1.0,
) -> Informativeness:
    """Score the pool rows by how much labeling each would teach the model.

    Parameters
    ----------
    strategy : {"random", "uncertainty", "margin", "entropy", "committee", "density"}
        ``random``: uniform random scores. ``uncertainty``: least confidence, 1 - max p.
        ``margin``: -(p1 - p2). ``entropy``: -sum p log p. ``committee``: the mean KL
        divergence from their consensus of `committee_size` clones, each fitted on a
        bootstrap sample of the labeled rows holding every class, with its own seed.
        ``density``: margin uncertainty, 1 - (p1 - p2), times the row's mean cosine
        similarity to the pool on standardized features, mapped to [0, 1] and raised to
        `density_beta` (Settles & Craven 2008's information density).
    estimator : scikit-learn classifier
        An unfitted template; it is cloned, never fitted itself.
    X_labeled : array-like of shape (n_labeled, n_features)
        The rows labeled so far.
    y_labeled : array-like of shape (n_labeled,)
        Their labels: two classes at least.
    X_pool : array-like of shape (n_pool, n_features)
        The unlabeled rows to score.
    random_state : int, Generator or None, default=None
        Seed of the random scores, the bootstrap samples, the committee's seeds and the
        density's reference sample.
    committee_size : int, default=5
        Members of the committee.
    density_beta : float, default=1.0
        Weight of the density against the uncertainty (0: margin uncertainty alone).

    Returns
    -------
    Informativeness
        The scores (one per pool row, higher first), and the pool's class probabilities
        from the model fitted on all labeled rows, with its classes.
    """
    if strategy not in STRATEGIES:
        raise BadRequest(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    X, y, pool = _checked(X_labeled, y_labeled, X_pool)
    if committee_size < 2:
        raise BadRequest(f"a committee needs two members at least, not {committee_size}")
    if density_beta < 0:
        raise BadRequest(f"density_beta must be >= 0, not {density_beta}")
    rng = np.random.default_rng(random_state)
    model = clone(estimator).fit(X, y)
    classes = np.asarray(model.classes_)
    proba = _proba(model, pool, classes)
    if strategy == "random":
        scores = rng.random(len(pool))
    elif strategy == "uncertainty":
        scores = least_confidence(proba)
    elif strategy == "margin":
        scores = margin(proba)
    elif strategy == "entropy":
        scores = entropy(proba)
    elif strategy == "committee":
        scores = consensus_kl(_members(estimator, X, y, pool, classes, committee_size, rng))
    else:
        scores = (1.0 + margin(proba)) * density(pool, rng) ** density_beta
    return Informativeness(
        scores=np.asarray(scores, dtype=np.float64), proba=proba, classes=classes
    )


def density(X_pool: npt.ArrayLike, random_state: int | np.random.Generator | None = None) -> Array:
    """Score each pool row by its mean cosine similarity to the pool, mapped to [0, 1].

    Features are standardized on the pool (infinities as missing, missing as the mean). The
    mean of the cosine similarities to a set of rows is the dot product of the row's unit
    vector with the mean of their unit vectors, so it costs O(n x features) memory; the rows
    are a random sample of `DENSITY_SAMPLE` when the pool is larger. A mean similarity s is
    answered as (1 + s) / 2.
    """
    pool = np.asarray(X_pool, dtype=np.float64)
    if pool.ndim != 2:
        raise BadRequest(f"X_pool must be a matrix, not an array of shape {pool.shape}")
    if len(pool) == 0:
        return np.zeros(0)
    rng = np.random.default_rng(random_state)
    unit = _unit_rows(_standardized(pool))
    reference = unit
    if len(unit) > DENSITY_SAMPLE:
        reference = unit[rng.choice(len(unit), DENSITY_SAMPLE, replace=False)]
    similarity = unit @ reference.mean(axis=0)
    return np.asarray(np.clip((1.0 + similarity) / 2.0, 0.0, 1.0), dtype=np.float64)


def priorities(
    scores: npt.ArrayLike, holdout: npt.ArrayLike, random_priority: npt.ArrayLike
) -> Array:
    """Give each unlabeled task a priority in [0, 1): the lowest is served first.

    Holdout tasks (kept for unbiased evaluation) keep their random priority. The other n
    tasks are ranked by descending score (ties by their random priority) and get the
    quantile of their rank, (rank + 0.5) / n: evenly spaced over [0, 1), the most
    informative first. Both kinds are then spread evenly over [0, 1), so that any prefix of
    the served order, e.g. the tasks below priority t, holds about t x n informative tasks
    and t x (holdout tasks) random ones: the holdout fraction of random tasks.
    """
    score = np.asarray(scores, dtype=np.float64)
    kept = np.asarray(holdout, dtype=bool)
    drawn = np.asarray(random_priority, dtype=np.float64)
    if score.ndim != 1 or kept.shape != score.shape or drawn.shape != score.shape:
        raise BadRequest(
            "scores, holdout and random_priority must be vectors of one length, not of shapes "
            f"{score.shape}, {kept.shape} and {drawn.shape}"
        )
    if np.any((drawn < 0) | (drawn >= 1)) or np.isnan(drawn).any():
        raise BadRequest("random priorities must lie in [0, 1)")
    result = drawn.copy()
    asked = np.flatnonzero(~kept)
    ranked = np.nan_to_num(score[asked], nan=-np.inf)
    order = np.lexsort((drawn[asked], -ranked))  # the last key sorts first
    result[asked[order]] = (np.arange(len(asked)) + 0.5) / max(len(asked), 1)
    return result


def is_holdout(task_id: int, fraction: float, seed: str = "") -> bool:
    """Tell whether a task belongs to the random holdout: the same answer on every run."""
    if not 0.0 <= fraction <= 1.0:
        raise BadRequest(f"the holdout fraction must lie in [0, 1], not {fraction}")
    return random.Random(f"{seed}:{task_id}").random() < fraction


def prediction_agreement(previous: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """Measure Cohen's kappa between two models' predictions on the same rows.

    Two constant, equal predictions agree fully (1.0), where the textbook kappa is 0 / 0.
    """
    a, b = np.asarray(previous), np.asarray(current)
    if a.ndim != 1 or a.shape != b.shape:
        raise BadRequest(f"predictions of shapes {a.shape} and {b.shape} cannot be compared")
    if len(a) == 0:
        raise BadRequest("there are no predictions to compare")
    labels, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    first, second = codes[: len(a)], codes[len(a) :]
    observed = float(np.mean(first == second))
    expected = float(
        np.dot(
            np.bincount(first, minlength=len(labels)), np.bincount(second, minlength=len(labels))
        )
        / len(a) ** 2
    )
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def should_stop(agreements: Sequence[float], *, threshold: float = 0.99, window: int = 3) -> bool:
    """Tell whether the last `window` agreements of consecutive models all reach `threshold`.

    The stabilizing-predictions criterion (Bloodgood & Vijay-Shanker 2009): each agreement is
    `prediction_agreement` of two consecutive models' predictions on a fixed stop set.
    """
    if window < 1:
        raise BadRequest(f"the window must hold one agreement at least, not {window}")
    return len(agreements) >= window and all(value >= threshold for value in agreements[-window:])


def _matrix(proba: npt.ArrayLike) -> Array:
    """Check a probability matrix (rows x classes)."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise BadRequest(f"probabilities must be a rows x classes matrix, not of shape {p.shape}")
    return p


def _committee(probas: npt.ArrayLike) -> Array:
    """Check a committee's probabilities (members x rows x classes)."""
    stack = np.asarray(probas, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[0] == 0:
        raise BadRequest(
            f"a committee's probabilities are members x rows x classes, not of shape {stack.shape}"
        )
    return stack


def _checked(X_labeled: Any, y_labeled: Any, X_pool: Any) -> tuple[Array, npt.NDArray[Any], Array]:
    """Check the labeled rows, their labels and the pool; answer them as arrays."""
    X = np.asarray(X_labeled, dtype=np.float64)
    y = np.asarray(y_labeled)
    pool = np.asarray(X_pool, dtype=np.float64)
    if X.ndim != 2 or pool.ndim != 2:
        raise BadRequest(
            f"X_labeled and X_pool must be matrices, not of shapes {X.shape} and {pool.shape}"
        )
    if len(y) == 0:
        raise BadRequest("no row is labeled yet: label a few rows of each class first")
    if y.ndim != 1 or len(y) != len(X):
        raise BadRequest(f"{len(X)} labeled rows but labels of shape {y.shape}")
    found = np.unique(y)
    if len(found) < 2:
        raise BadRequest(
            f"the labeled rows hold one class only ({found[0]!r}): label rows of another class"
        )
    if X.shape[1] != pool.shape[1]:
        raise BadRequest(
            f"the labeled rows have {X.shape[1]} features but the pool rows {pool.shape[1]}"
        )
    return X, y, pool


def _proba(model: Any, pool: Array, classes: npt.NDArray[Any]) -> Array:
    """The model's pool probabilities with one column per class of `classes`."""
    if len(pool) == 0:
        return np.zeros((0, len(classes)))
    found = np.asarray(model.predict_proba(pool), dtype=np.float64)
    known = list(np.asarray(model.classes_))
    if known == list(classes):
        return found
    aligned = np.zeros((len(pool), len(classes)))
    for column, label in enumerate(known):
        aligned[:, list(classes).index(label)] = found[:, column]
    return aligned


def _bootstrap(y: npt.NDArray[Any], rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Row indices of a bootstrap sample holding every class of `y`."""
    classes = np.unique(y)
    rows = rng.integers(0, len(y), len(y))
    for _ in range(BOOTSTRAP_TRIES):
        if len(np.unique(y[rows])) == len(classes):
            return rows
        rows = rng.integers(0, len(y), len(y))
    # A class too rare to be drawn: the sample gets one row of each missing class more.
    drawn = set(y[rows].tolist())
    extra = [rng.choice(np.flatnonzero(y == label)) for label in classes if label not in drawn]
    return np.concatenate([rows, np.asarray(extra, dtype=np.int64)])


def _members(
    estimator: Any,
    X: Array,
    y: npt.NDArray[Any],
    pool: Array,
    classes: npt.NDArray[Any],
    size: int,
    rng: np.random.Generator,
) -> Array:
    """The pool probabilities of `size` clones fitted on bootstrap samples, member first."""
    stack = np.zeros((size, len(pool), len(classes)))
    for member in range(size):
        model = clone(estimator)
        if "random_state" in model.get_params():
            model.set_params(random_state=int(rng.integers(2**31 - 1)))
        rows = _bootstrap(y, rng)
        stack[member] = _proba(model.fit(X[rows], y[rows]), pool, classes)
    return stack


def _standardized(X: Array) -> Array:
    """The columns centred and scaled to unit variance; infinities and NaN become 0 (the mean)."""
    finite = np.where(np.isfinite(X), X, np.nan)
    seen = ~np.isnan(finite)
    counts = seen.sum(axis=0)
    mean = np.divide(np.nansum(finite, axis=0), counts, out=np.zeros(X.shape[1]), where=counts > 0)
    centred = np.where(seen, finite - mean, 0.0)
    spread = np.sqrt(
        np.divide((centred**2).sum(axis=0), counts, out=np.zeros(X.shape[1]), where=counts > 0)
    )
    return np.asarray(
        np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0), dtype=np.float64
    )


def _unit_rows(X: Array) -> Array:
    """The rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.asarray(np.divide(X, norms, out=np.zeros_like(X), where=norms > 0), dtype=np.float64)
