"""Models in memory: loaded on first use, unloaded when idle, served only in a serving state.

The registry says which models a wiki serves (`trial` or `active`) and which version. The pool
asks it once per scoring request by default (`state_ttl=0`): one indexed query of the wiki's
model names, states and current versions, in one round trip (`states.StateReader`), so that
a pause takes effect at the next request in every process, whatever a process had cached.
Versions are immutable: each is read once and kept, and each loaded estimator is kept until
it has been idle for `idle_seconds`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.errors import ModelNotServed, NotFound
from wikiloom.learn.audit import audit_path
from wikiloom.learn.modelfiles import load_model
from wikiloom.learn.registry import SERVED_STATES
from wikiloom.learn.tables import PAUSED, PROPOSED, RETIRED, Model, ModelVersion
from wikiloom.scoring.states import reader_of


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


@dataclass(frozen=True)
class WikiModels:
    """A wiki's models as the registry has them now: served, and held back (by name)."""

    wiki: str
    served: dict[str, ServedModel]
    #: The state of each model the wiki has but does not serve (paused, retired, proposed,
    #: or a served state before its first version).
    held: dict[str, str] = field(default_factory=dict)


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
        state_ttl: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.reader = reader_of(factory.kw["bind"])
        self.idle_seconds = idle_seconds
        #: Seconds a wiki's states are reused; 0 (the default) asks at every request.
        self.state_ttl = state_ttl
        self.clock = clock
        self.lock = threading.Lock()
        self.states: dict[str, tuple[float, WikiModels]] = {}
        self.loaded: dict[int, LoadedModel] = {}
        self.versions: dict[tuple[int, str], ServedModel] = {}
        #: Estimators loaded so far, for metrics and tests.
        self.loads = 0

    def stale(self, wiki: str) -> bool:
        """Whether the next `models(wiki)` asks the registry (so should run off the event loop)."""
        cached = self.states.get(wiki)
        return cached is None or self.clock() - cached[0] >= self.state_ttl

    def models(self, wiki: str) -> WikiModels:
        """A wiki's models now: asked of the registry unless asked within `state_ttl`."""
        now = self.clock()
        with self.lock:
            cached = self.states.get(wiki)
            if cached is not None and now - cached[0] < self.state_ttl:
                return cached[1]
        found = self._read(wiki)
        with self.lock:
            self.states[wiki] = (now, found)
        return found

    def served(self, wiki: str) -> dict[str, ServedModel]:
        """The models a wiki serves now, by name."""
        return self.models(wiki).served

    def _read(self, wiki: str) -> WikiModels:
        """Ask the registry: one query of names, states and versions; new versions read once."""
        served, held, new = {}, {}, []
        for name, status, version_id in self.reader.read(wiki):
            if status not in SERVED_STATES or version_id is None:
                held[name] = status
            elif (version := self.versions.get((version_id, status))) is not None:
                served[name] = version
            else:
                new.append((name, status, version_id))
        if new:
            with transaction(self.factory) as session:
                for name, status, version_id in new:
                    row = session.get_one(ModelVersion, version_id)
                    served[name] = self.versions[version_id, status] = _served(
                        wiki, name, status, row
                    )
            served = dict(sorted(served.items()))
        return WikiModels(wiki, served, held)

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
        """The served models asked for (all of the wiki's by default); see `pick`."""
        return pick(self.models(wiki), names)

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


def not_served(wiki: str, name: str, state: str) -> ModelNotServed:
    """Why a model of the wiki answers no scores, pointing to its audit log."""
    log = audit_path(wiki, name)
    if state == PAUSED:
        why = f"is paused on {wiki}: it answers no scores there until it is resumed"
    elif state == RETIRED:
        why = f"is retired on {wiki}: it answers no scores there any more"
    elif state == PROPOSED:
        why = f"is proposed on {wiki} and not served there yet"
    else:
        why = f"has no version to serve on {wiki} yet"
    return ModelNotServed(f"The model {name!r} {why}. Why is in the audit log: {log}", state)


def pick(found: WikiModels, names: Sequence[str] | None) -> list[ServedModel]:
    """The served models asked for (all of the wiki's by default), as ORES refuses others.

    A model the wiki holds back (paused, retired, proposed) is refused by name, saying so.
    """
    wiki, served = found.wiki, found.served
    if names is None:
        if served:
            return list(served.values())
        if found.held:
            states = ", ".join(f"{name} is {state}" for name, state in found.held.items())
            raise ModelNotServed(
                f"No scorers available for {wiki}: {states}. "
                f"Why is in the audit log: {audit_path(wiki)}",
                next(iter(found.held.values())),
            )
        raise NotFound(f"No scorers available for {wiki}")
    held = [name for name in names if name in found.held]
    if held:
        raise not_served(wiki, held[0], found.held[held[0]])
    missing = tuple(name for name in names if name not in served)
    if missing:
        raise NotFound(f"Models {missing!r} not available for {wiki}")
    return [served[name] for name in dict.fromkeys(names)]


def _served(wiki: str, name: str, status: str, version: ModelVersion) -> ServedModel:
    """A registry row pair as a `ServedModel`; `info` is ORES's model_info tree."""
    estimator = version.estimator
    return ServedModel(
        wiki=wiki,
        name=name,
        version=version.version,
        version_id=version.id,
        status=status,
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
