"""Tests of the form loader (Wiki labels form format) and of label validation."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from wikiloom.errors import FormError, InvalidLabel
from wikiloom.labels.forms import (
    MAX_TEXT_LENGTH,
    Field,
    Form,
    builtin_forms_dir,
    load_form,
    load_forms,
)

# The label keys of every shipped form: the compatibility contract with Wiki labels' production
# forms (wikimedia/wikilabels-wmflabs-deploy) and with downstream consumers of the labels.
BUILTIN_FIELDS = {
    "article_topic": ["academic", "pop_culture", "notes"],
    "damaging_and_goodfaith": ["damaging", "goodfaith", "unsure"],
    "draft_notability": ["choose-guideline", "is-notable", "notes"],
    "draft_quality": ["firstpass", "interesting"],
    "edit_type": [
        "semantic_labels",
        "information-added",
        "information-modified",
        "information-removed",
        "notes",
    ],
    "face_depicts": ["depicts", "unsure"],
    "item_quality": ["item-quality"],
    "nl_articlequality": ["item_quality"],
    "toxicity": ["detox"],
    "unsourced_statements": ["citation_needed", "notes-true", "notes-false", "notes"],
    "wp10": ["wp10"],
}


@pytest.fixture(scope="module")
def forms() -> dict[str, Form]:
    return load_forms(builtin_forms_dir())


@pytest.fixture(scope="module")
def dg(forms: dict[str, Form]) -> Form:
    return forms["damaging_and_goodfaith"]


def write_form(tmp_path: Path, text: str, key: str = "x", en: dict[str, str] | None = None) -> Path:
    """Write forms/<key>.yaml (and forms/i18n/<key>/en.json if `en` is given)."""
    directory = tmp_path / "forms"
    directory.mkdir(exist_ok=True)
    path = directory / f"{key}.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    if en is not None:
        (directory / "i18n" / key).mkdir(parents=True, exist_ok=True)
        (directory / "i18n" / key / "en.json").write_text(json.dumps(en), encoding="utf-8")
    return path


# --- the shipped forms ------------------------------------------------------------------------


def test_every_builtin_form_loads_with_its_fields(forms: dict[str, Form]) -> None:
    assert list(forms) == sorted(BUILTIN_FIELDS)
    for key, form in forms.items():
        assert form.key == key
        assert list(form.fields) == BUILTIN_FIELDS[key], key
        assert form.config["fields"], key


def test_every_builtin_form_has_english_and_documented_messages(forms: dict[str, Form]) -> None:
    for key, form in forms.items():
        assert form.i18n["en"], key
        assert "@metadata" not in form.i18n["en"]
        assert set(form.i18n["qqq"]) == set(form.i18n["en"]), key
        assert all(text.strip() for text in form.i18n["en"].values()), key


def test_builtin_option_values_match_production(forms: dict[str, Form]) -> None:
    def options(key: str, name: str) -> tuple[object, ...]:
        return forms[key].fields[name].options

    assert options("damaging_and_goodfaith", "damaging") == (True, False)
    assert options("damaging_and_goodfaith", "goodfaith") == (True, False)
    assert set(options("wp10", "wp10")) == {"Stub", "Start", "C", "B", "GA", "FA"}
    assert options("draft_quality", "firstpass") == ("OK", "spam", "vandalism", "attack")
    assert options("item_quality", "item-quality") == ("A", "B", "C", "D", "E")
    assert options("unsourced_statements", "citation_needed") == (True, False, "none")
    assert "very-toxic" in options("toxicity", "detox")
    assert "countervandalism" in options("edit_type", "semantic_labels")
    assert forms["face_depicts"].fields["depicts"] == Field(
        "depicts", "ButtonSelectWidget", "choice", (True, False), True, 15
    )


def test_config_is_the_yaml_as_loaded(forms: dict[str, Form]) -> None:
    for key, form in forms.items():
        text = (builtin_forms_dir() / f"{key}.yaml").read_text(encoding="utf-8")
        assert form.config == yaml.safe_load(text)
        json.dumps(form.config)  # served as JSON


def test_json_schema_is_valid_2020_12_and_a_copy(forms: dict[str, Form]) -> None:
    for form in forms.values():
        schema = form.json_schema()
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["required"] == list(form.fields)
        schema["properties"].clear()
        assert form.json_schema()["properties"]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("damaging", [True, False, None])
@pytest.mark.parametrize("goodfaith", [True, False, None])
@pytest.mark.parametrize("unsure", [True, False])
def test_damaging_and_goodfaith_accepts_gadget_labels(
    dg: Form, damaging: bool | None, goodfaith: bool | None, unsure: bool
) -> None:
    label = {"damaging": damaging, "goodfaith": goodfaith, "unsure": unsure}
    assert dg.validate(label) is label


@pytest.mark.parametrize(
    ("label", "field", "message"),
    [
        ({"damaging": "maybe", "goodfaith": True, "unsure": False}, "damaging", '"maybe" is not'),
        ({"damaging": "true", "goodfaith": True, "unsure": False}, "damaging", "true, false, null"),
        ({"damaging": 1, "goodfaith": True, "unsure": False}, "damaging", "1 is not one of"),
        ({"damaging": True, "goodfaith": [True], "unsure": False}, "goodfaith", "[true] is not"),
        ({"damaging": True, "goodfaith": True, "unsure": None}, "unsure", "null is not true"),
        ({"damaging": True, "goodfaith": True, "unsure": "false"}, "unsure", "not true or false"),
        ({"damaging": True, "goodfaith": True}, "unsure", "is missing"),
        ({"damaging": True, "unsure": False}, "goodfaith", "is missing"),
        (
            {"damaging": True, "goodfaith": True, "unsure": False, "good-faith": 1},
            "good-faith",
            "unknown",
        ),
        ({"damaging": True, "goodfaith": True, "unsure": False, "a": 1, "b": 2}, "a", '"a", "b"'),
    ],
)
def test_damaging_and_goodfaith_rejects_bad_labels(
    dg: Form, label: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(InvalidLabel) as caught:
        dg.validate(label)
    assert caught.value.field == field
    assert f'"{field}"' in caught.value.message
    assert message in caught.value.message


@pytest.mark.parametrize("label", [None, [], "damaging", 1, True])
def test_label_must_be_an_object(dg: Form, label: object) -> None:
    with pytest.raises(InvalidLabel, match="must be a JSON object"):
        dg.validate(label)


def test_required_choice_refuses_null(forms: dict[str, Form]) -> None:
    form = forms["face_depicts"]
    assert form.validate({"depicts": False, "unsure": True})
    with pytest.raises(InvalidLabel, match='field "depicts": a value is required') as caught:
        form.validate({"depicts": None, "unsure": False})
    assert caught.value.field == "depicts"


def test_text_fields(forms: dict[str, Form]) -> None:
    form = forms["article_topic"]
    label: dict[str, Any] = {"academic": True, "pop_culture": None, "notes": ""}
    assert form.validate(label)
    assert form.validate({**label, "notes": None})
    assert form.validate({**label, "notes": "é" * MAX_TEXT_LENGTH})
    with pytest.raises(InvalidLabel, match='field "notes": the text is longer'):
        form.validate({**label, "notes": "x" * (MAX_TEXT_LENGTH + 1)})
    with pytest.raises(InvalidLabel, match='field "notes": 3 is not a string'):
        form.validate({**label, "notes": 3})


def test_required_text_and_max_length(tmp_path: Path) -> None:
    form = load_form(
        write_form(
            tmp_path,
            """\
            fields:
              - {class: TextInputWidget, name: why, required: true, maxLength: 5}
            """,
        )
    )
    assert form.validate({"why": "spam"})
    for bad in ["", "   ", None]:
        with pytest.raises(InvalidLabel, match='field "why": may not be empty'):
            form.validate({"why": bad})
    with pytest.raises(InvalidLabel, match='field "why": the text is longer'):
        form.validate({"why": "abcdef"})


def test_semantics_selector_list(forms: dict[str, Form]) -> None:
    form = forms["edit_type"]
    base = {"information-added": True, "information-modified": False}
    base |= {"information-removed": False, "notes": ""}
    assert form.validate({**base, "semantic_labels": ["pov", "copyediting"]})
    assert form.validate({**base, "semantic_labels": None})  # the widget's empty value
    for bad, message in [
        (["pov", "pov"], "semantic_labels"),
        (["nonsense"], "semantic_labels"),
        ("pov", '"pov" is not a list'),
    ]:
        with pytest.raises(InvalidLabel, match=message) as caught:
            form.validate({**base, "semantic_labels": bad})
        assert caught.value.field == "semantic_labels"


def test_semantic_operations_selector(tmp_path: Path) -> None:
    form = load_form(
        write_form(
            tmp_path,
            """\
            fields:
              - class: SemanticOperationsSelector
                name: semantic_labels
                required: true
                meanings: [{value: pov}, {value: factupdate}]
                objects: [{value: ref}, {value: wikilink}]
                actions: [{value: insertion}, {value: deletion}]
            """,
        )
    )
    good = {"semantic_labels": {"pov": [{"object": "ref", "action": "insertion"}]}}
    assert form.validate(good)
    assert form.fields["semantic_labels"].options == ("pov", "factupdate")
    for bad in [
        {"semantic_labels": {}},
        {"semantic_labels": {"other": []}},
        {"semantic_labels": {"pov": [{"object": "table", "action": "insertion"}]}},
        {"semantic_labels": {"pov": [{"object": "ref"}]}},
        {"semantic_labels": ["pov"]},
    ]:
        with pytest.raises(InvalidLabel) as caught:
            form.validate(bad)
        assert caught.value.field == "semantic_labels"


# --- loading errors ---------------------------------------------------------------------------

VALID = """\
name: x
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


