"""Feedback on scores on every engine: given and changed, validated, the disputes queue,
disputes sent to a campaign, and feedback labels joining a campaign's for training."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction, utcnow
from wikiloom.errors import BadRequest, Conflict, NotFound
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.organizers import organizers
from wikiloom.labels.tables import Campaign, Task
from wikiloom.labels.tasks import insert_tasks
from wikiloom.labels.worksets import assign_workset, workset_tasks
from wikiloom.learn.disputes import dismiss, disputes, disputes_to_campaign, resolve
from wikiloom.learn.feedback import Author, feedback_record, feedback_targets, give_feedback
from wikiloom.learn.observations import campaign_targets
from wikiloom.learn.registry import (
    TrainedModel,
    create_model,
    events_of,
    get_model,
    register_version,
)
from wikiloom.learn.tables import Feedback

FORMS = load_catalog()
ALICE, BOB, CAROL = Author(1, "Alice"), Author(2, "Bob"), Author(3, "Carol")
SAID_TRUE = {"prediction": True, "probability": {"true": 0.8, "false": 0.2}}
SAID_FALSE = {"prediction": False, "probability": {"true": 0.1, "false": 0.9}}


@pytest.fixture
def model(sessions: sessionmaker[Session], sample_model: TrainedModel) -> str:
    """A `damaging` model of enwiki with one version (labels false and true)."""
    with transaction(sessions, write=True) as session:
        found = create_model(session, "enwiki", "damaging", "damaging")
        register_version(session, found, sample_model)
    return "damaging"


def give(session: Session, rev_id: int, user: Author, verdict: str, **values: Any) -> Feedback:
    row, _ = give_feedback(
        session, "enwiki", "damaging", rev_id, verdict=verdict, user=user, **values
    )
    return row


def test_feedback_is_stored_and_a_second_one_changes_it_in_place(
    sessions: sessionmaker[Session], model: str
) -> None:
    with transaction(sessions, write=True) as session:
        row, created = give_feedback(
            session, "enwiki", model, 123, verdict="disagree", correct_label=False,
            comment="  a fixed typo  ", score=SAID_TRUE, user=ALICE,
        )  # fmt: skip
        assert created
        first = row.id
    with transaction(sessions, write=True) as session:
        row, created = give_feedback(
            session, "enwiki", model, 123, verdict="agree", score=SAID_TRUE, user=ALICE
        )
        assert not created
        assert row.id == first
        other, created = give_feedback(session, "enwiki", model, 123, verdict="disagree", user=BOB)
        assert created
        assert other.id != first
    with transaction(sessions) as session:
        rows = list(session.scalars(select(Feedback).order_by(Feedback.id)))
        assert len(rows) == 2
        mine = rows[0]
        assert (mine.verdict, mine.correct_label, mine.comment) == ("agree", None, None)
        assert mine.version == "1.0"
        assert mine.score == SAID_TRUE
        assert mine.updated is not None
        assert mine.updated >= mine.created
        assert mine.created.tzinfo is not None
        record = feedback_record(rows[1], model)
        assert record["flags"] == ["no_correct_label"]  # a disagreement without a label
        assert record["user"] == {"id": 2, "name": "Bob"}
        assert feedback_record(mine, model)["flags"] == []


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"model_name": "goodfaith"}, NotFound, "enwiki has no model named 'goodfaith'"),
        ({"model_name": "Bad name!"}, NotFound, "has no model named"),
        ({"wiki": "frwiki"}, NotFound, "frwiki has no model named 'damaging'"),
        ({"verdict": "maybe"}, BadRequest, "verdict must be agree or disagree, not 'maybe'"),
        ({"rev_id": 0}, BadRequest, "rev_id must be a positive integer, not 0"),
        ({"rev_id": -5}, BadRequest, "rev_id must be a positive integer"),
        ({"rev_id": True}, BadRequest, "rev_id must be a positive integer, not True"),
        ({"correct_label": "yes"}, BadRequest, r"one of the model's labels \(false, true\)"),
        ({"correct_label": 1}, BadRequest, "not 1"),  # 1 == True in Python, not in JSON
        ({"comment": "x" * 2001}, BadRequest, "comment must be at most 2000 characters"),
        ({"comment": "a\x00b"}, BadRequest, "NUL"),
        ({"version": "9.9"}, BadRequest, "has no version '9.9'"),
        ({"score": {"prediction": True, "extra": 1}}, BadRequest, "not 'extra'"),
        ({"score": {"prediction": "maybe"}}, BadRequest, "score.prediction must be one of"),
        ({"score": {"probability": {"true": 2}}}, BadRequest, "a number from 0 to 1"),
        ({"score": {"probability": {"yes": 0.5}}}, BadRequest, "names 'yes'"),
        ({"score": [1]}, BadRequest, "score must be a JSON object"),
        (
            {"correct_label": True, "score": SAID_TRUE},
            BadRequest,
            "correct label must differ from the prediction",
        ),
        (
            {"verdict": "agree", "correct_label": False, "score": SAID_TRUE},
            BadRequest,
            "agreeing confirms the prediction",
        ),
    ],
)
def test_feedback_is_validated(
    sessions: sessionmaker[Session],
    model: str,
    values: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    arguments: dict[str, Any] = {
        "wiki": "enwiki", "model_name": model, "rev_id": 5, "verdict": "disagree",
        "user": ALICE, **values,
    }  # fmt: skip
    with transaction(sessions, write=True) as session, pytest.raises(error, match=message):
        give_feedback(session, **arguments)
    with transaction(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0


def test_a_model_without_a_version_takes_no_feedback(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        create_model(session, "enwiki", "damaging", "damaging")
        with pytest.raises(BadRequest, match="has no version yet"):
            give(session, 5, ALICE, "disagree")


def test_the_database_keeps_one_feedback_per_user_and_valid_states(
    sessions: sessionmaker[Session], model: str
) -> None:
    with transaction(sessions, write=True) as session:
        row = give(session, 5, ALICE, "disagree")
        model_id = row.model_id
    base = {
        "model_id": model_id, "version": "1.0", "wiki": "enwiki", "rev_id": 5,
        "verdict": "disagree", "user_id": ALICE.id, "created": utcnow(), "status": "open",
    }  # fmt: skip
    for change in ({}, {"rev_id": 6, "verdict": "maybe"}, {"rev_id": 7, "status": "queued"}):
        with transaction(sessions, write=True) as session:
            session.add(Feedback(**{**base, **change}))
            with pytest.raises((IntegrityError, OperationalError)):  # MariaDB's CHECK: 4025
                session.flush()
            session.rollback()


def test_the_disputes_queue_holds_disagreements_in_order_with_counts(
    sessions: sessionmaker[Session], model: str
) -> None:
    with transaction(sessions, write=True) as session:
        ids = [give(session, 100 + n, ALICE, "disagree", correct_label=False).id for n in range(5)]
        give(session, 200, BOB, "agree", score=SAID_TRUE)
        found = get_model(session, "enwiki", model)
        dismiss(session, found, ids[4], actor="Reviewer", note="vandal feedback")
    with transaction(sessions) as session:
        found = get_model(session, "enwiki", model)
        page = disputes(session, found, limit=2)
        assert [row.id for row in page.items] == ids[:2]
        assert page.counts == {"open": 4, "queued": 0, "resolved": 0, "dismissed": 1}
        rest = disputes(session, found, limit=2, after=page.next_after)
        assert [row.id for row in rest.items] == ids[2:4]
        assert rest.next_after is None
        newest = disputes(session, found, None, newest_first=True)
        assert [row.id for row in newest.items] == ids[::-1]  # agreements are no disputes
        assert [row.id for row in disputes(session, found, "dismissed").items] == ids[4:]
        with pytest.raises(BadRequest, match="status must be one of"):
            disputes(session, found, "closed")
        with pytest.raises(BadRequest, match="limit must be from 1 to 500"):
            disputes(session, found, limit=0)
        # Beyond every id, and beyond what the 32-bit column can be compared with.
        assert disputes(session, found, None, after=2**40).items == []
        assert len(disputes(session, found, None, after=2**40, newest_first=True).items) == 5
        with pytest.raises(NotFound, match="has no feedback"):
            resolve(session, found, 2**40, actor="Reviewer")


def test_disputes_are_settled_once_and_reopen_when_their_user_changes_them(
    sessions: sessionmaker[Session], model: str
) -> None:
    with transaction(sessions, write=True) as session:
        found = get_model(session, "enwiki", model)
        one = give(session, 1, ALICE, "disagree", correct_label=False)
        two = give(session, 2, ALICE, "disagree")
        agreement = give(session, 3, ALICE, "agree")
        resolve(session, found, one.id, actor="Reviewer", note="retrained in 2.0")
        dismiss(session, found, two.id, actor="Reviewer")
        with pytest.raises(Conflict, match="is already resolved"):
            dismiss(session, found, one.id, actor="Reviewer")
        with pytest.raises(Conflict, match="it is no dispute"):
            resolve(session, found, agreement.id, actor="Reviewer")
        with pytest.raises(NotFound, match="has no feedback 999"):
            resolve(session, found, 999, actor="Reviewer")
        assert (one.status, one.resolution, one.resolved_by) == (
            "resolved", "retrained in 2.0", "Reviewer"
        )  # fmt: skip
        assert one.resolved is not None
        same = give(session, 2, ALICE, "disagree", comment="still wrong")
        assert same.status == "dismissed"  # the same judgment stays settled
        changed = give(session, 2, ALICE, "disagree", correct_label=False)
        assert (changed.status, changed.resolved_by, changed.resolved) == ("open", None, None)


def test_open_disputes_become_a_campaign_in_one_step(
    sessions: sessionmaker[Session], model: str
) -> None:
    with transaction(sessions, write=True) as session:
        for user in (ALICE, BOB):
            give(session, 500, user, "disagree", correct_label=False)
        give(session, 501, ALICE, "disagree")
        give(session, 502, CAROL, "disagree", correct_label=False)
        give(session, 503, CAROL, "agree", score=SAID_TRUE)
        found = get_model(session, "enwiki", model)
        made = disputes_to_campaign(
            session, found, name="Damaging disputes", forms=FORMS, actor="Admin",
            organizer=9, labels_per_task=2,
        )  # fmt: skip
        campaign_id = made.campaign.id
        assert (made.tasks, made.queued) == (3, 4)
        with pytest.raises(Conflict, match="has no open disputes"):
            disputes_to_campaign(session, found, name="Again", forms=FORMS)
    with transaction(sessions) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        assert (campaign.wiki, campaign.form, campaign.view) == (
            "enwiki", "damaging_and_goodfaith", "DiffToPrevious"
        )  # fmt: skip
        assert campaign.labels_per_task == 2
        tasks = session.scalars(select(Task.data).where(Task.campaign_id == campaign_id))
        assert sorted(task["rev_id"] for task in tasks) == [500, 501, 502]
        assert organizers(session, campaign_id) == [9]
        rows = list(session.scalars(select(Feedback).order_by(Feedback.id)))
        assert [(r.rev_id, r.status, r.campaign_id) for r in rows] == [
            (500, "queued", campaign_id), (500, "queued", campaign_id),
            (501, "queued", campaign_id), (502, "queued", campaign_id),
            (503, "open", None),
        ]  # fmt: skip
        event = events_of(session, get_model(session, "enwiki", model))[-1]
        assert (event.kind, event.new, event.actor) == (
            "disputes_campaign",
            str(campaign_id),
            "Admin",
        )
        assert "4 disputes of 3 revisions" in (event.reason or "")


def test_a_campaign_of_disputes_needs_a_form_asking_the_target(
    sessions: sessionmaker[Session], model: str, sample_model: TrainedModel
) -> None:
    with transaction(sessions, write=True) as session:
        give(session, 5, ALICE, "disagree")
        found = get_model(session, "enwiki", model)
        with pytest.raises(BadRequest, match="form 'wp10' has no field 'damaging'"):
            disputes_to_campaign(session, found, name="X", forms=FORMS, form="wp10")
        with pytest.raises(BadRequest, match="unknown form 'nope'"):
            disputes_to_campaign(session, found, name="X", forms=FORMS, form="nope")
        other = create_model(session, "enwiki", "reverted", "reverted")
        register_version(session, other, sample_model)
        give_feedback(session, "enwiki", "reverted", 5, verdict="disagree", user=ALICE)
        with pytest.raises(BadRequest, match="no form asks for 'reverted'"):
            disputes_to_campaign(session, other, name="X", forms=FORMS)
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_feedback_gives_majority_labels_with_provenance(
    sessions: sessionmaker[Session], model: str
) -> None:
    with transaction(sessions, write=True) as session:
        give(session, 10, ALICE, "disagree", correct_label=False, score=SAID_TRUE)
        give(session, 10, BOB, "agree", score=SAID_FALSE)  # confirms false
        give(session, 10, CAROL, "disagree", correct_label=True)
        give(session, 11, ALICE, "disagree", correct_label=True)
        give(session, 11, BOB, "disagree", correct_label=False)  # a tie: left out
        give(session, 12, ALICE, "disagree")  # no label: no target
        give(session, 13, ALICE, "agree")  # no score: nothing confirmed
        dismissed = give(session, 14, ALICE, "disagree", correct_label=True)
        dismiss(session, get_model(session, "enwiki", model), dismissed.id, actor="R")
        give(session, 15, CAROL, "agree", score=SAID_TRUE)
    with transaction(sessions) as session:
        found = feedback_targets(session, "enwiki", "damaging")
        assert found.targets == {10: False, 15: True}
        assert all(type(value) is bool for value in found.targets.values())
        assert found.users == {10: {ALICE.id, BOB.id}, 15: {CAROL.id}}
        assert len(found.feedback_ids[10]) == 2
        assert found.ties == 1
        assert feedback_targets(session, "enwiki", "goodfaith").targets == {}
        assert feedback_targets(session, "frwiki", "damaging").targets == {}


def labelled_campaign(sessions: sessionmaker[Session], labels: dict[int, bool]) -> int:
    """An enwiki damaging campaign whose revisions two labelers label as `labels` says."""
    form = FORMS["damaging_and_goodfaith"]
    with transaction(sessions, write=True) as session:
        campaign = create_campaign(
            session, wiki="enwiki", name="Damage", form="damaging_and_goodfaith",
            view="DiffToPrevious", labels_per_task=2, tasks_per_assignment=len(labels),
            known_forms=FORMS,
        )  # fmt: skip
        insert_tasks(session, campaign.id, (orjson.dumps({"rev_id": r}) for r in labels))
        campaign_id = campaign.id
    for user in (21, 22):
        with transaction(sessions, write=True) as session:
            workset = assign_workset(session, campaign_id, user)
            for task in workset_tasks(session, workset.id):
                damaging = labels[task.data["rev_id"]]
                save_label(
                    session, form=form, workset_id=workset.id, task_id=task.id, user_id=user,
                    data={"damaging": damaging, "goodfaith": not damaging, "unsure": False},
                )  # fmt: skip
    return campaign_id


def test_feedback_labels_join_a_campaigns_where_it_has_none(
    sessions: sessionmaker[Session], model: str
) -> None:
    campaign_id = labelled_campaign(sessions, {1: True, 2: False, 3: False})
    with transaction(sessions, write=True) as session:
        ids = [
            give(session, 2, ALICE, "disagree", correct_label=True).id,  # the campaign says false
            give(session, 3, ALICE, "disagree", correct_label=False).id,  # the campaign agrees
            give(session, 40, ALICE, "disagree", correct_label=True).id,
            give(session, 41, BOB, "agree", score=SAID_FALSE).id,
        ]
    with transaction(sessions) as session:
        plain = campaign_targets(session, campaign_id, "damaging")
        assert plain.targets == {1: True, 2: False, 3: False}
        assert "feedback" not in plain.provenance
        joined = campaign_targets(session, campaign_id, "damaging", include_feedback=True)
    assert joined.targets == {1: True, 2: False, 3: False, 40: True, 41: False}
    assert joined.from_feedback == {40, 41}
    assert joined.provenance["campaign"]["id"] == campaign_id
    assert joined.provenance["feedback"] == {
        "revisions": 2,
        "feedback_ids": sorted(ids[2:]),
        "users": 2,
        "overridden": 1,
        "confirmed": 1,
        "ties": 0,
    }
