"""Form proposals: loading a form from submitted text, storing proposals and reviewing them."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.errors import AppError, BadRequest, Conflict, NotFound
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.forms import FormProblem, builtin_forms_dir
from wikiloom.labels.proposals import (
    MAX_DEPTH,
    MAX_YAML_BYTES,
    TooLarge,
    check_key,
    clean_i18n,
    field_records,
    get_proposal,
    list_proposals,
    load_source,
    propose_form,
    review_proposal,
)
from wikiloom.labels.tables import Event, FormProposal, User

Factory = sessionmaker[Session]
FORM = """\
name: demo
fields:
  - class: FieldLayout
    label: "<q>"
    fieldWidget:
      class: ButtonSelectWidget
      name: answer
      items:
        - {class: ButtonOptionWidget, data: true, label: "<yes>"}
        - {class: ButtonOptionWidget, data: false, label: "<no>"}
"""
EN = {"q": "Question?", "yes": "Yes", "no": "No"}


def catalog_source(key: str) -> tuple[str, dict[str, Any]]:
    """A shipped form's YAML text and its message files as a browser would send them."""
    text = (builtin_forms_dir() / f"{key}.yaml").read_text(encoding="utf-8")
    files = sorted((builtin_forms_dir() / "i18n" / key).glob("*.json"))
    return text, {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in files}


# --- loading a form from text -----------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(load_catalog()))
def test_every_catalog_form_loads_from_its_text_as_the_catalog_has_it(key: str) -> None:
    text, i18n = catalog_source(key)
    form = load_source(text, clean_i18n(i18n), key).form
    shipped = load_catalog()[key]
    assert (form.config, form.i18n) == (shipped.config, shipped.i18n)
    assert form.fields == shipped.fields
    assert form.json_schema() == shipped.json_schema()
    assert [f["name"] for f in field_records(form)] == list(shipped.fields)


def test_field_records() -> None:
    form = load_source(FORM, {"en": EN}).form
    assert field_records(form) == [
        {
            "name": "answer",
            "widget": "ButtonSelectWidget",
            "kind": "choice",
            "options": [True, False],
            "required": False,
            "line": 7,
        }
    ]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (FORM.replace('label: "<q>"', 'label: ["<q>"'), 5, 5, "expected ',' or ']'"),
        (FORM.replace("    fieldWidget:", "   fieldWidget:"), 5, 4, ""),
        ("name: x\nfields:\n  - {class: Nope, name: a}\n", 3, None, "unknown widget class"),
        (FORM.replace("data: false", "data: true"), 10, None, "duplicate option data true"),
        (FORM.replace("data: false,", "dta: false,"), 10, None, 'needs "data"'),
        (FORM + "  - {class: CheckboxInputWidget, name: answer}\n", 11, None, "duplicate field"),
        (FORM.replace("data: false", "data: 2024-05-01"), 10, 45, "timestamp"),
        (FORM.replace("data: false", "data: 99999999999999999999"), 10, 45, "too large"),
        (FORM.replace("data: false", "data: .nan"), 10, 45, "not a JSON number"),
        (FORM.replace("data: false", "data: !!binary aGk="), 10, 45, "binary"),
        (FORM.replace("name: answer", "yes: answer"), 7, 7, "must be a string"),
        ("- a\n- b\n", 1, None, "a form must be a mapping, not a list"),
        ("a: &x [*x]\n", 1, 8, "alias inside its own anchor"),
        ("x: \x07\n", 1, 4, "the character #x0007 is not allowed"),
    ],
)
def test_problems_name_their_line(text: str, line: int, column: int | None, message: str) -> None:
    with pytest.raises(FormProblem) as caught:
        load_source(text, {"en": EN}, "demo")
    assert (caught.value.line, caught.value.column) == (line, column), caught.value.message
    assert message in caught.value.problem
    assert caught.value.message == f"demo.yaml, line {line}: {caught.value.problem}"


def test_a_message_missing_from_english_names_the_line_using_it() -> None:
    with pytest.raises(FormProblem, match="message <q> is not in") as caught:
        load_source(FORM, {"en": {"yes": "Yes", "no": "No"}, "de": EN})
    assert caught.value.line == 4


def test_deep_nesting_and_alias_bombs_are_refused_before_loading() -> None:
    with pytest.raises(FormProblem, match=f"deeper than {MAX_DEPTH}") as caught:
        load_source("[" * 50_000, {})
    assert caught.value.line == 1
    deep = "fields:\n" + "".join("  " * i + "- \n" for i in range(1, MAX_DEPTH + 5))
    with pytest.raises(FormProblem, match="deeper than"):
        load_source(deep, {})
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    with pytest.raises(FormProblem, match="counting what aliases repeat") as caught:
        load_source("\n".join(bomb) + "\n", {})
    assert caught.value.line in (5, 6)
    shared = """\
fields:
  - class: ButtonSelectWidget
    name: a
    items: &yes_no
      - {class: ButtonOptionWidget, data: true}
      - {class: ButtonOptionWidget, data: false}
  - {class: ButtonSelectWidget, name: b, items: *yes_no}
"""
    assert list(load_source(shared, {}).form.fields) == ["a", "b"]  # aliases within bounds