def test_valid_form_and_i18n(tmp_path: Path) -> None:
    path = write_form(tmp_path, VALID, en=EN)
    (path.parent / "i18n" / "x" / "qqq.json").write_text('{"@metadata": {}, "q": "doc"}')
    form = load_form(path)
    assert form.i18n == {"en": EN, "qqq": {"q": "doc"}}
    assert form.fields["answer"].line == 7
    moved = tmp_path / "elsewhere"
    (path.parent / "i18n").rename(moved)
    assert load_form(path, i18n_dir=moved).i18n["en"] == EN
    assert list(load_forms(path.parent, i18n_dir=moved)) == ["x"]


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write_form(tmp_path, VALID.replace('    label: "<q>"', '    label: ["<q>"'), en=EN)
    with pytest.raises(FormError) as caught:
        load_form(path)
    assert "forms/x.yaml, line " in caught.value.message
    line = int(caught.value.message.split("line ")[1].split(":")[0])
    assert line in (4, 5)  # the unclosed flow sequence starts on line 4; the parser trips on 5


def test_unsafe_yaml_is_refused(tmp_path: Path) -> None:
    path = write_form(tmp_path, "name: !!python/object/apply:os.getcwd []\nfields: []\n")
    with pytest.raises(FormError, match=r"forms/x.yaml, line 1: .*python/object"):
        load_form(path)


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("fields:", "fieldz:", 2, 'unknown top-level key "fieldz"'),
        ("class: ButtonSelectWidget", "class: ButtonSelektWidget", 6, "unknown widget class"),
        (
            "name: answer",
            "name: answer\n      bogus: {class: Frobnicator}",
            8,
            "only an HtmlSnippet",
        ),
        (
            "class: ButtonOptionWidget, data: false",
            "class: RadioOptionWidget, data: false",
            10,
            "ButtonOptionWidgets",
        ),
        (
            "{class: ButtonOptionWidget, data: false",
            "{class: ButtonOptionWidget, data: true",
            10,
            "duplicate option data true (line 9)",
        ),
        ("data: false,", "data: null,", 10, "option data must be"),
        ("data: false,", "dta: false,", 10, 'needs "data"'),
        ('label: "<no>"', 'label: "<nope>"', 10, "message <nope> is not in i18n/x/en.json"),
        ("name: answer", "name: answer\n      name: again", 8, 'duplicate key "name"'),
        ("name: answer", "name: 7", 7, "non-empty string"),
        ("name: answer", "name: answer\n      required: maybe", 8, '"required" must be'),
    ],
)
def test_structural_errors_name_file_and_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in VALID
    path = write_form(tmp_path, VALID.replace(old, new, 1), en=EN)
    with pytest.raises(FormError) as caught:
        load_form(path)
    assert caught.value.message.startswith(f"forms/x.yaml, line {line}: "), caught.value.message
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "a form must be a mapping, not null"),
        ("- a\n- b\n", 1, "a form must be a mapping, not a list"),
        ("name: x\ntitle: y\n", 1, 'needs a "fields" list'),
        ("name: x\nfields: []\n", 2, '"fields" must be a non-empty list'),
        ("fields:\n  - {class: LabelWidget, label: hi}\n", 1, "no named field"),
        (
            "fields:\n  - {class: LabelWidget, name: l, label: hi}\n",
            2,
            'LabelWidget "l" yields no value',
        ),
        (
            "fields:\n  - class: FieldLayout\n    name: f\n    fieldWidget: {class: LabelWidget}\n",
            3,
            "yields no value",
        ),
        (
            "fields:\n  - {class: ButtonSelectWidget, name: c, items: []}\n",
            2,
            'needs a list of "items"',
        ),
        ("fields:\n  - {class: RadioSelectWidget, name: c}\n", 2, 'needs a list of "items"'),
        (
            "fields:\n  - {class: DropdownInputWidget, name: d, options: []}\n",
            2,
            'list of "options"',
        ),
        (
            "fields:\n  - {class: SemanticsSelector, name: s, meanings: []}\n",
            2,
            'list of "meanings"',
        ),
        (
            "fields:\n  - {class: ButtonSelectWidget, name: c, items: [\n"
            "      {class: ButtonOptionWidget, data: 1, name: o}]}\n",
            3,
            "of a select has a name",
        ),
        (
            "fields:\n  - {class: DropdownInputWidget, name: d, options: [{data: a}, {data: a}]}\n",
            2,
            'duplicate option data "a"',
        ),
        (
            "fields:\n  - {class: CheckboxInputWidget, name: a}\n"
            "  - {class: TextInputWidget, name: a}\n",
            3,
            'duplicate field "a" (line 2)',
        ),
        ("fields:\n  - {class: TextInputWidget, name: t, maxLength: 0}\n", 2, "maxLength"),
        ("fields:\n  - just a string\n", 1, "must be a mapping, not a string"),
        (
            "title: [x]\nfields:\n  - {class: CheckboxInputWidget, name: a}\n",
            1,
            '"title" must be a string',
        ),
    ],
)
def test_more_structural_errors(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(FormError) as caught:
        load_form(write_form(tmp_path, text))
    assert caught.value.message.startswith(f"forms/x.yaml, line {line}: "), caught.value.message
    assert message in caught.value.message


def test_missing_en_json_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FormError, match=r"forms/x.yaml, line 4: message <q> is not in"):
        load_form(write_form(tmp_path, VALID))


