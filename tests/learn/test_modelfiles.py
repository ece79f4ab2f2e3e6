"""Model files: skops round trips, and files that must never load."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from wikiloom.learn.estimators import WikiClassifier
from wikiloom.learn.modelfiles import ModelFileError, checksum, dump_model, load_model


def fitted() -> WikiClassifier:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    return WikiClassifier(max_iter=10).fit(X, X[:, 0] > 0)


def test_a_fitted_classifier_round_trips_with_its_checksum() -> None:
    model = fitted()
    data = dump_model(model)
    assert data[:2] == b"PK"  # a skops zip archive, not a pickle
    loaded = load_model(data, checksum(data))
    X = np.array([[0.5, 0.0], [-0.5, 1.0]])
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_files_with_code_or_foreign_types_are_refused() -> None:
    with pytest.raises(ModelFileError, match=r"does not load: .*builtins\.eval"):
        load_model(sio.dumps({"model": LogisticRegression(), "hook": eval}))
    with pytest.raises(ModelFileError, match="not a skops model file"):
        load_model(pickle.dumps(fitted()))
    with pytest.raises(ModelFileError, match="not a skops model file"):
        load_model(b"")


def test_a_wrong_checksum_is_refused_before_anything_is_read() -> None:
    data = dump_model(fitted())
    with pytest.raises(ModelFileError, match="it was altered"):
        load_model(data, "0" * 64)
