"""The job ledger on every engine: one effect per key, takeover of abandoned runs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction, utcnow
from wikiloom.errors import NotFound
from wikiloom.jobs.runs import Busy, Run, claim, fail, finish, get_run, stale_runs
from wikiloom.jobs.tables import DONE, FAILED, RUNNING

ARGS = {"campaign_id": 7}


def claim_as(sessions: sessionmaker[Session], worker: str, *, at: dt.datetime | None = None) -> Run:
    with transaction(sessions, write=True) as session:
        claimed = claim(session, "k", "export", ARGS, stale_after=60, worker=worker, now=at)
        assert not claimed.done
        return Run(claimed.key, worker, claimed.attempts, claimed.progress)


def test_a_claimed_run_resumes_from_its_checkpoint_and_ends_once(
    sessions: sessionmaker[Session],
) -> None:
    run = claim_as(sessions, "a:1")
    assert (run.attempts, run.progress) == (1, {})
    with transaction(sessions, write=True) as session:
        run.checkpoint(session, {"stored": 3})
    again = claim_as(sessions, "a:1")  # the same worker, delivered again
    assert (again.attempts, again.progress) == (1, {"stored": 3})
    with transaction(sessions, write=True) as session:
        again.finish(session, {"lines": 3})
    with transaction(sessions, write=True) as session:
        done = claim(session, "k", "export", ARGS, stale_after=60, worker="b:2")
    assert done.done
    assert done.result == {"lines": 3}
    with transaction(sessions) as session:
        stored = get_run(session, "k")
        assert (stored.status, stored.worker, stored.arguments) == (DONE, "a:1", ARGS)
        assert stored.finished is not None


def test_a_live_run_is_busy_and_an_abandoned_one_is_taken_over(
    sessions: sessionmaker[Session],
) -> None:
    start = utcnow()
    first = claim_as(sessions, "a:1", at=start)
    with transaction(sessions, write=True) as session:
        first.checkpoint(session, {"stored": 2})
    with (
        pytest.raises(Busy, match="runs on a:1") as busy,
        transaction(sessions, write=True) as session,
    ):
        claim(session, "k", "export", ARGS, stale_after=60, worker="b:2")
    assert 0 < busy.value.retry_after <= 60
    later = utcnow() + dt.timedelta(seconds=61)
    with transaction(sessions) as session:
        assert [run.key for run in stale_runs(session, 60, now=later)] == ["k"]
        assert stale_runs(session, 60) == []
    second = claim_as(sessions, "b:2", at=later)
    assert (second.attempts, second.progress) == (2, {"stored": 2})
    # The first worker wakes up: it may no longer write as the run's holder.
    with pytest.raises(Busy, match="taken over by b:2"), transaction(sessions, write=True) as s:
        first.finish(s, {"lines": 0})
    with transaction(sessions, write=True) as session:
        fail(session, "k", "the wiki said no", worker="b:2")
    with transaction(sessions) as session:
        assert get_run(session, "k").status == FAILED
    third = claim_as(sessions, "c:3")  # a failed run starts again on the next delivery
    assert third.attempts == 3
    with transaction(sessions) as session:
        assert (get_run(session, "k").status, get_run(session, "k").error) == (RUNNING, None)


def test_finishing_an_unknown_run_names_it(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(NotFound, match="no job run 'nope'"), transaction(sessions) as session:
        finish(session, "nope", None, worker="a:1")
