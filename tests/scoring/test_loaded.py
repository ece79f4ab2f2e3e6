"""The model pool: lazy loads, idle unloads, registry states and versions as they change."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests.support.models import register
from wikiloom.db import transaction
from wikiloom.learn.registry import (
    TrainedModel,
    get_model,
    register_version,
    set_current_version,
    set_status,
)
from wikiloom.scoring.loaded import ModelPool


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_models_load_on_first_use_and_unload_when_idle(
    sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    clock = Clock()
    pool = ModelPool(sessions, idle_seconds=60, state_ttl=0, clock=clock)
    (served,) = pool.resolve("enwiki", None)
    assert pool.loaded == {}  # nothing loaded until a score is needed
    first = pool.get(served)
    assert pool.get(served) is first
    assert pool.loads == 1
    clock.now += 59
    assert pool.unload_idle() == []
    pool.get(served)  # used again: the idle time starts over
    clock.now += 60
    assert [m.name for m in pool.unload_idle()] == ["reverted"]
    assert pool.loaded == {}
    pool.get(served)
    assert pool.loads == 2  # loaded again on the next request


def test_states_and_versions_take_effect_after_the_state_ttl(
    sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    clock = Clock()
    pool = ModelPool(sessions, state_ttl=1.0, clock=clock)
    assert pool.served("enwiki")["reverted"].version == "1.0"
    assert pool.wikis() == ["enwiki"]
    with transaction(sessions, write=True) as session:
        model = get_model(session, "enwiki", "reverted")
        register_version(session, model, sample_trained)
        set_current_version(session, model, "2.0", actor="B", reason="better")
    assert pool.served("enwiki")["reverted"].version == "1.0"  # within the TTL
    clock.now += 1.0
    assert pool.served("enwiki")["reverted"].version == "2.0"
    with transaction(sessions, write=True) as session:
        set_status(session, get_model(session, "enwiki", "reverted"), "paused", actor="S",
                   reason="stop")  # fmt: skip
    clock.now += 1.0
    assert pool.served("enwiki") == {}
    assert pool.wikis() == []