def test_bad_message_file_names_file_and_line(tmp_path: Path) -> None:
    path = write_form(tmp_path, VALID, en=EN)
    (path.parent / "i18n" / "x" / "fr.json").write_text('{\n  "q": "Question ?",\n  "yes" "Oui"\n}')
    with pytest.raises(FormError, match=r"i18n/x/fr.json, line 3: "):
        load_form(path)
    (path.parent / "i18n" / "x" / "fr.json").write_text('{"q": ["not", "a", "string"]}')
    with pytest.raises(FormError, match='message "q" must be a string'):
        load_form(path)


def test_load_forms_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(FormError, match="not a directory"):
        load_forms(tmp_path / "missing")
    assert load_forms(tmp_path) == {}


# --- properties -------------------------------------------------------------------------------


def good_value(form: Form, field: Field) -> st.SearchStrategy[Any]:
    if field.kind == "boolean":
        return st.booleans()
    null = st.nothing() if field.required else st.none()
    if field.kind == "choice":
        return st.sampled_from(field.options) | null
    if field.kind == "text":
        text = st.text(max_size=50)
        return (text.filter(str.strip) if field.required else text) | null
    assert field.widget == "SemanticsSelector"
    return st.lists(st.sampled_from(field.options), min_size=1, unique=True) | null


