"""Diverse batches: the next labels spread over the feature space, not piled in one corner.

A campaign serves a batch of tasks (its `retrain_every`) between two rounds, all ranked by
one model. Ranked by informativeness alone, a batch piles into one region, the one the model
is unsure about, again and again: on the editquality labels, uncertainty sampling asked only
for anonymous edits (19 % of the pool) from its 200th label on and learned the registered
editors' edits, which the evaluation rewards, not at all (bench/README.md). `diverse`
re-ranks the scores the way cluster-margin sampling does (Citovsky et al. 2021): the
`candidates` x batch most informative rows are grouped into `batch` k-means clusters, and
the served order takes the most informative row of each cluster, then the second of each,
and so on; the rows outside that shortlist follow by score.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from wikiloom.errors import BadRequest

#: Shortlist size, in batches: the most informative rows the clusters are drawn from.
CANDIDATES = 20
#: Clusters at most, however large the batch (k-means cost grows with clusters x rows).
MAX_CLUSTERS = 200

Array = npt.NDArray[np.float64]


def diverse(
    scores: npt.ArrayLike,
    X_pool: npt.ArrayLike,
    batch: int,
    *,
    random_state: int | np.random.Generator | None = None,
    candidates: int = CANDIDATES,
) -> Array:
    """Re-score the pool rows so that each batch of the served order covers the shortlist.

    Parameters
    ----------
    scores : array-like of shape (n_pool,)
        Informativeness, higher first (`sampling.informativeness`); NaN counts as lowest.
    X_pool : array-like of shape (n_pool, n_features)
        The rows' features; infinities and NaN are read as the column mean.
    batch : int
        Rows labeled before the next round: the number of clusters (at most
        `MAX_CLUSTERS`).
    random_state : int, Generator or None, default=None
        Seed of the k-means initialisation and of the ties.
    candidates : int, default=20
        Shortlist size in batches.

    Returns
    -------
    ndarray of shape (n_pool,)
        New scores, higher first: sorted descending they give the round-robin order over
        the clusters, then the remaining rows by their score.
    """
    score = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    pool = np.asarray(X_pool, dtype=np.float64)
    if score.ndim != 1 or pool.ndim != 2 or len(pool) != len(score):
        raise BadRequest(
            f"scores and X_pool must be a vector and a matrix of one length, not of shapes "
            f"{score.shape} and {pool.shape}"
        )
    if batch < 1 or candidates < 1:
        raise BadRequest(f"batch and candidates must be >= 1, not {batch} and {candidates}")
    if len(score) == 0:
        return score
    rng = np.random.default_rng(random_state)
    order = np.lexsort((rng.random(len(score)), -score))  # most informative first
    clusters = min(batch, MAX_CLUSTERS)
    shortlist = order[: clusters * candidates]
    features = _features(pool[shortlist])
    clusters = min(clusters, len(np.unique(features, axis=0)))
    rank = np.arange(len(shortlist), dtype=np.int64)
    if clusters > 1:
        found = KMeans(clusters, n_init=1, random_state=int(rng.integers(2**31 - 1)))
        with warnings.catch_warnings():  # near-duplicate rows: fewer clusters, still a spread
            warnings.simplefilter("ignore", ConvergenceWarning)
            cluster = found.fit_predict(features)
        # The shortlist is in informativeness order, so a row's rank in its cluster is the
        # count of the same cluster's rows before it.
        grouped = np.argsort(cluster, kind="stable")
        starts = np.searchsorted(cluster[grouped], cluster[grouped])
        rank[grouped] = np.arange(len(shortlist)) - starts
    # Served order: the shortlist by (rank in cluster, position), then the rest by position.
    result = np.empty(len(score))
    served = np.lexsort((np.arange(len(shortlist)), rank))
    result[shortlist[served]] = -np.arange(len(shortlist), dtype=np.float64)
    rest = order[len(shortlist) :]
    result[rest] = -len(shortlist) - np.arange(len(rest), dtype=np.float64)
    return result


def _features(X: Array) -> Array:
    """Signed-log, standardized columns (heavy-tailed counts would otherwise make the clusters)."""
    finite = np.where(np.isfinite(X), X, np.nan)
    logged = np.sign(finite) * np.log1p(np.abs(finite))
    mean = np.nanmean(np.where(np.isnan(logged).all(axis=0), 0.0, logged), axis=0)
    centred = np.where(np.isnan(logged), 0.0, logged - mean)
    spread = centred.std(axis=0)
    return np.asarray(
        np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0), dtype=np.float64
    )
