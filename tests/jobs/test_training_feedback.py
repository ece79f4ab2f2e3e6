"""Training with feedback on scores: its labels join the campaign's, with their provenance.

The feature store is filled directly, so that no wiki is asked (the client refuses every
request): the campaign's revisions and the ones only feedback labelled.
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.learn.test_feedback import labelled_campaign
from tests.support.models import offline_client
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.jobs.training import train_campaign
from wikiloom.learn.featurestore import store_vectors
from wikiloom.learn.feedback import Author, give_feedback
from wikiloom.learn.registry import (
    TrainedModel,
    create_model,
    get_model,
    get_version,
    register_version,
)
from wikiloom.learn.training import TrainingOptions

FAST = TrainingOptions(params={"max_iter": 20, "min_samples_leaf": 2}, folds=3)
CAMPAIGN = {rev_id: rev_id % 2 == 0 for rev_id in range(1, 21)}
#: Revisions only feedback labels: damaging from 101 to 105, not from 106 to 110.
FEEDBACK = {rev_id: rev_id <= 105 for rev_id in range(101, 111)}


def vector(damaging: bool, rev_id: int) -> list[float]:
    """Nine demo features, the first telling damaging edits apart."""
    rng = np.random.default_rng(rev_id)
    return [(5.0 if damaging else 0.0) + float(rng.random())] + [float(x) for x in rng.random(8)]


@pytest.fixture
def disputed(sessions: sessionmaker[Session], sample_trained: TrainedModel) -> int:
    """A labelled campaign, a `damaging` model, feedback on other revisions and on one of
    the campaign's (which its labelers contradict), every revision's features stored."""
    campaign_id = labelled_campaign(sessions, CAMPAIGN)
    with transaction(sessions, write=True) as session:
        model = create_model(session, "enwiki", "damaging", "damaging")
        register_version(session, model, sample_trained)
        for rev_id, damaging in FEEDBACK.items():
            for user in (Author(1, "Alice"), Author(2, "Bob")):
                give_feedback(
                    session, "enwiki", "damaging", rev_id, verdict="disagree",
                    correct_label=damaging, user=user,
                )  # fmt: skip
        give_feedback(
            session, "enwiki", "damaging", 2, verdict="disagree", correct_label=False,
            user=Author(3, "Carol"),
        )  # fmt: skip
        labels = CAMPAIGN | FEEDBACK
        vectors = {rev_id: vector(damaging, rev_id) for rev_id, damaging in labels.items()}
        store_vectors(session, "enwiki", "ores.enwiki.demo", 1, 9, vectors)
    return campaign_id


def test_a_model_trained_with_feedback_uses_its_labels_and_says_so(
    settings: Settings, sessions: sessionmaker[Session], disputed: int
) -> None:
    report = train_campaign(
        settings, sessions, disputed, "damaging", feature_set_name="ores.enwiki.demo",
        options=FAST, actor="Builder", client=offline_client(),
    )  # fmt: skip
    assert (report.model, report.version) == ("damaging", "2.0")
    assert report.extraction.stored == 0
    assert report.statistics["counts"]["labels"] == {"false": 15, "true": 15}
    with transaction(sessions) as session:
        version = get_version(session, get_model(session, "enwiki", "damaging"), "2.0")
        provenance = version.provenance
        feedback = provenance["feedback"]
        assert feedback["revisions"] == 10
        assert feedback["users"] == 2
        assert len(feedback["feedback_ids"]) == 20
        assert (feedback["overridden"], feedback["confirmed"], feedback["ties"]) == (1, 0, 0)
        assert provenance["campaign"]["id"] == disputed
        assert provenance["training_data"]["rows"] == 30
        assert provenance["training_data"]["from_feedback"] == 10
        assert provenance["observations"] == 30
        assert provenance["label_counts"] == {"false": 15, "true": 15}
    plain = train_campaign(
        settings, sessions, disputed, "damaging", feature_set_name="ores.enwiki.demo",
        options=FAST, client=offline_client(), include_feedback=False,
    )  # fmt: skip
    assert plain.statistics["counts"]["labels"] == {"false": 10, "true": 10}
    with transaction(sessions) as session:
        version = get_version(session, get_model(session, "enwiki", "damaging"), plain.version)
        assert "feedback" not in version.provenance
        assert version.provenance["training_data"]["from_feedback"] == 0
