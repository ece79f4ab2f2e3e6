"""The model registry: models per wiki, immutable versions, states, and the audit log."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, Conflict, NotFound
from wikiloom.learn.modelfiles import checksum, dump_model, load_model
from wikiloom.learn.tables import (
    ACTIVE,
    MODEL_STATES,
    PAUSED,
    PROPOSED,
    RETIRED,
    TRIAL,
    Model,
    ModelEvent,
    ModelVersion,
)

#: Which state may follow which. A retired model comes back only as a new proposal.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    PROPOSED: frozenset({TRIAL, ACTIVE, RETIRED}),
    TRIAL: frozenset({PROPOSED, ACTIVE, PAUSED, RETIRED}),
    ACTIVE: frozenset({TRIAL, PAUSED, RETIRED}),
    PAUSED: frozenset({TRIAL, ACTIVE, RETIRED}),
    RETIRED: frozenset({PROPOSED}),
}
#: States in which a model answers scoring requests (`paused` and `retired` do not).
SERVED_STATES = frozenset({TRIAL, ACTIVE})
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")


@dataclass(frozen=True)
class TrainedModel:
    """What training hands the registry: the estimator and everything a card needs."""

    estimator: Any
    features: Sequence[str]
    labels: Sequence[Any]
    estimator_info: Mapping[str, Any]
    statistics: Mapping[str, Any]
    provenance: Mapping[str, Any]
    feature_set: str | None = None
    feature_set_version: int | None = None


def log_event(
    session: Session,
    model: Model,
    kind: str,
    *,
    old: str | None = None,
    new: str | None = None,
    actor: str | None = None,
    reason: str | None = None,
    version: ModelVersion | None = None,
    request_id: int | None = None,
) -> ModelEvent:
    """Append one entry to a model's audit log (`request_id`: the change request it is about)."""
    event = ModelEvent(
        model_id=model.id,
        version_id=None if version is None else version.id,
        kind=kind,
        old=old,
        new=new,
        actor=actor,
        reason=reason,
        at=utcnow(),
        request_id=request_id,
    )
    session.add(event)
    session.flush()
    return event


def create_model(
    session: Session,
    wiki: str,
    name: str,
    target: str,
    *,
    description: str | None = None,
    actor: str | None = None,
) -> Model:
    """Create a proposed model of a wiki; names are lowercase (`damaging`, `wp10`)."""
    if not NAME.fullmatch(name):
        raise BadRequest(f"a model name is lowercase letters, digits and underscores, not {name!r}")
    if find_model(session, wiki, name) is not None:
        raise Conflict(f"{wiki} already has a model named {name!r}")
    model = Model(
        wiki=wiki,
        name=name,
        target=target,
        description=description,
        status=PROPOSED,
        created=utcnow(),
    )
    session.add(model)
    session.flush()
    log_event(session, model, "created", new=PROPOSED, actor=actor)
    return model


def find_model(session: Session, wiki: str, name: str) -> Model | None:
    """A wiki's model by name, or None."""
    return session.scalar(select(Model).where(Model.wiki == wiki, Model.name == name))


def get_model(session: Session, wiki: str, name: str) -> Model:
    """A wiki's model by name; `NotFound` names it when there is none."""
    model = find_model(session, wiki, name)
    if model is None:
        raise NotFound(f"{wiki} has no model named {name!r}")
    return model


def models_of(session: Session, wiki: str | None = None) -> list[Model]:
    """Every model (of one wiki), by wiki and name."""
    query = select(Model).order_by(Model.wiki, Model.name)
    if wiki is not None:
        query = query.where(Model.wiki == wiki)
    return list(session.scalars(query))


def next_version(session: Session, model: Model) -> str:
    """The version a new registration gets by default: `1.0`, `2.0`, …"""
    count = session.scalar(
        select(func.count()).select_from(ModelVersion).where(ModelVersion.model_id == model.id)
    )
    return f"{(count or 0) + 1}.0"


