"""The stopping suggestion: stable predictions of a model that has learned something."""

from __future__ import annotations

from wikiloom.learn.stopping import stop_agreement, stop_suggested


def test_a_model_predicting_one_class_gives_no_evidence_of_stability() -> None:
    constant = {str(task): False for task in range(50)}
    assert stop_agreement(constant, constant) is None
    assert not stop_suggested([None, stop_agreement(constant, constant)] * 4)


def test_three_stable_rounds_of_a_learning_model_suggest_stopping() -> None:
    learned = {str(task): task % 7 == 0 for task in range(70)}
    changed = {**learned, "1": True, "2": True}
    assert stop_agreement(learned, learned) == 1.0
    moved = stop_agreement(learned, changed)
    assert moved is not None
    assert moved < 0.99
    assert not stop_suggested([None, moved, 1.0, 1.0])
    assert stop_suggested([None, moved, 1.0, 1.0, 1.0])
    assert not stop_suggested([1.0, 1.0, 1.0, None])  # the count restarts after a gap
