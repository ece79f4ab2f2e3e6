"""Scoring requests: one pass per revision, shared by every model of the wiki asked for.

For a request: read the cache (unless features or injected values were asked for), then for
what is missing look in the feature store, fetch what it lacks from the wiki in one batched
call shared by every model, extract each feature set once, score every model, and cache every
new score. Concurrent identical requests compute once: the second waits for the first.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import AppError, RevisionProblem
from wikiloom.learn.featuresets import feature_set
from wikiloom.learn.featurestore import extract, get_vectors, store_vectors
from wikiloom.learn.statistics import label_key
from wikiloom.scoring.cache import ScoreCache, make_cache, score_key
from wikiloom.scoring.loaded import ModelPool, ServedModel, WikiModels, pick
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.registry import wiki_language
from wikiloom.wiki.revisions import Revision, fetch_revisions

#: Feature contributions listed with `features` (the largest by size).
EXPLAINED = 5
FeatureKey = tuple[str, int]


@dataclass(frozen=True)
class ScoreRequest:
    """Which revisions of a wiki to score with which models (None: all the wiki serves)."""

    wiki: str
    rev_ids: tuple[int, ...]
    models: tuple[str, ...] | None = None
    features: bool = False
    inject: Mapping[int, Mapping[str, Any]] | None = None
    precache: bool = False


@dataclass
class ScoreResponse:
    """The models used and, per revision and model, `{"score": …}` or `{"error": …}`."""

    wiki: str
    models: list[ServedModel]
    scores: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)
    cached: int = 0
    computed: int = 0


def error_doc(kind: str, message: str) -> dict[str, Any]:
    """A per-score error, as ORES writes it."""
    return {"error": {"type": kind, "message": message}}


def score_doc(labels: Sequence[Any], probabilities: Sequence[float]) -> dict[str, Any]:
    """A score: the most probable label and every label's probability (`true`/`false` keys)."""
    best = int(np.argmax(probabilities))
    prediction = labels[best]
    return {
        "prediction": bool(prediction) if isinstance(prediction, bool | np.bool_) else prediction,
        "probability": {
            label_key(label): float(p) for label, p in zip(labels, probabilities, strict=True)
        },
    }


