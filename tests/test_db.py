"""Engines, transactions and retries against the real database servers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import is_retryable, run_transaction, transaction
from wikiloom.labels.tables import User


def test_timestamps_are_utc_and_naive_ones_are_refused(sessions: sessionmaker[Session]) -> None:
    moment = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with transaction(sessions) as session:
        session.add(User(id=1, name="A", created=moment))
    with transaction(sessions) as session:
        created = session.scalars(select(User.created)).one()
    assert created == moment
    assert created.tzinfo == dt.UTC
    naive = User(id=2, name="B", created=dt.datetime(2026, 3, 1))
    with transaction(sessions) as session:
        session.add(naive)
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()
        session.rollback()


def test_a_deadlock_victim_is_run_again(engine: Engine, sessions: sessionmaker[Session]) -> None:
    """Two transactions lock two rows in opposite orders; the victim is retried and succeeds."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite serialises writers: it has no deadlocks to retry")
    now = dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:
        session.execute(insert(User), [{"id": 1, "created": now}, {"id": 2, "created": now}])
    both_hold_one = threading.Barrier(2, timeout=10)
    attempts: list[int] = []
    retried: list[BaseException] = []

    def rename(first: int, second: int) -> None:
        def work(session: Session) -> None:
            attempts.append(first)
            session.execute(update(User).where(User.id == first).values(name=f"by {first}"))
            if len(attempts) <= 2:  # only the first round meets at the barrier
                both_hold_one.wait()
            session.execute(update(User).where(User.id == second).values(name=f"by {first}"))

        run_transaction(sessions, work, write=True, on_retry=retried.append)

    threads = [threading.Thread(target=rename, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(retried) == 1
    assert is_retryable(retried[0])
    assert len(attempts) == 3
    with transaction(sessions) as session:
        names = set(session.scalars(select(User.name)))
    assert len(names) == 1  # one transaction renamed both rows last, whole


def test_other_errors_are_not_retried(sessions: sessionmaker[Session]) -> None:
    calls: list[int] = []

    def work(session: Session) -> None:
        calls.append(1)
        session.execute(insert(User).values(id=1, created=dt.datetime.now(dt.UTC)))
        session.execute(insert(User).values(id=1, created=dt.datetime.now(dt.UTC)))

    with pytest.raises(Exception, match=r"(?i)unique|duplicate|primary"):
        run_transaction(sessions, work)
    assert calls == [1]
