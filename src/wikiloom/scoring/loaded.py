"""Models in memory: loaded on first use, unloaded when idle, served only in a serving state.

The registry says which models a wiki serves (`trial` or `active`) and which version; the pool
asks it at most every `state_ttl` seconds per wiki, so a pause takes effect within that time,
and keeps each loaded estimator until it has been idle for `idle_seconds`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.errors import NotFound
from wikiloom.learn.modelfiles import load_model
from wikiloom.learn.registry import SERVED_STATES
from wikiloom.learn.tables import Model, ModelVersion


@dataclass(frozen=True)
class ServedModel:
    """What the registry says of a model a wiki serves (no estimator yet)."""

    wiki: str
    name: str
    version: str
    version_id: int
    status: str
    feature_set: str | None
    feature_set_version: int | None
    features: tuple[str, ...]
    labels: tuple[Any, ...]
    info: dict[str, Any]
    #: The training medians of the features, against which scores are explained.
    reference: tuple[float | None, ...] | None = None


@dataclass
class LoadedModel:
    """A served model with its estimator in memory."""

    served: ServedModel
    estimator: Any
    loaded: float
    last_used: float = field(default=0.0)


class ModelPool:
    """The models of every wiki, loaded lazily from the registry and unloaded when idle."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        idle_seconds: float = 3600.0,
        state_ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.idle_seconds = idle_seconds
        self.state_ttl = state_ttl
        self.clock = clock
        self.lock = threading.Lock()
        self.states: dict[str, tuple[float, dict[str, ServedModel]]] = {}
        self.loaded: dict[int, LoadedModel] = {}
        self.versions: dict[int, ServedModel] = {}
        #: Estimators loaded so far, for metrics and tests.
        self.loads = 0

    def stale(self, wiki: str) -> bool:
        """Whether the next `served(wiki)` asks the registry (so should run off the event loop)."""
        cached = self.states.get(wiki)
        return cached is None or self.clock() - cached[0] >= self.state_ttl

    def served(self, wiki: str) -> dict[str, ServedModel]:
        """The models a wiki serves now, by name (asked of the registry at most every TTL)."""
        now = self.clock()
        with self.lock:
            cached = self.states.get(wiki)
            if cached is not None and now - cached[0] < self.state_ttl:
                return cached[1]
        models = self._read(wiki)
        with self.lock:
            self.states[wiki] = (now, models)
        return models

    def _read(self, wiki: str) -> dict[str, ServedModel]:
        """Ask the registry; versions are immutable, so each is read once and kept."""
        with transaction(self.factory) as session:
            rows = session.execute(
                select(Model, Model.current_version_id)
                .where(
                    Model.wiki == wiki,
                    Model.status.in_(SERVED_STATES),
                    Model.current_version_id.is_not(None),
                )
                .order_by(Model.name)
            ).all()
            models = {}
            for model, version_id in rows:
                assert version_id is not None
                version = self.versions.get(version_id)
                if version is None:
                    version = _served(model, session.get_one(ModelVersion, version_id))
                    self.versions[version_id] = version
                models[model.name] = replace(version, status=model.status)
            return models

    def wikis(self) -> list[str]:
        """The wikis with a served model."""
        with transaction(self.factory) as session:
            return list(
                session.scalars(
                    select(Model.wiki)
                    .where(Model.status.in_(SERVED_STATES), Model.current_version_id.is_not(None))
                    .distinct()
                    .order_by(Model.wiki)
                )
            )

    def resolve(self, wiki: str, names: Sequence[str] | None) -> list[ServedModel]:
        """The served models asked for (all of the wiki's by default), as ORES refuses others."""
        served = self.served(wiki)
        if not served:
            raise NotFound(f"No scorers available for {wiki}")
        if names is None:
            return list(served.values())
        missing = tuple(name for name in names if name not in served)
        if missing:
            raise NotFound(f"Models {missing!r} not available for {wiki}")
        return [served[name] for name in dict.fromkeys(names)]

    def get(self, served: ServedModel) -> LoadedModel:
        """The loaded estimator of a served version, loading it on first use."""
        now = self.clock()
        with self.lock:
            loaded = self.loaded.get(served.version_id)
            if loaded is not None:
                loaded.last_used = now
                return loaded
        with transaction(self.factory) as session:
            row = session.get(ModelVersion, served.version_id)
            if row is None:
                raise NotFound(f"{served.wiki} {served.name} {served.version} is gone")
            estimator = load_model(row.file, row.sha256)
        with self.lock:
            loaded = self.loaded.setdefault(
                served.version_id, LoadedModel(served, estimator, loaded=now, last_used=now)
            )
            self.loads += 1
            return loaded

    def unload_idle(self) -> list[ServedModel]:
        """Drop the estimators idle for `idle_seconds` (scale to zero); return what was dropped."""
        now = self.clock()
        with self.lock:
            idle = [k for k, v in self.loaded.items() if now - v.last_used >= self.idle_seconds]
            return [self.loaded.pop(key).served for key in idle]


def _served(model: Model, version: ModelVersion) -> ServedModel:
    """A registry row pair as a `ServedModel`; `info` is ORES's model_info tree."""
    estimator = version.estimator
    return ServedModel(
        wiki=model.wiki,
        name=model.name,
        version=version.version,
        version_id=version.id,
        status=model.status,
        feature_set=version.feature_set,
        feature_set_version=version.feature_set_version,
        features=tuple(version.features),
        labels=tuple(version.labels),
        info={
            "type": estimator.get("type"),
            "version": version.version,
            "params": estimator.get("params", {}),
            "environment": estimator.get("environment", {}),
            "statistics": version.statistics,
            "score_schema": score_schema(version.labels),
        },
        reference=tuple(estimator["reference"]) if estimator.get("reference") else None,
    )


def score_schema(labels: Sequence[Any]) -> dict[str, Any]:
    """The JSON schema of a score, as ORES's model_info gives it."""
    keys = ["true" if v is True else "false" if v is False else str(v) for v in labels]
    kind = "boolean" if all(isinstance(v, bool) for v in labels) else "string"
    return {
        "title": "Scikit learn-based classifier score with probability",
        "type": "object",
        "properties": {
            "prediction": {
                "description": "The most likely label predicted by the estimator",
                "type": kind,
            },
            "probability": {
                "description": "A mapping of probabilities onto each of the potential output "
                "labels",
                "type": "object",
                "properties": {key: {"type": "number"} for key in keys},
            },
        },
    }