class Scorer:
    """Scores revisions with a wiki's models; one per application."""

    def __init__(
        self,
        pool: ModelPool,
        cache: ScoreCache,
        factory: sessionmaker[Session],
        client: Callable[[], WikiClient],
        *,
        language: Callable[[str], str] = lambda wiki: "en",
    ) -> None:
        self.pool = pool
        self.cache = cache
        self.factory = factory
        self.client = client
        self.language = language
        self.inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def models(self, wiki: str) -> WikiModels:
        """A wiki's models now (served and held back), asked of the registry in a thread."""
        if self.pool.stale(wiki):
            return await asyncio.to_thread(self.pool.models, wiki)
        return self.pool.models(wiki)

    async def served(self, wiki: str) -> dict[str, ServedModel]:
        """The models a wiki serves now."""
        return (await self.models(wiki)).served

    async def resolve(self, wiki: str, names: Sequence[str] | None) -> list[ServedModel]:
        """The served models asked for (see `loaded.pick`), without blocking the loop."""
        return pick(await self.models(wiki), names)

    async def score(
        self, request: ScoreRequest, models: Sequence[ServedModel] | None = None
    ) -> ScoreResponse:
        """Answer a scoring request; per-revision problems become per-score errors.

        The models are looked up now (a paused one is refused, its cached scores too),
        unless the caller just resolved them for this request (`models`).
        """
        if models is None:
            models = await self.resolve(request.wiki, request.models)
        models = list(models)
        response = ScoreResponse(request.wiki, models)
        rev_ids = list(dict.fromkeys(request.rev_ids))
        for rev_id in rev_ids:
            response.scores[rev_id] = {}
        salt = _salt(request)
        keys = {
            (rev_id, model.name): score_key(request.wiki, model.name, rev_id, model.version) + salt
            for rev_id in rev_ids
            for model in models
        }
        cacheable = not request.features and not request.inject
        hits = await self._cached(keys.values()) if cacheable else {}
        waiting: dict[tuple[int, str], asyncio.Future[dict[str, Any]]] = {}
        mine: list[tuple[int, ServedModel]] = []
        loop = asyncio.get_running_loop()
        for rev_id in rev_ids:
            for model in models:
                key = keys[rev_id, model.name]
                if key in hits:
                    response.scores[rev_id][model.name] = hits[key]
                    response.cached += 1
                elif key in self.inflight:
                    waiting[rev_id, model.name] = self.inflight[key]
                else:
                    self.inflight[key] = loop.create_future()
                    mine.append((rev_id, model))
        try:
            computed = await self._compute(request, mine) if mine else {}
        except BaseException as error:
            for rev_id, model in mine:
                future = self.inflight.pop(keys[rev_id, model.name])
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" warning
            raise
        fresh = {}
        for (rev_id, name), doc in computed.items():
            key = keys[rev_id, name]
            self.inflight.pop(key).set_result(doc)
            response.scores[rev_id][name] = doc
            response.computed += 1
            if cacheable and "score" in doc:
                fresh[key] = doc
        for (rev_id, name), future in waiting.items():
            response.scores[rev_id][name] = await future
        if fresh:
            if self.cache.blocking:
                await asyncio.to_thread(self.cache.set_many, fresh)
            else:
                self.cache.set_many(fresh)
        return response

    async def _cached(self, keys: Iterable[str]) -> dict[str, Any]:
        """The cached scores of the keys (a network cache is asked from a thread)."""
        if self.cache.blocking:
            return await asyncio.to_thread(self.cache.get_many, keys)
        return self.cache.get_many(keys)

    async def _compute(
        self, request: ScoreRequest, pairs: list[tuple[int, ServedModel]]
    ) -> dict[tuple[int, str], dict[str, Any]]:
        """Score (revision, model) pairs: store, then wiki, then one prediction per model."""
        wiki = request.wiki
        sets: dict[FeatureKey, Any] = {}
        out: dict[tuple[int, str], dict[str, Any]] = {}
        for rev_id, model in pairs:
            if model.feature_set is None or model.feature_set_version is None:
                continue
            key = (model.feature_set, model.feature_set_version)
            if key not in sets:
                try:
                    features = feature_set(model.feature_set, self.language(wiki))
                except AppError as error:
                    out[rev_id, model.name] = error_doc("FeatureSetUnavailable", error.message)
                    continue
                sets[key] = features if features.version == key[1] else None
        wanted: dict[FeatureKey, set[int]] = {}
        for rev_id, model in pairs:
            if model.feature_set is not None and model.feature_set_version is not None:
                wanted.setdefault((model.feature_set, model.feature_set_version), set()).add(rev_id)
        vectors = await asyncio.to_thread(self._stored, wiki, wanted)
        lacking = sorted(
            {rev for key, revs in wanted.items() for rev in revs if rev not in vectors[key]}
        )
        problems: dict[int, dict[str, Any]] = {}
        if lacking:
            fetched = await self._fetch(wiki, lacking, problems)
            new = await asyncio.to_thread(self._extract, wiki, sets, wanted, fetched, problems)
            for key, found in new.items():
                vectors[key].update(found)
        groups: dict[str, list[int]] = {}
        for rev_id, model in pairs:
            if (rev_id, model.name) in out:
                continue
            if rev_id in problems:
                out[rev_id, model.name] = problems[rev_id]
                continue
            key = (model.feature_set or "", model.feature_set_version or 0)
            if rev_id not in vectors.get(key, {}):
                message = f"no features of {model.name} for revision {rev_id}"
                out[rev_id, model.name] = error_doc("FeatureUnavailable", message)
                continue
            groups.setdefault(model.name, []).append(rev_id)
        by_name = {model.name: model for _, model in pairs}
        for name, rev_ids in groups.items():
            model = by_name[name]
            key = (model.feature_set or "", model.feature_set_version or 0)
            rows = np.asarray([vectors[key][rev_id] for rev_id in rev_ids], dtype=np.float64)
            rows = _injected(rows, model.features, rev_ids, request.inject)
            docs = await asyncio.to_thread(self._predict, model, rows, request.features)
            for rev_id, doc in zip(rev_ids, docs, strict=True):
                out[rev_id, name] = doc
        return out

    def _stored(
        self, wiki: str, wanted: Mapping[FeatureKey, set[int]]
    ) -> dict[FeatureKey, dict[int, list[float]]]:
        with transaction(self.factory) as session:
            return {
                key: get_vectors(session, wiki, revs, key[0], key[1])
                for key, revs in wanted.items()
            }

    async def _fetch(
        self, wiki: str, rev_ids: list[int], problems: dict[int, dict[str, Any]]
    ) -> dict[int, Revision]:
        """The revisions from the wiki, one batched call; problems recorded per revision."""
        try:
            fetched = await fetch_revisions(self.client(), wiki, rev_ids)
        except AppError as error:
            for rev_id in rev_ids:
                problems[rev_id] = error_doc(type(error).__name__, error.message)
            return {}
        found = {}
        for rev_id, value in fetched.items():
            if isinstance(value, RevisionProblem):
                problems[rev_id] = error_doc(value.code, value.message)
            else:
                found[rev_id] = value
        return found

    def _extract(
        self,
        wiki: str,
        sets: Mapping[FeatureKey, Any],
        wanted: Mapping[FeatureKey, set[int]],
        fetched: Mapping[int, Revision],
        problems: dict[int, dict[str, Any]],
    ) -> dict[FeatureKey, dict[int, list[float]]]:
        """Extract each feature set once from the fetched revisions and store the values."""
        found: dict[FeatureKey, dict[int, list[float]]] = {}
        for key, revs in wanted.items():
            features = sets.get(key)
            records = [fetched[rev] for rev in sorted(revs) if rev in fetched]
            if features is None or not records:
                continue
            values: dict[int, list[float]] = {}
            for record in records:
                try:
                    values.update(extract(features, [record]))
                except RevisionProblem as problem:
                    problems[record.rev_id] = error_doc(problem.code, problem.message)
            found[key] = values
            with transaction(self.factory, write=True) as session:
                width = len(features.get_feature_names_out())
                store_vectors(session, wiki, key[0], key[1], width, values)
        return found

    def _predict(
        self, model: ServedModel, rows: np.ndarray, with_features: bool
    ) -> list[dict[str, Any]]:
        """Score rows with a model; with features, their values and top contributions."""
        estimator = self.pool.get(model).estimator
        proba = estimator.predict_proba(rows)
        labels = list(estimator.classes_.tolist())
        docs: list[dict[str, Any]] = [{"score": score_doc(labels, p)} for p in proba]
        if with_features:
            reference = model.reference
            for doc, row, p in zip(docs, rows, proba, strict=True):
                doc["features"] = {
                    f"feature.{name}": _plain(value)
                    for name, value in zip(model.features, row, strict=True)
                }
                if reference is not None:
                    doc["explanation"] = explain(estimator, row, p, model.features, reference)
        return docs


