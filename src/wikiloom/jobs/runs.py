"""Idempotent job runs: one row per key says who runs a job, how far it got and what it did.

A broker delivers a message at least once (acks_late: a worker that dies mid-job leaves
the message to another). The ledger turns that into one effect per key: a delivery of a
finished key returns the stored result without running; a delivery of a key another live
worker holds waits (`Busy`); a delivery of a key whose worker stopped renewing its
heartbeat takes it over, from the last checkpoint. A job commits each batch of work
together with its checkpoint, and its final effect together with `finish`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.db import insert_ignore, utcnow
from wikiloom.errors import AppError, NotFound
from wikiloom.jobs.tables import DONE, FAILED, RUNNING, JobRun


class Busy(AppError):
    """Another live worker runs this job (or holds the gate): try again later."""

    code = "busy"
    status = 503

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: run it (from `progress`), or it is already done."""

    key: str
    done: bool
    attempts: int
    progress: dict[str, Any]
    result: Any = None


@dataclass
class Run:
    """A claimed job run, as its body sees it: record progress, then finish."""

    key: str
    worker: str
    attempts: int
    progress: dict[str, Any]

    def checkpoint(self, session: Session, progress: dict[str, Any]) -> None:
        """Record progress in the transaction of the work it counts."""
        checkpoint(session, self.key, progress, worker=self.worker)
        self.progress = progress

    def finish(self, session: Session, result: Any) -> None:
        """Mark the run done in the transaction of its last effect."""
        finish(session, self.key, result, worker=self.worker)


def worker_name() -> str:
    """This process as the ledger names it: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(
    session: Session,
    key: str,
    name: str,
    arguments: dict[str, Any],
    *,
    stale_after: float,
    worker: str | None = None,
    now: dt.datetime | None = None,
) -> Claim:
    """Take the run of `key` for this worker, or say it is done, or raise `Busy`."""
    now = now or utcnow()
    worker = worker or worker_name()
    session.execute(
        insert_ignore(session, JobRun).values(
            key=key,
            name=name,
            arguments=arguments,
            status=RUNNING,
            attempts=1,
            worker=worker,
            started=now,
            heartbeat=now,
            progress={},
        )
    )
    run = session.scalars(select(JobRun).where(JobRun.key == key).with_for_update()).one()
    if run.status == DONE:
        return Claim(key, True, run.attempts, dict(run.progress), run.result)
    if run.worker != worker or run.status == FAILED:
        age = (now - run.heartbeat).total_seconds()
        if run.status == RUNNING and age < stale_after:
            raise Busy(f"job {key} runs on {run.worker}", retry_after=stale_after - age)
        run.attempts += 1
        run.worker, run.status, run.error = worker, RUNNING, None
    run.heartbeat = now
    session.flush()
    return Claim(key, False, run.attempts, dict(run.progress))


def _held(session: Session, key: str, worker: str | None) -> JobRun:
    run = session.scalars(select(JobRun).where(JobRun.key == key).with_for_update()).first()
    if run is None:
        raise NotFound(f"no job run {key!r}")
    if run.worker != (worker or worker_name()) or run.status != RUNNING:
        raise Busy(f"job {key} was taken over by {run.worker}", retry_after=0)
    return run


def checkpoint(
    session: Session, key: str, progress: dict[str, Any], *, worker: str | None = None
) -> None:
    """Record how far the job got, in the transaction that stored that much work."""
    run = _held(session, key, worker)
    run.progress, run.heartbeat = progress, utcnow()
    session.flush()


def finish(session: Session, key: str, result: Any, *, worker: str | None = None) -> None:
    """Mark the job done with its result, in the transaction of its last effect."""
    run = _held(session, key, worker)
    run.status, run.result, run.finished = DONE, result, utcnow()
    run.heartbeat = run.finished
    session.flush()


def fail(session: Session, key: str, error: str, *, worker: str | None = None) -> None:
    """Mark the job failed for good (no retry left); a new delivery may start it again."""
    run = session.get(JobRun, key, with_for_update=True)
    if run is not None and run.worker == (worker or worker_name()):
        run.status, run.error, run.finished = FAILED, error[:4000], utcnow()
        session.flush()


def get_run(session: Session, key: str) -> JobRun:
    """A job run by key; `NotFound` names it when there is none."""
    run = session.get(JobRun, key)
    if run is None:
        raise NotFound(f"no job run {key!r}")
    return run


def recent_runs(session: Session, limit: int = 50, name: str | None = None) -> list[JobRun]:
    """The most recently started job runs (of one job name)."""
    query = select(JobRun).order_by(JobRun.started.desc(), JobRun.key).limit(limit)
    if name is not None:
        query = query.where(JobRun.name == name)
    return list(session.scalars(query))


def stale_runs(
    session: Session, stale_after: float, now: dt.datetime | None = None
) -> list[JobRun]:
    """Running jobs whose heartbeat is older than `stale_after` seconds: their worker died."""
    limit = (now or utcnow()) - dt.timedelta(seconds=stale_after)
    query = select(JobRun).where(JobRun.status == RUNNING, JobRun.heartbeat < limit)
    return list(session.scalars(query.order_by(JobRun.started)))
