"""The job engine: a Celery app made from the settings, its jobs, retries and schedule.

Every job is idempotent by key (see `runs.py`): messages are acknowledged late, so a worker
killed mid-job leaves its message to another, which resumes from the last checkpoint. A
job fails at once on bad input (an `AppError`), and is retried with exponential backoff
when something passing stood in its way (a wiki or the database away, another worker
holding the same key).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from celery import Celery, Task
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.errors import AppError, ServiceUnavailable
from wikiloom.jobs.runs import Busy, Run, claim, fail, worker_name

LOG = logging.getLogger(__name__)
#: Backoff of retries: 2 s, 4 s, 8 s, … at most 10 minutes, each with up to 50 % jitter.
BACKOFF_BASE, BACKOFF_MAX = 2.0, 600.0


def broker_url(settings: Settings) -> str:
    """The broker the settings name, or an SQLite file beside an SQLite database."""
    if settings.broker_url:
        return settings.broker_url
    url = make_url(settings.database_url)
    directory = Path(".")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        directory = Path(url.database).parent
    return f"sqla+sqlite:///{(directory / 'wikiloom-jobs.db').as_posix()}"


def transport_options(settings: Settings) -> dict[str, Any]:
    """Broker options: Redis redelivers an unacknowledged job after the visibility timeout.

    The SQLAlchemy transport takes its options as engine arguments and never redelivers a
    job once taken: there the scheduler's `recover` job sends stale runs again.
    """
    if broker_url(settings).startswith(("redis", "rediss", "sentinel")):
        # Look for overdue jobs a few times per timeout (kombu's default: every 100 s).
        sweep = max(1.0, min(60.0, settings.job_visibility_timeout / 4))
        return {
            "visibility_timeout": settings.job_visibility_timeout,
            "unacked_restore_interval": sweep,
            "unacked_restore_throttle": 1,
        }
    return {}


@dataclass
class JobContext:
    """What jobs of one worker process share: the settings and a database made after fork."""

    settings: Settings
    _factory: sessionmaker[Session] | None = field(default=None, repr=False)
    _pid: int = field(default=0, repr=False)

    @property
    def factory(self) -> sessionmaker[Session]:
        """The session factory of this process (pool children each make their own)."""
        if self._factory is None or self._pid != os.getpid():
            self._factory = session_factory(make_engine(self.settings))
            self._pid = os.getpid()
        return self._factory


#: A job's body: it gets the context, its run (key, progress) and its arguments.
Body = Callable[..., Any]


def job_key(name: str, arguments: Mapping[str, Any]) -> str:
    """The default idempotency key: the job's name and a digest of its arguments."""
    digest = hashlib.sha256(orjson.dumps(dict(arguments), option=orjson.OPT_SORT_KEYS))
    return f"{name}:{digest.hexdigest()[:24]}"


def is_passing(error: BaseException) -> bool:
    """Tell whether an error may go away by itself (worth a retry)."""
    if isinstance(error, Busy | ServiceUnavailable | httpx.TransportError):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, DBAPIError) and (
        error.connection_invalidated or type(error).__name__ == "OperationalError"
    )


def backoff(retries: int, minimum: float = 0.0) -> float:
    """Seconds before the next try: exponential with jitter, at least `minimum`."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**retries)
    return float(max(minimum, delay * random.uniform(0.5, 1.0)))


def _define_periodic(app: Celery, context: JobContext, name: str, body: Body) -> None:
    def tick(task: Task) -> Any:
        return body(context, app)

    app.task(name=f"wikiloom.{name}", bind=True, acks_late=True, ignore_result=True)(tick)


def _define(app: Celery, context: JobContext, name: str, body: Body) -> None:
    settings = context.settings

    def run(task: Task, *, key: str | None = None, **arguments: Any) -> Any:
        key = key or job_key(name, arguments)
        worker = worker_name()
        try:
            with transaction(context.factory, write=True) as session:
                claimed = claim(session, key, name, arguments, stale_after=settings.job_stale_after)
            if claimed.done:
                LOG.info("job %s is already done", key)
                return claimed.result
            return body(context, Run(key, worker, claimed.attempts, claimed.progress), **arguments)
        except Exception as error:
            if is_passing(error) and task.request.retries < settings.job_max_retries:
                wait = backoff(task.request.retries, getattr(error, "retry_after", 0.0))
                LOG.warning("job %s will be tried again in %.0f s: %s", key, wait, error)
                raise task.retry(kwargs={"key": key, **arguments}, countdown=wait) from error
            message = error.message if isinstance(error, AppError) else repr(error)
            LOG.error("job %s failed: %s", key, message)
            with transaction(context.factory, write=True) as session:
                fail(session, key, message, worker=worker)
            raise

    app.task(name=f"wikiloom.{name}", bind=True, acks_late=True, max_retries=None)(run)


def create_celery(settings: Settings, jobs: Mapping[str, Body] | None = None) -> Celery:
    """The Celery app of these settings, with every job of `jobs` (default: all of them)."""
    from wikiloom.jobs.catalog import JOBS, PERIODIC, schedule

    app = Celery("wikiloom", broker=broker_url(settings), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.job_queue,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options(settings),
        timezone="UTC",
        enable_utc=True,
        beat_schedule=schedule(settings),
        worker_hijack_root_logger=False,
    )
    context = JobContext(settings)
    for name, body in (jobs or JOBS).items():
        _define(app, context, name, body)
    for name, body in PERIODIC.items():
        _define_periodic(app, context, name, body)
    return app


def declare_queues(app: Celery, *, attempts: int = 3) -> None:
    """Declare the job queue before a worker consumes from it.

    Two workers starting at once on a fresh SQLite broker race to create the queue: kombu's
    SQLAlchemy transport looks the queue's row up, then inserts it, and the loser's insert
    breaks the unique name (the worker died at start). Declared here first, with retries,
    the loser finds the row on its next try. Declaring is what the worker does anyway, with
    Celery's own queue definition, so on Redis and RabbitMQ it changes nothing.
    """
    for attempt in range(1, attempts + 1):
        try:
            with app.connection_for_write() as connection:
                for queue in app.amqp.queues.values():
                    queue(connection.default_channel).declare()
            return
        except Exception:
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)


def enqueue(app: Celery, name: str, *, key: str | None = None, **arguments: Any) -> str:
    """Send a job to the broker and return its idempotency key; fails loudly if it cannot."""
    key = key or job_key(name, arguments)
    try:
        app.send_task(f"wikiloom.{name}", kwargs={"key": key, **arguments})
    except Exception as error:  # kombu raises its own and the transport's errors
        raise ServiceUnavailable(f"the job broker refused {name}: {error}") from error
    return key
