"""The per-wiki gate on every engine: batches to one wiki at least an interval apart."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction, utcnow
from wikiloom.jobs.politeness import reserve, wait_for_turn


def test_each_batch_to_a_wiki_gets_the_next_slot(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    waits = []
    for _ in range(3):
        with transaction(sessions, write=True) as session:
            waits.append(reserve(session, "enwiki", 0.5, now=now))
    assert waits == [0.0, 0.5, 1.0]
    with transaction(sessions, write=True) as session:
        assert reserve(session, "dewiki", 0.5, now=now) == 0.0  # another wiki, its own gate
    with transaction(sessions, write=True) as session:  # once the slots have passed
        assert reserve(session, "enwiki", 0.5, now=now + dt.timedelta(seconds=5)) == 0.0


def test_waiting_for_a_turn_sleeps_until_the_slot(sessions: sessionmaker[Session]) -> None:
    started = time.monotonic()
    waits = [wait_for_turn(sessions, "frwiki", 0.2) for _ in range(3)]
    assert time.monotonic() - started >= 0.35
    assert waits[0] == 0.0
    assert 0.1 < waits[2] <= 0.2
    assert wait_for_turn(sessions, "frwiki", 0) == 0.0