def bad_value(field: Field) -> st.SearchStrategy[Any]:
    junk = st.one_of(st.integers(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=2))
    if field.kind == "boolean":
        return junk | st.none() | st.text()
    if field.kind == "choice":
        strings = st.text().filter(lambda s: s not in field.options)
        return junk.filter(lambda v: v not in field.options) | strings
    if field.kind == "text":
        return junk | st.booleans()
    return st.lists(st.text().filter(lambda s: s not in field.options), min_size=1) | st.text()


def labels(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({n: good_value(form, f) for n, f in form.fields.items()})


FORMS = load_forms(builtin_forms_dir())


@settings(max_examples=300, deadline=None)
@given(data=st.data(), key=st.sampled_from(sorted(FORMS)))
def test_labels_from_allowed_values_validate(data: st.DataObject, key: str) -> None:
    form = FORMS[key]
    label = data.draw(labels(form))
    assert form.validate(label) == label
    assert Draft202012Validator(form.json_schema()).is_valid(label)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), key=st.sampled_from(sorted(FORMS)))
def test_a_value_outside_the_allowed_ones_fails(data: st.DataObject, key: str) -> None:
    form = FORMS[key]
    label = data.draw(labels(form))
    name = data.draw(st.sampled_from(list(form.fields)))
    label[name] = data.draw(bad_value(form.fields[name]))
    with pytest.raises(InvalidLabel) as caught:
        form.validate(label)
    assert caught.value.field == name
    assert f'field "{name}"' in caught.value.message


def test_builtin_messages_are_all_used(forms: dict[str, Form]) -> None:
    for key, form in forms.items():
        used = set(re.findall(r'"<([^<>"]+)>"', json.dumps(form.config)))
        assert used == set(form.i18n["en"]), key