def register_version(
    session: Session,
    model: Model,
    trained: TrainedModel,
    *,
    version: str | None = None,
    actor: str | None = None,
    make_current: bool | None = None,
) -> ModelVersion:
    """Store a trained model as a new immutable version (its file checksummed).

    The first version becomes the current one; later ones only with `make_current`.
    """
    label = version or next_version(session, model)
    if not VERSION.fullmatch(label):
        raise BadRequest(f"a model version is letters, digits, '.', '-' and '_', not {label!r}")
    exists = session.scalar(
        select(ModelVersion.id).where(
            ModelVersion.model_id == model.id, ModelVersion.version == label
        )
    )
    if exists is not None:
        raise Conflict(
            f"{model.wiki} {model.name} already has a version {label}: versions are immutable"
        )
    data = dump_model(trained.estimator)
    row = ModelVersion(
        model_id=model.id,
        version=label,
        created=utcnow(),
        created_by=actor,
        feature_set=trained.feature_set,
        feature_set_version=trained.feature_set_version,
        features=list(trained.features),
        labels=list(trained.labels),
        estimator=dict(trained.estimator_info),
        statistics=dict(trained.statistics),
        provenance=dict(trained.provenance),
        file=data,
        size=len(data),
        sha256=checksum(data),
    )
    session.add(row)
    session.flush()
    log_event(session, model, "registered", new=label, actor=actor, version=row)
    if make_current or (make_current is None and model.current_version_id is None):
        set_current_version(session, model, label, actor=actor, reason="first version")
    return row


def get_version(session: Session, model: Model, version: str | None = None) -> ModelVersion:
    """A version of a model by its label, or the current one; `NotFound` otherwise."""
    if version is None:
        row = (
            None
            if model.current_version_id is None
            else session.get(ModelVersion, model.current_version_id)
        )
        if row is None:
            raise NotFound(f"{model.wiki} {model.name} has no version yet")
        return row
    row = session.scalar(
        select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"{model.wiki} {model.name} has no version {version!r}")
    return row


def versions_of(session: Session, model: Model) -> list[ModelVersion]:
    """A model's versions, oldest first."""
    return list(
        session.scalars(
            select(ModelVersion).where(ModelVersion.model_id == model.id).order_by(ModelVersion.id)
        )
    )


def set_current_version(
    session: Session, model: Model, version: str, *, actor: str | None, reason: str | None
) -> ModelVersion:
    """Serve another version of a model (logged)."""
    row = get_version(session, model, version)
    old = None
    if model.current_version_id is not None:
        old = get_version(session, model).version
    model.current_version_id = row.id
    session.flush()
    log_event(
        session,
        model,
        "current_version",
        old=old,
        new=row.version,
        actor=actor,
        reason=reason,
        version=row,
    )
    return row


def set_status(
    session: Session,
    model: Model,
    status: str,
    *,
    actor: str | None,
    reason: str,
    request_id: int | None = None,
) -> Model:
    """Move a model to another state on its wiki, saying why (logged, citing a request)."""
    if status not in MODEL_STATES:
        raise BadRequest(f"unknown model status {status!r}; one of {', '.join(MODEL_STATES)}")
    if not reason or not reason.strip():
        raise BadRequest("say why the model's status changes: a reason is required")
    if status not in TRANSITIONS[model.status]:
        allowed = ", ".join(sorted(TRANSITIONS[model.status]))
        raise Conflict(f"a {model.status} model cannot become {status}; it can become {allowed}")
    old, model.status = model.status, status
    session.flush()
    log_event(
        session,
        model,
        "status",
        old=old,
        new=status,
        actor=actor,
        reason=reason,
        request_id=request_id,
    )
    return model


def events_of(session: Session, model: Model) -> list[ModelEvent]:
    """A model's audit log, oldest first."""
    return list(
        session.scalars(
            select(ModelEvent).where(ModelEvent.model_id == model.id).order_by(ModelEvent.id)
        )
    )


def load_estimator(session: Session, version: ModelVersion) -> Any:
    """The estimator of a version, its file checked against the stored SHA-256."""
    return load_model(version.file, version.sha256)
