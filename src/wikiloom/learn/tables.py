"""The learning context's tables: the feature store, models, their versions and audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.mysql import LONGBLOB
from sqlalchemy.orm import Mapped, mapped_column

from wikiloom.db import Base, UTCDateTime

#: A model's life on its wiki: proposed by its builders, tried, served, paused, retired.
PROPOSED, TRIAL, ACTIVE, PAUSED, RETIRED = "proposed", "trial", "active", "paused", "retired"
MODEL_STATES = (PROPOSED, TRIAL, ACTIVE, PAUSED, RETIRED)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class FeatureVector(Base):
    """The values of one feature set (at one version) for one revision of a wiki."""

    __tablename__ = "feature_vectors"
    __table_args__ = (
        UniqueConstraint("wiki", "rev_id", "feature_set", "version", name="uq_feature_vectors_key"),
        CheckConstraint("version > 0", name="ck_feature_vectors_version"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    wiki: Mapped[str] = mapped_column(String(64))
    rev_id: Mapped[int] = mapped_column(BigInteger)
    feature_set: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    #: The values in the feature set's column order.
    values: Mapped[list[float]] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Model(Base):
    """An ML model of one wiki (`enwiki` `damaging`): its state there and its served version."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("wiki", "name", name="uq_models_wiki_name"),
        CheckConstraint(_in("status", MODEL_STATES), name="ck_models_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wiki: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    #: What the model predicts: the label field it was trained on (`damaging`).
    target: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PROPOSED)
    #: The version served; None before the first.
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", use_alter=True, name="fk_models_current_version")
    )
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ModelVersion(Base):
    """An immutable trained version of a model: its file, features, statistics and provenance."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
        CheckConstraint("size > 0", name="ck_model_versions_size"),
        Index("ix_model_versions_model", "model_id", "created"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[str] = mapped_column(String(32))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(255))
    #: The feature set the model reads (name and version), None when trained on columns
    #: that no feature set of ours computes (it then scores injected features only).
    feature_set: Mapped[str | None] = mapped_column(String(64))
    feature_set_version: Mapped[int | None] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    labels: Mapped[list[Any]] = mapped_column(JSON)
    #: The estimator: its type and parameters (`model_info.type` and `.params`).
    estimator: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: ORES `model_info.statistics`, with how they were measured under `evaluation`.
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Where the training data came from: a file (name, sha256, rows) or a campaign (id,
    #: label counts, labelers, agreement, aggregation), the seed and the environment.
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The model file (skops), its size and SHA-256, checked at every load.
    file: Mapped[bytes] = mapped_column(
        LargeBinary().with_variant(LONGBLOB(), "mysql", "mariadb"), deferred=True
    )
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class ModelEvent(Base):
    """One entry of a model's public audit log: who changed what, when and why."""

    __tablename__ = "model_events"
    __table_args__ = (Index("ix_model_events_model", "model_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    #: `created`, `registered` (a new version), `status`, `current_version`, `published`.
    kind: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column(String(255))
    new: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The change request an entry is about (or was done for), if any (#8).
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_requests.id", name="fk_model_events_request")
    )


# Feedback on scores (#8)

#: What a user says of a score: the model was right, or wrong.
AGREE, DISAGREE = "agree", "disagree"
VERDICTS = (AGREE, DISAGREE)
#: A disagreement's life in the disputes queue: open, sent to a labeling campaign
#: (`queued`), settled by a reviewer (`resolved`), or set aside (`dismissed`).
OPEN, QUEUED, RESOLVED, DISMISSED = "open", "queued", "resolved", "dismissed"
FEEDBACK_STATES = (OPEN, QUEUED, RESOLVED, DISMISSED)


class Feedback(Base):
    """One user's judgment of one model's score of one revision; the latest one counts."""

    __tablename__ = "score_feedback"
    __table_args__ = (
        UniqueConstraint("model_id", "rev_id", "user_id", name="uq_score_feedback_user"),
        CheckConstraint(_in("verdict", VERDICTS), name="ck_score_feedback_verdict"),
        CheckConstraint(_in("status", FEEDBACK_STATES), name="ck_score_feedback_status"),
        CheckConstraint("rev_id > 0", name="ck_score_feedback_rev_id"),
        CheckConstraint(
            "status <> 'queued' OR campaign_id IS NOT NULL", name="ck_score_feedback_queued"
        ),
        Index("ix_score_feedback_disputes", "model_id", "verdict", "status", "id"),
        Index("ix_score_feedback_wiki", "wiki", "rev_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    #: The model version whose score the user saw.
    version: Mapped[str] = mapped_column(String(32))
    wiki: Mapped[str] = mapped_column(String(64))
    rev_id: Mapped[int] = mapped_column(BigInteger)
    verdict: Mapped[str] = mapped_column(String(16))
    #: The label the user says is right; None when a disagreement did not name one.
    correct_label: Mapped[Any | None] = mapped_column(JSON(none_as_null=True))
    comment: Mapped[str | None] = mapped_column(Text)
    #: The score the user saw (`{"prediction": …, "probability": {…}}`), when sent.
    score: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_name: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    #: The labeling campaign the dispute was sent to.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    resolved: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# Governance (#8)

#: What a change request asks for: retrain the model, change a threshold, turn it off.
RETRAIN, THRESHOLD, TURN_OFF = "retrain", "threshold", "turn_off"
REQUEST_KINDS = (RETRAIN, THRESHOLD, TURN_OFF)
#: A change request's life: open for discussion, then accepted or declined by a steward of
#: the wiki (or withdrawn by its author); an accepted request is `done` once the change is made.
REQUEST_STATES = ("open", "accepted", "declined", "withdrawn", "done")


class ChangeRequest(Base):
    """A request to change a model on its wiki, with its discussion's outcome."""

    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint(_in("kind", REQUEST_KINDS), name="ck_change_requests_kind"),
        CheckConstraint(_in("status", REQUEST_STATES), name="ck_change_requests_status"),
        CheckConstraint(
            "(status = 'open' AND decided IS NULL AND decided_by IS NULL AND outcome IS NULL)"
            " OR (status <> 'open' AND decided IS NOT NULL AND decided_by IS NOT NULL)",
            name="ck_change_requests_decision",
        ),
        Index("ix_change_requests_model", "model_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    #: The proposal: what to change and why.
    body: Mapped[str] = mapped_column(Text)
    #: What exactly is asked, by kind: for a threshold, `{"name", "label", "query" or "value"}`.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    user_name: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open")
    outcome: Mapped[str | None] = mapped_column(Text)
    #: Who decided (a steward, or the author who withdrew): username, and central user id.
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    decided: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ChangeRequestComment(Base):
    """One comment of a change request's discussion."""

    __tablename__ = "change_request_comments"
    __table_args__ = (Index("ix_change_request_comments_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("change_requests.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    user_name: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
