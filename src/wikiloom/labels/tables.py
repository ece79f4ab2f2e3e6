"""The labeling context's tables; invariants live here as constraints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.mysql import MEDIUMTEXT
from sqlalchemy.orm import Mapped, mapped_column

from wikiloom.db import Base, UTCDateTime

SAMPLING_STRATEGIES = ("random", "uncertainty", "margin", "entropy", "committee", "density")

#: States of a task inside a workset. `leased` holds a slot until the workset expires;
#: `labeled` holds it for good; the others have given it back.
LEASED, LABELED, SKIPPED, RELEASED, EXPIRED = "leased", "labeled", "skipped", "released", "expired"
WORKSET_TASK_STATES = (LEASED, LABELED, SKIPPED, RELEASED, EXPIRED)

#: States of a workset; only `open` ones block a new assignment.
OPEN, COMPLETE, ABANDONED = "open", "complete", "abandoned"
WORKSET_STATES = (OPEN, COMPLETE, ABANDONED, EXPIRED)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    """A labeler, keyed by the CentralAuth global user id (OAuth `sub`)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Campaign(Base):
    """A labeling campaign: a form and a view over a set of tasks on one wiki."""

    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("wiki", "name", "name_seq", name="uq_campaigns_wiki_name"),
        CheckConstraint("labels_per_task > 0", name="ck_campaigns_labels_per_task"),
        CheckConstraint("tasks_per_assignment > 0", name="ck_campaigns_tasks_per_assignment"),
        CheckConstraint("workset_expiry > 0", name="ck_campaigns_workset_expiry"),
        CheckConstraint("name_seq >= 0", name="ck_campaigns_name_seq"),
        CheckConstraint(_in("sampling", SAMPLING_STRATEGIES), name="ck_campaigns_sampling"),
        CheckConstraint(
            "holdout_fraction >= 0 AND holdout_fraction < 1", name="ck_campaigns_holdout_fraction"
        ),
        CheckConstraint("min_edit_count >= 0", name="ck_campaigns_min_edit_count"),
        CheckConstraint("retrain_every >= 1", name="ck_campaigns_retrain_every"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wiki: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    #: 0 for the first campaign of a (wiki, name); `--force` numbers the duplicates.
    name_seq: Mapped[int] = mapped_column(Integer, default=0)
    form: Mapped[str] = mapped_column(String(255))
    view: Mapped[str] = mapped_column(String(255))
    labels_per_task: Mapped[int] = mapped_column(Integer)
    tasks_per_assignment: Mapped[int] = mapped_column(Integer)
    info_url: Mapped[str | None] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Lifetime of a workset's leases, in seconds.
    workset_expiry: Mapped[int] = mapped_column(Integer, default=86400)
    sampling: Mapped[str] = mapped_column(String(32), default="random")
    #: The share of tasks kept in random order (never re-prioritised), for unbiased evaluation.
    holdout_fraction: Mapped[float] = mapped_column(Double, default=0.2)
    archived: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Labelers need one of these user groups on the wiki (None: anyone may label).
    required_groups: Mapped[list[str] | None] = mapped_column(JSON)
    #: Labelers need at least this many edits on the wiki.
    min_edit_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: New labeled tasks between two active-learning rounds.
    retrain_every: Mapped[int] = mapped_column(Integer, default=50, server_default="50")
    #: The form field the campaign's model learns (active sampling needs one).
    learning_field: Mapped[str | None] = mapped_column(String(64))
    #: The feature set the campaign's model reads.
    feature_set: Mapped[str] = mapped_column(
        String(64), default="editquality", server_default="editquality"
    )


class CampaignOrganizer(Base):
    """A user who manages a campaign."""

    __tablename__ = "campaign_organizers"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    added: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Task(Base):
    """One thing to label (a revision, an article, a face), as opaque JSON."""

    __tablename__ = "tasks"
    __table_args__ = (
        # The target of the (task, campaign) foreign keys, and the campaign index.
        UniqueConstraint("campaign_id", "id", name="uq_tasks_campaign_id"),
        # Assignment walks this index: least-assigned first, then by priority.
        Index("ix_tasks_assignment", "campaign_id", "assigned", "priority", "id"),
        CheckConstraint("assigned >= 0", name="ck_tasks_assigned"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    data: Mapped[Any] = mapped_column(JSON)
    #: Live assignments: leased (not yet reclaimed) or labeled. Never above labels_per_task.
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    #: Lower is served first; random by default, set by active learning otherwise.
    priority: Mapped[float] = mapped_column(Double, default=0.0)
    #: In the campaign's random holdout: never re-prioritised (marked by the first round).
    holdout: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Workset(Base):
    """A batch of tasks handed to one user, each task leased until `expires`."""

    __tablename__ = "worksets"
    __table_args__ = (
        UniqueConstraint("id", "user_id", "campaign_id", name="uq_worksets_id_user_campaign"),
        # At most one open workset per user and campaign: open_key is 1 while open, else NULL.
        UniqueConstraint("campaign_id", "user_id", "open_key", name="uq_worksets_open"),
        CheckConstraint("open_key = 1", name="ck_worksets_open_key"),
        CheckConstraint(_in("state", WORKSET_STATES), name="ck_worksets_state"),
        CheckConstraint(
            "(state = 'open' AND open_key IS NOT NULL) OR (state <> 'open' AND open_key IS NULL)",
            name="ck_worksets_open_state",
        ),
        Index("ix_worksets_user", "user_id", "campaign_id"),
        Index("ix_worksets_expiry", "campaign_id", "open_key", "expires"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    open_key: Mapped[int | None] = mapped_column(SmallInteger, default=1)


class WorksetTask(Base):
    """A task in a workset: the lease, and afterwards the memory that this user had it."""

    __tablename__ = "workset_tasks"
    __table_args__ = (
        # A user never receives a task twice.
        UniqueConstraint("task_id", "user_id", name="uq_workset_tasks_task_user"),
        ForeignKeyConstraint(
            ["workset_id", "user_id", "campaign_id"],
            ["worksets.id", "worksets.user_id", "worksets.campaign_id"],
            name="fk_workset_tasks_workset",
        ),
        ForeignKeyConstraint(
            ["campaign_id", "task_id"],
            ["tasks.campaign_id", "tasks.id"],
            name="fk_workset_tasks_task",
        ),
        CheckConstraint(_in("state", WORKSET_TASK_STATES), name="ck_workset_tasks_state"),
        Index("ix_workset_tasks_user", "user_id", "campaign_id"),
    )

    workset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=LEASED)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Label(Base):
    """A user's current label of a task; earlier versions live in `label_history`."""

    __tablename__ = "labels"
    __table_args__ = (
        # Only a task that was handed to this user can carry this user's label.
        ForeignKeyConstraint(
            ["task_id", "user_id"],
            ["workset_tasks.task_id", "workset_tasks.user_id"],
            name="fk_labels_workset_task",
        ),
        Index("ix_labels_user", "user_id"),
    )

    # Task and user are checked through the lease: (task, user) -> workset_tasks -> both.
    task_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[Any] = mapped_column(JSON)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LabelHistory(Base):
    """An earlier version of a label, kept when it was replaced or withdrawn."""

    __tablename__ = "label_history"
    __table_args__ = (
        ForeignKeyConstraint(
            ["task_id", "user_id"],
            ["workset_tasks.task_id", "workset_tasks.user_id"],
            name="fk_label_history_workset_task",
        ),
        CheckConstraint("reason IN ('relabel', 'skip')", name="ck_label_history_reason"),
        Index("ix_label_history_task_user", "task_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[Any] = mapped_column(JSON)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    replaced: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(16))


class Event(Base):
    """An append-only log of what happened: who did what to which campaign, and when."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_type_timestamp", "type", "timestamp"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("campaigns.id"))
    data: Mapped[Any] = mapped_column(JSON)


class CampaignRound(Base):
    """One active-learning round of a campaign: its model was fitted, measured, and asked
    which tasks to serve next (the learn context writes these facts).

    The holdout figures come from a model fitted on the labeled tasks outside the holdout
    and measured on the labeled holdout tasks. Holdout tasks are served in their random
    order, never by informativeness, so they are a random sample of the campaign and the
    estimate is unbiased; measured on actively chosen tasks (the hard, uncertain ones) it
    would be pessimistic, and measured on the tasks it was fitted on, optimistic.
    """

    __tablename__ = "campaign_rounds"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number", name="uq_campaign_rounds_number"),
        CheckConstraint("number >= 1", name="ck_campaign_rounds_number"),
        CheckConstraint(_in("strategy", SAMPLING_STRATEGIES), name="ck_campaign_rounds_strategy"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    #: 1 for a campaign's first round, then counting up.
    number: Mapped[int] = mapped_column(Integer)
    started: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Tasks holding any label when the round read them (the next round is due from here).
    labeled_tasks: Mapped[int] = mapped_column(Integer)
    #: Labeled tasks the model was fitted on (a value of the field and stored features).
    labels: Mapped[int] = mapped_column(Integer)
    #: Of those, the holdout tasks: the evaluation data.
    holdout_labels: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(32))
    #: The estimator's type and parameters, the field and the feature set it read.
    estimator: Mapped[Any] = mapped_column(JSON)
    classes: Mapped[Any] = mapped_column(JSON)
    holdout_roc_auc: Mapped[float | None] = mapped_column(Double)
    holdout_pr_auc: Mapped[float | None] = mapped_column(Double)
    #: Cohen's kappa of this round's predictions on the stop set against the previous one's.
    agreement: Mapped[float | None] = mapped_column(Double)
    stop_suggested: Mapped[bool] = mapped_column(Boolean)
    #: Tasks re-prioritised by this round.
    rescored: Mapped[int] = mapped_column(Integer)
    #: Assignable tasks left as they were because their revision has no stored features.
    without_features: Mapped[int] = mapped_column(Integer)
    #: The predictions on the stop set, {task id: label}, for the next round's comparison.
    stop_set: Mapped[Any] = mapped_column(JSON)


#: States of a form proposal; only `pending` ones wait for a review.
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
PROPOSAL_STATES = (PENDING, ACCEPTED, REJECTED)


class FormProposal(Base):
    """A form submitted through the form builder, waiting for or given an admin's review."""

    __tablename__ = "form_proposals"
    __table_args__ = (
        CheckConstraint(_in("status", PROPOSAL_STATES), name="ck_form_proposals_status"),
        CheckConstraint(
            "(status = 'pending' AND reviewed IS NULL AND reviewer_id IS NULL)"
            " OR (status <> 'pending' AND reviewed IS NOT NULL AND reviewer_id IS NOT NULL)",
            name="ck_form_proposals_review",
        ),
        Index("ix_form_proposals_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The file name the form would get (`<form_key>.yaml`).
    form_key: Mapped[str] = mapped_column(String(64))
    yaml: Mapped[str] = mapped_column(Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb"))
    i18n: Mapped[Any] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    user_name: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    reviewer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    reviewer_name: Mapped[str | None] = mapped_column(String(255))
    reviewed: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(Text)