def test_size_limit() -> None:
    padding = "#" * (MAX_YAML_BYTES - len(FORM) - 1) + "\n"
    assert load_source(padding + FORM, {"en": EN}).form.fields
    with pytest.raises(TooLarge) as caught:
        load_source(padding + FORM + "#", {"en": EN})
    assert caught.value.status == 413
    with pytest.raises(TooLarge):  # bytes count, not characters
        load_source("é" * (MAX_YAML_BYTES // 2 + 1), {})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_loads_or_fails_as_a_problem(text: str) -> None:
    with contextlib.suppress(AppError):
        load_source(text, {"en": EN})


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=4)
    ),
    max_leaves=30,
)
WIDGETS = st.fixed_dictionaries(
    {"class": st.sampled_from(["ButtonSelectWidget", "FieldLayout", "TextInputWidget", "Foo"])},
    optional={"name": JSONISH, "items": JSONISH, "fieldWidget": JSONISH, "label": JSONISH},
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"fields": st.lists(WIDGETS | JSONISH, max_size=3)}) | JSONISH)
def test_any_structure_loads_or_fails_as_a_problem(value: object) -> None:
    try:
        text = yaml.safe_dump(value, allow_unicode=True)
    except yaml.YAMLError:
        return
    try:
        form = load_source(text, {"en": EN}).form
    except AppError:
        return
    json.dumps(form.config, allow_nan=False)  # what loads can be served


# --- keys and messages ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["a", "damaging_and_goodfaith", "x9_", "a" * 64])
def test_good_keys(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "A", "a-b", "a.yaml", "../x", "a b", "a" * 65, "é", "a\n"])
def test_bad_keys(key: str) -> None:
    with pytest.raises(BadRequest, match="a form key is"):
        check_key(key)


def test_clean_i18n() -> None:
    assert clean_i18n(None) == {}
    assert clean_i18n({"en": {"@metadata": {"authors": []}, "q": "Q?"}, "zh-hans": {}}) == {
        "en": {"q": "Q?"},
        "zh-hans": {},
    }
    for bad, message in [
        ([], "object of languages"),
        ({"EN!": {}}, "not a language code"),
        ({"en": []}, "object of messages"),
        ({"en": {"q": 1}}, "must be a string"),
        ({"en": {"<q>": "x"}}, "not a message key"),
        ({"en": {"q": "a\x00b"}}, "NUL"),
        ({"en": {"q": "\ud800"}}, "surrogate"),
    ]:
        with pytest.raises(BadRequest, match=message):
            clean_i18n(bad)
    with pytest.raises(TooLarge):
        clean_i18n({"en": {f"k{i}": "x" * 9000 for i in range(40)}})


# --- storing and reviewing --------------------------------------------------------------------


def propose(sessions: Factory, note: str = "please", user: int = 7) -> int:
    source = load_source(FORM, {"en": EN}, "demo")
    with transaction(sessions, write=True) as session:
        return propose_form(session, source, note=note, user_id=user, user_name="Ann").id


def test_propose_list_get_and_review(sessions: Factory) -> None:
    first, second = propose(sessions), propose(sessions, note="ünïcödé ✓", user=8)
    with transaction(sessions) as session:
        stored = get_proposal(session, first)
        assert (stored.key, stored.yaml, stored.i18n, stored.note) == (
            "demo",
            FORM,
            {"en": EN},
            "please",
        )
        assert (stored.user_id, stored.user_name, stored.status) == (7, "Ann", "pending")
        assert stored.created.tzinfo is not None
        assert stored.reviewed is None
        assert [p.id for p in list_proposals(session)] == [second, first]
        assert session.get(User, 8) is not None
    with transaction(sessions, write=True) as session:
        reviewed = review_proposal(
            session, first, status="accepted", comment="thanks", reviewer_id=1, reviewer_name="Boss"
        )
    assert (reviewed.status, reviewed.reviewer_id, reviewed.reviewer_name) == (
        "accepted",
        1,
        "Boss",
    )
    assert reviewed.comment == "thanks"
    assert reviewed.reviewed is not None
    with transaction(sessions) as session:
        assert [p.id for p in list_proposals(session, "pending")] == [second]
        assert [p.id for p in list_proposals(session, "accepted")] == [first]
        types = session.scalars(select(Event.type).order_by(Event.id)).all()
        assert types == ["form.proposed", "form.proposed", "form.reviewed"]
    with transaction(sessions, write=True) as session, pytest.raises(Conflict):
        review_proposal(
            session, first, status="rejected", comment="", reviewer_id=1, reviewer_name=None
        )


def test_review_refuses_bad_input(sessions: Factory) -> None:
    proposal = propose(sessions)
    for proposal_id, status, comment, error in [
        (proposal, "maybe", "", BadRequest),
        (proposal, "pending", "", BadRequest),
        (proposal, "rejected", "x" * 2001, BadRequest),
        (proposal + 1, "rejected", "", NotFound),
        (0, "rejected", "", NotFound),
        (2**40, "rejected", "", NotFound),
    ]:
        with transaction(sessions, write=True) as session, pytest.raises(error):
            review_proposal(
                session,
                proposal_id,
                status=status,
                comment=comment,
                reviewer_id=1,
                reviewer_name=None,
            )
    with transaction(sessions) as session:
        assert get_proposal(session, proposal).status == "pending"
        with pytest.raises(NotFound):
            get_proposal(session, 2**40)


def test_notes_are_checked(sessions: Factory) -> None:
    for note in ["x" * 2001, "a\x00b"]:
        with pytest.raises(BadRequest):
            propose(sessions, note=note)


def _change(sessions: Factory, proposal: int, **change: str) -> None:
    with transaction(sessions, write=True) as session:
        row = session.get(FormProposal, proposal)
        assert row is not None
        for name, value in change.items():
            setattr(row, name, value)
        session.flush()


def test_the_database_keeps_review_and_status_consistent(sessions: Factory) -> None:
    proposal = propose(sessions)
    for change in [{"status": "accepted"}, {"status": "other"}]:
        with pytest.raises(DBAPIError):  # MariaDB reports a failed CHECK as OperationalError
            _change(sessions, proposal, **change)
