"""The demo model: enwiki `reverted` on the real editquality split, with stored features."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from wikiloom.learn.datasets import Dataset, read_dataset
from wikiloom.learn.featurestore import store_vectors
from wikiloom.learn.oresfeatures import OresDemoFeatures
from wikiloom.learn.registry import create_model, find_model, register_version, set_status
from wikiloom.learn.tables import ModelVersion
from wikiloom.learn.training import TrainingOptions, train

DEMO_DIR = Path(__file__).resolve().parent / "demo"
TRAINING = DEMO_DIR / "enwiki.reverted.training.csv.bz2"
TESTING = DEMO_DIR / "enwiki.reverted.testing.csv.bz2"
WIKI, NAME, LABEL = "enwiki", "reverted", "reverted"
ACTOR = "wikiloom demo"
DESCRIPTION = (
    "Whether an English Wikipedia edit will be reverted, from 9 revscoring features "
    "(the editquality demo data of 2015). A demonstration model, not a patrolling tool."
)


def demo_datasets() -> tuple[Dataset, Dataset]:
    """The training and testing splits of the editquality demo data."""
    return read_dataset(TRAINING, LABEL), read_dataset(TESTING, LABEL)


def load_demo_model(session: Session, rev_ids: set[int]) -> ModelVersion | None:
    """Train, register and activate the demo model and store the features of `rev_ids`.

    Returns the new version, or None when the model exists already (nothing is changed).
    """
    if find_model(session, WIKI, NAME) is not None:
        return None
    training, testing = demo_datasets()
    features = OresDemoFeatures()
    if tuple(features.get_feature_names_out()) != training.features:
        raise RuntimeError("the demo data's columns are not the ORES demo feature set's")
    trained = train(
        training,
        TrainingOptions(seed=0),
        evaluate_on=testing,
        feature_set=(features.name, features.version),
        provenance={"note": "the editquality demo split, labels from reverts"},
    )
    model = create_model(session, WIKI, NAME, LABEL, description=DESCRIPTION, actor=ACTOR)
    version = register_version(session, model, trained, actor=ACTOR)
    set_status(session, model, "active", actor=ACTOR, reason="the demo model of `make run`")
    vectors = {}
    for dataset in (training, testing):
        for rev_id, row in zip(dataset.ids or (), dataset.X.tolist(), strict=True):
            if rev_id in rev_ids:
                vectors[rev_id] = row
    store_vectors(session, WIKI, features.name, features.version, len(training.features), vectors)
    return version
