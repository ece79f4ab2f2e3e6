"""The model registry on every engine: versions, files, states and the audit log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.errors import BadRequest, Conflict, NotFound
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.modelfiles import ModelFileError
from wikiloom.learn.registry import (
    TRANSITIONS,
    create_model,
    events_of,
    get_model,
    get_version,
    load_estimator,
    models_of,
    register_version,
    set_current_version,
    set_status,
    versions_of,
)
from wikiloom.learn.tables import MODEL_STATES, ModelVersion
from wikiloom.learn.training import TrainingOptions, train

SAMPLE = Path(__file__).parent.parent / "data" / "editquality" / "enwiki.reverted.sample.csv"


@pytest.fixture(scope="module")
def trained() -> object:
    dataset = read_dataset(SAMPLE, "reverted")
    return train(dataset, TrainingOptions(params={"max_iter": 30}))


def test_versions_are_stored_checksummed_and_load_back(
    sessions: sessionmaker[Session], trained: object
) -> None:
    dataset = read_dataset(SAMPLE, "reverted")
    with transaction(sessions, write=True) as session:
        model = create_model(session, "enwiki", "reverted", "reverted", actor="Builder")
        first = register_version(session, model, trained, actor="Builder")  # type: ignore[arg-type]
        second = register_version(session, model, trained, version="2.1-rc", actor="Builder")  # type: ignore[arg-type]
        assert (first.version, second.version) == ("1.0", "2.1-rc")
        assert model.current_version_id == first.id  # later versions wait to be chosen
    with transaction(sessions) as session:
        model = get_model(session, "enwiki", "reverted")
        version = get_version(session, model)
        assert version.version == "1.0"
        assert version.size == len(version.file) > 1000
        assert len(version.sha256) == 64
        assert version.features == list(dataset.features)
        assert version.labels == [False, True]
        assert version.statistics["evaluation"]["method"] == "cross-validation"
        assert version.provenance["training_data"]["name"] == SAMPLE.name
        estimator = load_estimator(session, version)
        expected = trained.estimator.predict_proba(dataset.X)  # type: ignore[attr-defined]
        assert np.array_equal(estimator.predict_proba(dataset.X), expected)
        assert [v.version for v in versions_of(session, model)] == ["1.0", "2.1-rc"]
        assert [m.name for m in models_of(session, "enwiki")] == ["reverted"]
        assert models_of(session, "frwiki") == []


def test_versions_are_immutable_and_names_checked(
    sessions: sessionmaker[Session], trained: object
) -> None:
    with transaction(sessions, write=True) as session:
        model = create_model(session, "enwiki", "damaging", "damaging")
        register_version(session, model, trained, version="1.0")  # type: ignore[arg-type]
        with pytest.raises(Conflict, match=r"already has a version 1\.0: versions are immutable"):
            register_version(session, model, trained, version="1.0")  # type: ignore[arg-type]
        with pytest.raises(BadRequest, match="a model version is"):
            register_version(session, model, trained, version="1.0 final")  # type: ignore[arg-type]
        with pytest.raises(Conflict, match="already has a model named 'damaging'"):
            create_model(session, "enwiki", "damaging", "damaging")
        with pytest.raises(BadRequest, match="lowercase letters"):
            create_model(session, "enwiki", "Damaging!", "damaging")
        with pytest.raises(NotFound, match="enwiki has no model named 'goodfaith'"):
            get_model(session, "enwiki", "goodfaith")
        with pytest.raises(NotFound, match=r"has no version .9\.9."):
            get_version(session, model, "9.9")
    with transaction(sessions) as session:
        count = session.scalar(select(func.count()).select_from(ModelVersion))
        assert count == 1  # the refused registrations left nothing behind


def test_an_altered_file_is_refused_at_load(
    sessions: sessionmaker[Session], trained: object
) -> None:
    with transaction(sessions, write=True) as session:
        model = create_model(session, "enwiki", "reverted", "reverted")
        version = register_version(session, model, trained)  # type: ignore[arg-type]
        altered = bytearray(version.file)
        altered[len(altered) // 2] ^= 0xFF
        session.execute(
            update(ModelVersion).where(ModelVersion.id == version.id).values(file=bytes(altered))
        )
    with transaction(sessions) as session:
        version = get_version(session, get_model(session, "enwiki", "reverted"))
        with pytest.raises(ModelFileError, match=r"SHA-256 .* it was altered"):
            load_estimator(session, version)


def test_states_follow_the_transitions_and_everything_is_logged(
    sessions: sessionmaker[Session], trained: object
) -> None:
    with transaction(sessions, write=True) as session:
        model = create_model(session, "enwiki", "reverted", "reverted", actor="Builder")
        register_version(session, model, trained, actor="Builder")  # type: ignore[arg-type]
        register_version(session, model, trained, actor="Builder")  # type: ignore[arg-type]
        set_status(session, model, "trial", actor="Patroller", reason="try it on RecentChanges")
        set_status(session, model, "active", actor="Patroller", reason="community vote")
        set_current_version(session, model, "2.0", actor="Builder", reason="better PR-AUC")
        set_status(session, model, "paused", actor="Steward", reason="false positives on IPs")
        with pytest.raises(Conflict, match="a paused model cannot become proposed"):
            set_status(session, model, "proposed", actor="X", reason="why not")
        with pytest.raises(BadRequest, match="a reason is required"):
            set_status(session, model, "active", actor="X", reason=" ")
        with pytest.raises(BadRequest, match="unknown model status 'deleted'"):
            set_status(session, model, "deleted", actor="X", reason="gone")
    with transaction(sessions) as session:
        model = get_model(session, "enwiki", "reverted")
        assert model.status == "paused"
        assert get_version(session, model).version == "2.0"
        log = [(e.kind, e.old, e.new, e.actor, e.reason) for e in events_of(session, model)]
        assert log == [
            ("created", None, "proposed", "Builder", None),
            ("registered", None, "1.0", "Builder", None),
            ("current_version", None, "1.0", "Builder", "first version"),
            ("registered", None, "2.0", "Builder", None),
            ("status", "proposed", "trial", "Patroller", "try it on RecentChanges"),
            ("status", "trial", "active", "Patroller", "community vote"),
            ("current_version", "1.0", "2.0", "Builder", "better PR-AUC"),
            ("status", "active", "paused", "Steward", "false positives on IPs"),
        ]
        assert all(event.at.tzinfo is not None for event in events_of(session, model))


def test_every_state_can_be_left_and_retired_models_come_back_as_proposals() -> None:
    assert set(TRANSITIONS) == set(MODEL_STATES)
    assert all(TRANSITIONS[state] for state in MODEL_STATES)
    assert TRANSITIONS["retired"] == {"proposed"}
    assert all("retired" in TRANSITIONS[s] for s in MODEL_STATES if s != "retired")
