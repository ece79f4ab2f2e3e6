# ruff: noqa: PT017  (either outcome is right: pytest.raises cannot say so)
"""Fuzzing the parsers of untrusted input: bad input is refused with a clear error, never a crash.

Each parser gets arbitrary input from hypothesis, and must answer either its result or its
one documented error (a FormProblem naming a line, a BadRequest naming a line or a field, a
MalformedEvent); any other exception is a bug. Hypothesis runs derandomized and bounded.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.labels.factories import campaign_with_tasks
from wikiloom.db import transaction
from wikiloom.errors import BadRequest, InvalidLabel
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.forms import _CLASSES, Form, FormProblem, parse_form
from wikiloom.labels.tables import Task
from wikiloom.labels.tasks import insert_tasks, parse_task_lines
from wikiloom.labels.views import VIEWS
from wikiloom.wiki.events import MalformedEvent, WikiChange, parse_change, read_event

FUZZ = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
FORMS = load_catalog()
I18N = {"en": {"label": "A label", "title": "A title"}}

#: Scalars as JSON and YAML carry them, and some that break naive code.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["", "0", "1e999", "-1", "NaN", "2026-06-22T09:48:10Z", "<label>"]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)

# --- forms ---------------------------------------------------------------------------------

#: Keys and values a form uses, so that generated structures get deep into the reader.
FORM_KEYS = [
    "class", "name", "fields", "title", "label", "items", "options", "data", "required",
    "maxLength", "meanings", "objects", "actions", "value", "html", "align", "help",
]  # fmt: skip
form_scalars = st.one_of(scalars, st.sampled_from(sorted(_CLASSES)), st.sampled_from(FORM_KEYS))
form_values = st.recursive(
    form_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(st.sampled_from(FORM_KEYS), scalars), inner, max_size=5)
    ),
    max_leaves=30,
)
widgets = st.fixed_dictionaries(
    {"class": st.sampled_from(sorted(_CLASSES))},
    optional={key: form_values for key in FORM_KEYS if key != "class"},
)
forms = st.fixed_dictionaries(
    {"fields": st.lists(widgets, max_size=4) | form_values},
    optional={"name": form_values, "title": form_values, "other": form_values},
)
yaml_tokens = st.lists(
    st.sampled_from(
        [
            "fields:",
            "\n",
            "  ",
            "- ",
            "class: ",
            "name: ",
            "ButtonSelectWidget",
            "[",
            "]",
            "{",
            "}",
            ": ",
            "&a ",
            "*a",
            "!!python/object:os.system",
            "!!binary",
            "---",
            "'",
            '"',
            "#",
            "|",
            ">",
            "0x1F",
            "1e999",
            ".nan",
            "~",
            "<<: *a",
            "\t",
            "\x00",
            "\ufeff",
        ]
    )
    | st.text(max_size=5),
    max_size=40,
).map("".join)


def _form_or_problem(text: str) -> Form | None:
    """Parse; a FormProblem must name a line that exists (a column too, when known)."""
    try:
        return parse_form("fuzz", text, I18N)
    except FormProblem as problem:
        assert problem.line >= 1, problem
        assert re.match(r"fuzz\.yaml, line \d+: .+", str(problem), re.S), str(problem)
        return None


@FUZZ
@given(text=st.one_of(st.text(), yaml_tokens))
def test_any_yaml_text_gives_a_form_or_a_form_problem(text: str) -> None:
    form = _form_or_problem(text)
    if form is not None:
        assert form.fields
        form.json_schema()


@FUZZ
@given(structure=st.one_of(forms, form_values))
def test_any_nested_structure_gives_a_form_or_a_form_problem(structure: Any) -> None:
    form = _form_or_problem(yaml.safe_dump(structure, allow_unicode=True))
    if form is not None:
        # A form that loads validates labels without crashing, too.
        for label in ({}, dict.fromkeys(form.fields), []):
            with contextlib.suppress(InvalidLabel):
                form.validate(label)


# --- labels --------------------------------------------------------------------------------


def _label_for(form: Form) -> st.SearchStrategy[Any]:
    """Labels near the form: its field names with any values, or anything at all."""
    options = [o for f in form.fields.values() for o in f.options]
    values = st.one_of(json_values, st.sampled_from(options or [None]))
    names = st.one_of(st.sampled_from(sorted(form.fields)), st.text(max_size=8))
    return st.one_of(json_values, st.dictionaries(names, values, max_size=len(form.fields) + 1))


@FUZZ
@given(data=st.data(), key=st.sampled_from(sorted(FORMS)))
def test_any_json_label_is_valid_or_a_bad_request_naming_a_field(
    data: st.DataObject, key: str
) -> None:
    form = FORMS[key]
    label = data.draw(_label_for(form))
    try:
        assert form.validate(label) is label
    except InvalidLabel as error:
        assert isinstance(error, BadRequest)
        assert error.message
        if error.field is not None:
            assert isinstance(label, dict)
            assert error.field in {str(k) for k in label} | set(form.fields)
        return
    assert isinstance(label, dict)
    assert set(label) <= set(form.fields)


# --- task lines ----------------------------------------------------------------------------

good_task = st.fixed_dictionaries({"rev_id": st.integers(1, 2**31)}).map(orjson.dumps)
task_lines = st.lists(
    st.one_of(
        good_task,
        st.binary(max_size=30),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.just(b""),
    ),
    min_size=1,
    max_size=8,
)


def _first_bad_line(lines: list[bytes], view: str) -> int | None:
    """The number of the first line the view refuses, by an independent reading."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            return number
        if not isinstance(data, dict):
            return number
        for key, (check, _) in VIEWS[view].items():
            if key not in data or not check(data[key]):
                return number
    return None


