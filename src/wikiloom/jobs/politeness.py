"""Per-wiki politeness: every worker's batches to one wiki go out at most once per interval.

Celery's rate limits count per worker process; this gate lives in the database, so that
any number of workers on any number of machines share it. A batch takes the wiki's next
slot (one short write transaction), waits until it, then asks the wiki.
"""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import insert_ignore, run_transaction, utcnow
from wikiloom.jobs.tables import WikiGate


def reserve(session: Session, wiki: str, interval: float, now: dt.datetime | None = None) -> float:
    """Take the wiki's next free slot; return the seconds to wait before using it."""
    now = now or utcnow()
    session.execute(insert_ignore(session, WikiGate).values(wiki=wiki, next_at=now))
    gate = session.scalars(select(WikiGate).where(WikiGate.wiki == wiki).with_for_update()).one()
    slot = max(gate.next_at, now)
    gate.next_at = slot + dt.timedelta(seconds=interval)
    session.flush()
    return (slot - now).total_seconds()


def wait_for_turn(factory: sessionmaker[Session], wiki: str, interval: float) -> float:
    """Block until this process may send its next batch to `wiki`; return the wait."""
    if interval <= 0:
        return 0.0
    wait = run_transaction(factory, lambda session: reserve(session, wiki, interval), write=True)
    if wait > 0:
        time.sleep(wait)
    return wait
