"""Governance on every engine: change requests, their discussion and decision, the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction, utcnow
from wikiloom.errors import BadRequest, Conflict, Forbidden, NotFound
from wikiloom.labels.users import ensure_user
from wikiloom.learn.audit import audit_log, audit_path
from wikiloom.learn.governance import (
    change_status,
    comment_on,
    comments_of,
    decide,
    get_request,
    open_request,
    request_page,
    requests_of,
    withdraw,
)
from wikiloom.learn.registry import create_model, events_of, get_model, set_status
from wikiloom.learn.tables import ChangeRequest

AUTHOR, OTHER, STEWARD = (101, "Alice"), (102, "Bob"), (103, "Steward")


def model_on(
    session: Session, wiki: str = "enwiki", name: str = "damaging", status: str = "active"
):  # type: ignore[no-untyped-def]
    model = create_model(session, wiki, name, name, actor="Builder")
    for state in {"proposed": [], "paused": ["active", "paused"]}.get(status, [status]):
        set_status(session, model, state, actor="Builder", reason="tests")
    return model


def test_a_turn_off_request_from_opening_to_the_pause(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        model = model_on(session)
        opened = open_request(
            session, model, kind="turn_off", title="  Too many false positives on IPs ",
            body="Half of the flagged anonymous edits are fine.", user_id=AUTHOR[0],
            user_name=AUTHOR[1],
        )  # fmt: skip
        assert (opened.status, opened.title, opened.comments) == ("open", "Too many false "
                                                                 "positives on IPs", 0)  # fmt: skip
        assert opened.page == f"/ui/enwiki/models/damaging/requests/{opened.id}/"
        comment_on(session, model, opened.id, body="Seen it too.", user_id=OTHER[0],
                   user_name=OTHER[1])  # fmt: skip
        comment_on(session, model, opened.id, body="Agreed.", user_id=STEWARD[0],
                   user_name=STEWARD[1])  # fmt: skip
        decided = decide(
            session, model, opened.id, status="accepted", outcome="Paused until retrained.",
            user_id=STEWARD[0], user_name=STEWARD[1], may_decide=True,
        )  # fmt: skip
    assert decided.status == "done"  # the change (the pause) is made at once
    assert decided.outcome == "Paused until retrained.\n\nThe model is paused on enwiki."
    assert (decided.decided_by, decided.comments) == ("Steward", 2)
    with transaction(sessions) as session:
        model = get_model(session, "enwiki", "damaging")
        assert model.status == "paused"
        found = get_request(session, model, opened.id)
        assert [c.body for c in comments_of(session, found)] == ["Seen it too.", "Agreed."]
        log = [(e.kind, e.old, e.new, e.actor, e.request_id) for e in events_of(session, model)]
    rid = opened.id
    assert log[2:] == [
        ("change_request_opened", None, "open", "Alice", rid),
        ("change_request_commented", None, None, "Bob", rid),
        ("change_request_commented", None, None, "Steward", rid),
        ("change_request_decided", "open", "accepted", "Steward", rid),
        ("status", "active", "paused", "Steward", rid),
        ("change_request_decided", "accepted", "done", "Steward", rid),
    ]
    with transaction(sessions) as session:
        pause = audit_log(session, wiki="enwiki", kind="status").entries[0]
    assert pause.reason == f"change request {rid} accepted: Too many false positives on IPs"
    assert (pause.wiki, pause.model, pause.request_id) == ("enwiki", "damaging", rid)


def test_other_decisions_withdrawal_and_who_may_do_what(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        model = model_on(session)
        first = open_request(session, model, kind="retrain", title="Retrain on 2024 labels",
                             body="Vandals changed tactics.", user_id=AUTHOR[0],
                             user_name=AUTHOR[1])  # fmt: skip
        second = open_request(session, model, kind="retrain", title="Retrain again",
                              body="Same.", user_id=AUTHOR[0], user_name=AUTHOR[1])  # fmt: skip
        as_user = {"user_id": OTHER[0], "user_name": OTHER[1]}
        with pytest.raises(Forbidden, match="Only the model stewards of enwiki and admins"):
            decide(session, model, first.id, status="accepted", outcome="ok", may_decide=False,
                   **as_user)  # type: ignore[arg-type]  # fmt: skip
        with pytest.raises(Forbidden, match=f"Only the author of change request {second.id}"):
            withdraw(session, model, second.id, **as_user)  # type: ignore[arg-type]
        with pytest.raises(BadRequest, match="outcome is required"):
            decide(session, model, first.id, status="accepted", outcome=" ", may_decide=True,
                   **as_user)  # type: ignore[arg-type]  # fmt: skip
        with pytest.raises(Conflict, match="is open: it can become accepted or declined"):
            decide(session, model, first.id, status="done", outcome="x", may_decide=True,
                   **as_user)  # type: ignore[arg-type]  # fmt: skip
        accepted = decide(session, model, first.id, status="accepted", outcome="Yes.",
                          may_decide=True, user_id=STEWARD[0], user_name=STEWARD[1])  # fmt: skip
        assert accepted.status == "accepted"  # a retrain is done later, by hand
        comment_on(session, model, first.id, body="Training now.", user_id=STEWARD[0],
                   user_name=STEWARD[1])  # an accepted request is still discussed  # fmt: skip
        done = decide(session, model, first.id, status="done", outcome="Version 2.0 serves.",
                      may_decide=True, user_id=STEWARD[0], user_name=STEWARD[1])  # fmt: skip
        assert (done.status, done.outcome) == ("done", "Version 2.0 serves.")
        with pytest.raises(Conflict, match="is done: it can become nothing"):
            decide(session, model, first.id, status="declined", outcome="x", may_decide=True,
                   user_id=STEWARD[0], user_name=STEWARD[1])  # fmt: skip
        with pytest.raises(Conflict, match="its discussion is closed"):
            comment_on(session, model, first.id, body="Late.", **as_user)  # type: ignore[arg-type]
        withdrawn = withdraw(session, model, second.id, user_id=AUTHOR[0], user_name=AUTHOR[1],
                             reason="Duplicate of the first.")  # fmt: skip
        assert (withdrawn.status, withdrawn.decided_by) == ("withdrawn", "Alice")
        with pytest.raises(Conflict, match="no longer open"):
            withdraw(session, model, second.id, user_id=AUTHOR[0], user_name=AUTHOR[1])
        assert model.status == "active"  # neither touched the model
        listed = requests_of(session, model)
        assert [(r.id, r.status, r.comments) for r in listed] == [
            (second.id, "withdrawn", 0), (first.id, "done", 1),
        ]  # fmt: skip
        assert [r.id for r in requests_of(session, model, "done")] == [first.id]
        other = model_on(session, name="goodfaith")
        with pytest.raises(NotFound, match=f"enwiki goodfaith has no change request {first.id}"):
            get_request(session, other, first.id)  # requests belong to their model
        with pytest.raises(NotFound):
            get_request(session, model, 2**40)


def test_turning_off_a_proposed_model_retires_it_and_an_idle_one_stays(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions, write=True) as session:
        proposed = model_on(session, status="proposed")
        paused = model_on(session, name="goodfaith", status="paused")
        for model in (proposed, paused):
            opened = open_request(session, model, kind="turn_off", title="Off", body="Please.",
                                  user_id=AUTHOR[0], user_name=AUTHOR[1])  # fmt: skip
            decided = decide(session, model, opened.id, status="accepted", outcome="Fine.",
                             may_decide=True, user_id=STEWARD[0], user_name=None)  # fmt: skip
            assert decided.status == "done"
            assert decided.decided_by == "user 103"  # no username known: the id stands in
        assert (proposed.status, paused.status) == ("retired", "paused")
        assert decided.outcome == "Fine.\n\nThe model was already paused."


def test_requests_are_checked_with_clear_messages(sessions: sessionmaker[Session]) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"kind": "delete"}, "kind must be one of retrain, threshold, turn_off, not 'delete'"),
        ({"title": "   "}, "title is required"),
        ({"title": "x" * 201}, "title must be at most 200 characters, not 201"),
        ({"body": ""}, "body is required"),
        ({"body": "a\x00b"}, "body may not contain a NUL character"),
        ({"details": [1]}, "details must be a JSON object"),
        ({"details": {"x": "y" * 20_000}}, "details must be at most 16 KiB of JSON"),
        ({"kind": "threshold"}, "a threshold change names the threshold asked for"),
        ({"kind": "threshold", "details": {"query": "maximum recall at precision 0.9"}},
         "Bad threshold query 'maximum recall at precision 0.9': it needs exactly one '@'"),
        ({"kind": "threshold", "details": {"value": 1.5}},
         "details.value is a threshold from 0 to 1, not '1.5'"),
        ({"kind": "threshold", "details": {"value": "high"}},
         "details.value is a threshold from 0 to 1, not 'high'"),
    ]  # fmt: skip
    with transaction(sessions, write=True) as session:
        model = model_on(session)
        base = {"kind": "retrain", "title": "T", "body": "B", "user_id": 1, "user_name": "A"}
        for change, message in cases:
            with pytest.raises(BadRequest) as raised:
                open_request(session, model, **{**base, **change})  # type: ignore[arg-type]
            assert message in raised.value.message, change
        threshold = open_request(
            session, model, **{**base, "kind": "threshold",
                               "details": {"name": "verylikelybad", "label": "true",
                                           "query": "maximum recall @ precision >= 0.95",
                                           "value": "0.8", "empty": ""}},
        )  # type: ignore[arg-type]  # fmt: skip
    assert threshold.details == {
        "name": "verylikelybad", "label": "true", "query": "maximum recall @ precision >= 0.95",
        "value": 0.8,
    }  # fmt: skip


def test_the_database_keeps_decisions_whole(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        model_id = model_on(session).id
        ensure_user(session, 1)
    row = {"model_id": model_id, "kind": "retrain", "title": "T", "body": "B", "details": {},
           "user_id": 1, "created": utcnow(), "status": "open"}  # fmt: skip
    broken = [
        {"status": "accepted"},  # decided without a decision
        {"decided": utcnow(), "decided_by": "X"},  # open yet decided
        {"kind": "rename"},
        {"status": "merged", "decided": utcnow(), "decided_by": "X"},
    ]
    for change in broken:
        # MariaDB reports a failed CHECK as an OperationalError (4025), the others IntegrityError.
        with (
            pytest.raises(DBAPIError, match=r"ck_change_requests|CHECK"),
            transaction(sessions, write=True) as session,
        ):
            session.execute(insert(ChangeRequest).values(**{**row, **change}))


def test_status_changes_need_a_steward(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        model = model_on(session)
        with pytest.raises(Forbidden, match="Only the model stewards of enwiki and admins"):
            change_status(session, model, "paused", reason="x", user_id=1, user_name="U",
                          may_decide=False)  # fmt: skip
        change_status(session, model, "paused", reason="Spike of false positives", user_id=3,
                      user_name="Steward", may_decide=True)  # fmt: skip
        assert model.status == "paused"
        with pytest.raises(BadRequest, match="a reason is required"):
            change_status(session, model, "active", reason="", user_id=3, user_name="Steward",
                          may_decide=True)  # fmt: skip


def test_the_audit_log_is_newest_first_filtered_and_paged(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        en = model_on(session)  # created + status: 2 entries
        de = model_on(session, wiki="dewiki")
        for n in range(5):
            open_request(session, en, kind="retrain", title=f"R{n}", body="B", user_id=1,
                         user_name="A")  # fmt: skip
        set_status(session, de, "paused", actor="S", reason="stop")
    with transaction(sessions) as session:
        everything = audit_log(session, limit=500).entries
        assert len(everything) == 10
        assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
        assert (everything[0].wiki, everything[0].kind, everything[0].new) == (
            "dewiki", "status", "paused",
        )  # fmt: skip
        pages, cursor = [], None
        while True:
            page = audit_log(session, wiki="enwiki", before=cursor, limit=3)
            pages.append([e.reason for e in page.entries])
            if page.cursor is None:
                break
            cursor = page.cursor
        assert pages == [["retrain: R4", "retrain: R3", "retrain: R2"],
                         ["retrain: R1", "retrain: R0", "tests"], [None]]  # fmt: skip
        opened = audit_log(session, model="damaging", kind="change_request_opened").entries
        assert len(opened) == 5
        assert {e.wiki for e in audit_log(session, kind="status").entries} == {"enwiki", "dewiki"}
        with pytest.raises(BadRequest, match="limit is from 1 to 500"):
            audit_log(session, limit=0)
        with pytest.raises(BadRequest, match="kind is lowercase letters"):
            audit_log(session, kind="x' OR 1=1")


def test_paths_of_the_log_and_the_request_pages() -> None:
    assert audit_path() == "/audit/"
    assert audit_path("enwiki") == "/audit/enwiki/"
    assert audit_path("enwiki", "damaging") == "/audit/enwiki/?model=damaging"
    assert request_page("enwiki", "damaging", 3) == "/ui/enwiki/models/damaging/requests/3/"