@FUZZ
@given(lines=task_lines, view=st.sampled_from(sorted(VIEWS)))
def test_task_lines_parse_or_a_bad_request_names_the_first_bad_line(
    lines: list[bytes], view: str
) -> None:
    bad = _first_bad_line(lines, view)
    try:
        parsed = list(parse_task_lines(lines, view))
    except BadRequest as error:
        assert bad is not None, error.message
        assert error.message.startswith(f"line {bad}: "), (bad, error.message)
        return
    assert bad is None
    assert len(parsed) == sum(1 for line in lines if line.strip())


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_bad_task_line_stores_nothing(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        campaign_id = campaign_with_tasks(session, 0).id

    def count() -> int:
        with transaction(sessions) as session:
            query = select(func.count()).select_from(Task).where(Task.campaign_id == campaign_id)
            return int(session.scalar(query) or 0)

    @settings(FUZZ, max_examples=60)
    @given(lines=task_lines)
    def run(lines: list[bytes]) -> None:
        bad = _first_bad_line(lines, "DiffToPrevious")
        before = count()
        try:
            with transaction(sessions, write=True) as session:
                inserted = insert_tasks(session, campaign_id, lines)
        except BadRequest as error:
            assert bad is not None
            assert error.message.startswith(f"line {bad}: ")
            assert count() == before  # all or nothing
            return
        assert bad is None
        assert count() == before + inserted

    run()


# --- EventStreams events -------------------------------------------------------------------

EVENT_KEYS = [
    "$schema", "meta", "stream", "domain", "page", "revision", "performer", "editor",
    "wiki_id", "database", "wiki", "rev_id", "rev_parent_id", "page_id", "namespace_id",
    "page_namespace", "page_title", "title", "namespace", "user_text", "is_bot", "user",
    "type", "new", "old", "timestamp", "rev_dt", "rev_timestamp", "dt", "page_change_kind",
    "event",
]  # fmt: skip
EVENT_VALUES = [
    "/mediawiki/page/change/1.1.0", "/mediawiki/revision/create/2.0.0",
    "/mediawiki/recentchange/1.0.0", "mediawiki.page_change.v1", "mediawiki.revision-create",
    "mediawiki.recentchange", "canary", "edit", "new", "log", "enwiki",
    "2026-06-22T09:48:10Z", "not a time",
]  # fmt: skip
event_values = st.recursive(
    st.one_of(scalars, st.sampled_from(EVENT_VALUES)),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(EVENT_KEYS), inner, max_size=6)
    ),
    max_leaves=25,
)
events = st.dictionaries(st.sampled_from(EVENT_KEYS), event_values, max_size=8)


@FUZZ
@given(event=st.one_of(events, st.dictionaries(st.text(), json_values)))
def test_any_event_is_a_change_none_or_a_malformed_event(event: dict[str, Any]) -> None:
    try:
        change = parse_change(event, "id")
    except MalformedEvent as error:
        assert isinstance(error, BadRequest)
        assert error.message.startswith("malformed event")
        return
    assert change is None or isinstance(change, WikiChange)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=60).map(lambda b: b.decode("utf-8", "replace")),
        events.map(json.dumps),
        json_values.map(json.dumps),
    )
)
def test_any_sse_payload_is_a_change_none_or_a_malformed_event(data: str) -> None:
    try:
        change = read_event(data, "id-7")
    except MalformedEvent as error:
        assert "id-7" in error.message
        return
    assert change is None or isinstance(change, WikiChange)
