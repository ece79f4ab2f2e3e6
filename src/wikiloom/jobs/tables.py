"""The job engine's tables: one row per idempotent job run, and per-wiki politeness gates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wikiloom.db import Base, UTCDateTime

RUNNING, DONE, FAILED = "running", "done", "failed"
RUN_STATES = (RUNNING, DONE, FAILED)


class JobRun(Base):
    """A job known by its idempotency key: who runs it, how far it got, what it did."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_job_runs_status"),
        CheckConstraint("attempts >= 1", name="ck_job_runs_attempts"),
    )

    #: The idempotency key: the same key is the same job, whatever delivered it.
    key: Mapped[str] = mapped_column(String(191), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=RUNNING)
    #: Deliveries that started it: more than one means a worker died or gave up mid-way.
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    #: `host:pid` of the worker process that holds it now.
    worker: Mapped[str] = mapped_column(String(191))
    started: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Renewed at every checkpoint; a running job whose heartbeat is old has lost its worker.
    heartbeat: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: What the job has durably done so far (batches), so that a new attempt resumes.
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)


class WikiGate(Base):
    """When the next batch of requests may go to a wiki, shared by every worker."""

    __tablename__ = "wiki_gates"

    wiki: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
