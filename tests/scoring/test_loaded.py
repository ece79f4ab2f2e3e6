"""The model pool: lazy loads, idle unloads, registry states and versions as they change."""

from __future__ import annotations

from sqlalchemy import Engine, text
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
from wikiloom.scoring.states import StateReader, reader_of


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


def test_states_are_read_over_one_connection_that_survives_breaking(
    engine: Engine, sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    reader = StateReader(engine)

    def states() -> list[tuple[str, str]]:
        return [(name, status) for name, status, _ in reader.read("enwiki")]

    assert states() == [("reverted", "active")]
    kept = reader.raw
    assert reader.read("dewiki") == []
    assert reader.raw is kept  # one connection, kept
    with transaction(sessions, write=True) as session:  # written over another connection
        set_status(session, get_model(session, "enwiki", "reverted"), "paused", actor="S",
                   reason="stop")  # fmt: skip
    assert states() == [("reverted", "paused")]  # no stale snapshot
    assert kept is not None
    if engine.dialect.name == "postgresql":  # the server ends it (a restart, a failover)
        pid = kept.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    elif engine.dialect.name == "mysql":
        thread = kept.dbapi_connection.thread_id()  # type: ignore[union-attr]
        with engine.connect() as other:
            other.execute(text(f"KILL {int(thread)}"))
    else:
        kept.dbapi_connection.close()  # type: ignore[union-attr]
    assert states() == [("reverted", "paused")]  # asked again, reconnected
    assert reader.raw is not kept
    engine.dispose()
    assert reader.raw is None  # given back with the engine's connections
    # However many pools (a precache job makes one per run), one reader per engine.
    assert ModelPool(sessions).reader is ModelPool(sessions).reader is reader_of(engine)
