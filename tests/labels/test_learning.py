"""A campaign's active-learning settings: checked at creation and edit, fixed where needed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.learn.rounds_support import label, make_campaign
from wikiloom.db import transaction
from wikiloom.errors import BadRequest, Conflict
from wikiloom.labels.campaigns import create_campaign, edit_campaign
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.learning import LearningSettings, learning_of, parse_fraction
from wikiloom.labels.tables import Campaign, Event
from wikiloom.learn.featuresets import FEATURE_SETS
from wikiloom.learn.rounds import run_round

CATALOG = load_catalog()
Factory = sessionmaker[Session]


def create(session: Session, form: str = "edit_type", **learning: object) -> int:
    return create_campaign(
        session, wiki="enwiki", name="Learning", form=form, view="DiffToPrevious",
        labels_per_task=1, tasks_per_assignment=10, known_forms=CATALOG,
        learning=LearningSettings(**learning),  # type: ignore[arg-type]
        form_fields=CATALOG[form].fields, known_feature_sets=FEATURE_SETS,
    ).id  # fmt: skip


@pytest.mark.parametrize(
    ("learning", "message"),
    [
        ({"sampling": "greedy"}, "unknown sampling 'greedy'; one of random, uncertainty"),
        ({"sampling": "margin"}, "sampling 'margin' needs a learning_field"),
        ({"holdout_fraction": 1.0}, "holdout_fraction must be at least 0 and below 1"),
        ({"holdout_fraction": -0.1}, "holdout_fraction must be at least 0 and below 1"),
        ({"holdout_fraction": float("nan")}, "holdout_fraction must be at least 0"),
        ({"retrain_every": 0}, "retrain_every must be a positive integer"),
        ({"feature_set": "nope"}, "unknown feature_set 'nope'; known: articlequality"),
        ({"learning_field": "damaging"}, "'damaging' is not a field of the form 'edit_type'"),
        ({"learning_field": "notes"}, "learning_field 'notes' is a text field"),
        ({"learning_field": "semantic_labels"}, "is a list field"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(
    sessions: Factory, learning: dict[str, object], message: str
) -> None:
    with pytest.raises(BadRequest, match=message), transaction(sessions) as session:
        create(session, **learning)


def test_settings_are_stored_edited_and_logged(sessions: Factory) -> None:
    with transaction(sessions, write=True) as session:
        campaign_id = create(
            session, sampling="committee", holdout_fraction=0.1, retrain_every=25,
            learning_field="information-added", feature_set="editquality",
        )  # fmt: skip
    with transaction(sessions, write=True) as session:
        campaign = edit_campaign(
            session, campaign_id, learning=LearningSettings(learning_field="information-removed"),
            form_fields=CATALOG["edit_type"].fields,
        )  # fmt: skip
        assert learning_of(campaign) == LearningSettings(learning_field="information-removed")
        with pytest.raises(BadRequest, match="not a field of the form"):
            edit_campaign(
                session, campaign_id, learning=LearningSettings(learning_field="damaging"),
                form_fields=CATALOG["edit_type"].fields,
            )  # fmt: skip
    with transaction(sessions) as session:
        created, edited = session.scalars(
            select(Event.data).where(Event.campaign_id == campaign_id).order_by(Event.id)
        )
        assert created["sampling"] == "committee"
        assert created["learning_field"] == "information-added"
        assert edited == {
            "sampling": "random", "holdout_fraction": 0.2, "retrain_every": 50,
            "learning_field": "information-removed",
        }  # fmt: skip


def test_new_campaigns_sample_at_random_with_a_fifth_held_out(sessions: Factory) -> None:
    with transaction(sessions, write=True) as session:
        campaign_id = create(session)
    with transaction(sessions) as session:
        settings = learning_of(session.get_one(Campaign, campaign_id))
    assert settings == LearningSettings("random", 0.2, 50, None, "editquality")


def test_the_holdout_fraction_is_fixed_after_a_round(sessions: Factory) -> None:
    campaign_id = make_campaign(sessions, 150)
    label(sessions, campaign_id, 1, 60)
    fields = CATALOG["damaging_and_goodfaith"].fields
    same = LearningSettings("margin", 0.2, 10, "damaging", "ores.enwiki.demo")
    with transaction(sessions, write=True) as session:
        edit_campaign(session, campaign_id, learning=same, form_fields=fields)  # before: free
        run_round(session, campaign_id)
    with transaction(sessions, write=True) as session:
        edit_campaign(session, campaign_id, learning=same, form_fields=fields)  # unchanged: fine
        changed = LearningSettings("margin", 0.3, 10, "damaging", "ores.enwiki.demo")
        with pytest.raises(Conflict, match=r"holdout_fraction \(0.2\) can no longer change"):
            edit_campaign(session, campaign_id, learning=changed, form_fields=fields)


def test_fractions_are_read_as_numbers_or_percentages() -> None:
    assert parse_fraction("0.25") == 0.25
    assert parse_fraction(" 20% ") == pytest.approx(0.2)
    with pytest.raises(BadRequest, match="holdout_fraction must be a number, not 'a fifth'"):
        parse_fraction("a fifth")