def explain(
    estimator: Any,
    row: np.ndarray,
    proba: np.ndarray,
    names: Sequence[str],
    reference: Sequence[float | None],
) -> list[dict[str, Any]]:
    """The features that moved this score most: each set to its training median in turn.

    A contribution is how much the predicted label's probability falls (or rises) when the
    feature takes the median value of the training data instead of its own.
    """
    best = int(np.argmax(proba))
    trials = np.repeat(row[None, :], len(names), axis=0)
    for j, value in enumerate(reference):
        trials[j, j] = np.nan if value is None else value
    shifted = estimator.predict_proba(trials)[:, best]
    contributions = proba[best] - shifted
    order = np.argsort(-np.abs(contributions))[:EXPLAINED]
    return [
        {
            "feature": f"feature.{names[j]}",
            "value": _plain(row[j]),
            "median": reference[j],
            "contribution": round(float(contributions[j]), 4),
        }
        for j in order
        if contributions[j] != 0
    ]


def _plain(value: float) -> float | int | None:
    """A feature value for JSON: whole numbers as ints, NaN as null."""
    number = float(value)
    if np.isnan(number):
        return None
    return int(number) if number.is_integer() else number


def _injected(
    rows: np.ndarray,
    features: Sequence[str],
    rev_ids: Sequence[int],
    inject: Mapping[int, Mapping[str, Any]] | None,
) -> np.ndarray:
    """Rows with injected values (ORES's `inject`, `feature.<name>` keys) in place."""
    if not inject:
        return rows
    index = {f"feature.{name}": j for j, name in enumerate(features)}
    rows = rows.copy()
    for i, rev_id in enumerate(rev_ids):
        for name, value in (inject.get(rev_id) or {}).items():
            if name in index:
                rows[i, index[name]] = float(value)
    return rows


def _salt(request: ScoreRequest) -> str:
    """A suffix that keeps scores of injected values apart (ORES: sha1 of the injection)."""
    if not request.inject:
        return ""
    encoded = orjson.dumps(
        {str(k): v for k, v in sorted(request.inject.items())}, option=orjson.OPT_SORT_KEYS
    )
    return ":" + hashlib.sha1(encoded).hexdigest()


def scorer_for(
    settings: Settings, factory: sessionmaker[Session], client: Callable[[], WikiClient]
) -> Scorer:
    """The scorer the settings describe: its cache, its model pool, the wikis' languages."""
    return Scorer(
        ModelPool(factory, idle_seconds=settings.model_idle_seconds),
        make_cache(settings),
        factory,
        client,
        language=lambda wiki: wiki_language(wiki, settings.wikis),
    )
