"""Forms: the Wiki labels form format (OOjs UI widget configs in YAML) and label validation."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from wikiloom.errors import FormError, InvalidLabel

Kind = Literal["choice", "boolean", "text", "list"]

MAX_TEXT_LENGTH = 10_000
"""Longest text a TextInputWidget may yield unless the widget sets a smaller `maxLength`."""

_SELECTS = {"ButtonSelectWidget": "ButtonOptionWidget", "RadioSelectWidget": "RadioOptionWidget"}
_OPTIONS = {"ButtonOptionWidget", "RadioOptionWidget"}
_BOOLEANS = {"CheckboxInputWidget", "ToggleSwitchWidget", "ToggleButtonWidget"}
_TEXTS = {"TextInputWidget", "MultilineTextInputWidget"}
_LISTS = {  # the custom edit_type widgets and the vocabularies each needs
    "SemanticsSelector": ("meanings",),
    "SemanticOperationsSelector": ("meanings", "objects", "actions"),
    "SyntacticOperationsSelector": ("objects", "actions"),
}
_VALUELESS = {"FieldLayout", "FieldsetLayout", "LabelWidget", "HtmlSnippet"}
_CLASSES = _VALUELESS | set(_SELECTS) | _OPTIONS | _BOOLEANS | _TEXTS | set(_LISTS)
_CLASSES.add("DropdownInputWidget")
_TOP_KEYS = {"name", "title", "fields"}
_MESSAGE = re.compile(r"<([A-Za-z0-9][A-Za-z0-9_.:-]*)>")
#: Integers beyond this lose digits in JavaScript (and so in the browser's label JSON).
MAX_SAFE_INTEGER = 2**53 - 1


class FormProblem(FormError):
    """A FormError at a place in the form's YAML: `line` (1-based), `column` when known."""

    def __init__(self, shown: str, line: int, problem: str, column: int | None = None) -> None:
        super().__init__(f"{shown}, line {line}: {problem}")
        self.line = line
        self.column = column
        self.problem = problem


@dataclass(frozen=True)
class Field:
    """One named widget of a form: a key of the label JSON."""

    name: str
    widget: str
    kind: Kind
    options: tuple[object, ...]
    required: bool
    line: int


@dataclass(frozen=True, eq=False)
class Form:
    """A loaded form: its config (served to the gadget), messages and named fields."""

    key: str
    config: dict[str, Any]
    i18n: dict[str, dict[str, str]]
    fields: dict[str, Field]
    _schema: dict[str, Any] = field(init=False, repr=False)
    _validator: Draft202012Validator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        schema = _label_schema(self.key, self.config, self.fields)
        object.__setattr__(self, "_schema", schema)
        object.__setattr__(self, "_validator", Draft202012Validator(schema))

    def json_schema(self) -> dict[str, Any]:
        """Return the JSON Schema (2020-12) of a valid label."""
        return copy.deepcopy(self._schema)

    def validate(self, label: object) -> dict[str, Any]:
        """Return `label` if it fits the form; raise InvalidLabel naming the field otherwise."""
        error = next(self._validator.iter_errors(label), None)
        if error is None:
            return cast(dict[str, Any], label)
        if not isinstance(label, dict):
            raise InvalidLabel(f"a label must be a JSON object, not {_type_name(label)}")
        unknown = [key for key in label if key not in self.fields]
        if unknown:
            names, known = (", ".join(map(_json, keys)) for keys in (unknown, self.fields))
            message = f"unknown field{'s'[: len(unknown) - 1]} {names}; form {self.key} has {known}"
            raise InvalidLabel(message, field=str(unknown[0]))
        for name in self.fields:
            if name not in label:
                raise InvalidLabel(f'field "{name}" is missing', field=name)
        if not error.absolute_path:
            raise InvalidLabel(error.message)
        name = str(error.absolute_path[0])
        problem = _problem(self.fields[name], label[name], error)
        raise InvalidLabel(f'field "{name}": {problem}', field=name)


def builtin_forms_dir() -> Path:
    """Return the directory of the forms shipped with wikiloom."""
    return Path(__file__).with_name("forms")


def load_forms(directory: Path, i18n_dir: Path | None = None) -> dict[str, Form]:
    """Load every *.yaml form in `directory`, keyed and sorted by file name."""
    if not directory.is_dir():
        raise FormError(f"{directory}: not a directory of forms")
    paths = sorted(directory.glob("*.yaml"), key=lambda path: path.stem)
    return {path.stem: load_form(path, i18n_dir) for path in paths}


def load_form(path: Path, i18n_dir: Path | None = None) -> Form:
    """Load one form and its messages from `i18n_dir/<key>/*.json` (default: ./i18n)."""
    shown = "/".join(path.parts[-2:])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FormProblem(shown, 1, f"cannot read the file: {e}") from e
    i18n = _load_i18n((i18n_dir or path.parent / "i18n") / path.stem)
    return parse_form(path.stem, text, i18n, shown)


def parse_form(
    key: str, text: str, i18n: dict[str, dict[str, str]], shown: str | None = None
) -> Form:
    """Load a form from its YAML text and messages; a FormProblem names `shown` and a line."""
    shown = shown or f"{key}.yaml"
    try:
        loader = _LineLoader(text)  # the reader checks every character first
        try:
            config = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, None)
        raise FormProblem(shown, line, f"{e.problem or e.context}", column) from e
    except yaml.reader.ReaderError as e:
        at = text[: e.position]
        line, column = at.count("\n") + 1, len(at) - at.rfind("\n")
        code = e.character if isinstance(e.character, int) else ord(e.character[:1] or b"\0")
        raise FormProblem(shown, line, f"the character #x{code:04x} is not allowed", column) from e
    except yaml.YAMLError as e:
        raise FormProblem(shown, 1, f"{e}") from e
    reader = _Reader(shown, loader.line_marks)
    fields = reader.read_form(config)
    messages = i18n.get("en", {})
    for message, line in reader.messages:
        if message not in messages:
            raise FormProblem(shown, line, f"message <{message}> is not in i18n/{key}/en.json")
    return Form(key=key, config=config, i18n=i18n, fields=fields)


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that records the line of every mapping and of each of its keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.line_marks: dict[int, tuple[int, dict[str, int]]] = {}


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    data: dict[Any, Any] = {}
    key_lines: dict[str, int] = {}
    loader.line_marks[id(data)] = (node.start_mark.line + 1, key_lines)
    yield data
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            if key_node.value in key_lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f'duplicate key "{key_node.value}"', key_node.start_mark
                )
            if key_node.tag != "tag:yaml.org,2002:str":
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"the key {key_node.value} must be a string: quote it",
                    key_node.start_mark,
                )
            key_lines[key_node.value] = key_node.start_mark.line + 1
    data.update(loader.construct_mapping(node))


def _refuse(loader: _LineLoader, node: yaml.Node) -> None:
    """Refuse a value JSON cannot carry (the config is served as JSON)."""
    what = node.tag.rsplit(":", 1)[-1]
    hint = ": quote it to make it a string" if isinstance(node, yaml.ScalarNode) else ""
    raise yaml.constructor.ConstructorError(
        None, None, f"a {what} value cannot be served as JSON{hint}", node.start_mark
    )


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_yaml_int(node)
    if abs(value) > MAX_SAFE_INTEGER:
        raise yaml.constructor.ConstructorError(
            None, None, f"the integer {node.value} is too large for JSON", node.start_mark
        )
    return value


def _construct_float(loader: _LineLoader, node: yaml.ScalarNode) -> float:
    value = loader.construct_yaml_float(node)
    if not math.isfinite(value):
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value} is not a JSON number", node.start_mark
        )
    return value


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
for _tag in ("binary", "timestamp", "set", "omap", "pairs"):
    _LineLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)


class _Reader:
    """Walk a loaded form config, check its structure and collect named fields and messages."""

    def __init__(self, shown: str, marks: dict[int, tuple[int, dict[str, int]]]) -> None:
        self.shown = shown
        self.marks = marks
        self.fields: dict[str, Field] = {}
        self.messages: list[tuple[str, int]] = []

    def line(self, mapping: dict[str, Any], key: str | None = None) -> int:
        line, key_lines = self.marks.get(id(mapping), (1, {}))
        return key_lines.get(key, line) if key is not None else line

    def fail(self, line: int, problem: str) -> FormError:
        return FormProblem(self.shown, line, problem)

    def read_form(self, config: object) -> dict[str, Field]:
        if not isinstance(config, dict):
            raise self.fail(1, f"a form must be a mapping, not {_type_name(config)}")
        unknown = sorted(str(key) for key in config if key not in _TOP_KEYS)
        if unknown:
            raise self.fail(self.line(config, unknown[0]), f'unknown top-level key "{unknown[0]}"')
        for key in ("name", "title"):
            if key in config and not isinstance(config[key], str):
                raise self.fail(self.line(config, key), f'"{key}" must be a string')
        if "fields" not in config:
            raise self.fail(self.line(config), 'a form needs a "fields" list')
        self.read_widgets(config, "fields")
        for key in ("name", "title"):
            self.find_messages(config.get(key), self.line(config, key))
        if not self.fields:
            raise self.fail(self.line(config, "fields"), "the form has no named field")
        return self.fields

    def read_widgets(self, parent: dict[str, Any], key: str) -> None:
        widgets = parent.get(key)
        if not isinstance(widgets, list) or not widgets:
            raise self.fail(self.line(parent, key), f'"{key}" must be a non-empty list')
        for widget in widgets:
            self.read_widget(widget, self.line(parent, key))

    def read_widget(self, config: object, at: int, option_of: str | None = None) -> None:
        if not isinstance(config, dict):
            raise self.fail(at, f"a widget config must be a mapping, not {_type_name(config)}")
        line = self.line(config)
        cls = config.get("class")
        if cls not in _CLASSES:
            known = ", ".join(sorted(_CLASSES))
            raise self.fail(self.line(config, "class"), f"unknown widget class {cls!r} ({known})")
        for key, value in config.items():
            if key not in ("class", "name", "items", "fieldWidget"):
                self.find_messages(value, self.line(config, key))
        if option_of is not None and cls != option_of:
            raise self.fail(line, f"the items of this select must be {option_of}s")
        if cls == "FieldLayout":
            self.read_widget(config.get("fieldWidget"), line)
        elif cls == "FieldsetLayout":
            self.read_widgets(config, "items")
        elif cls in _SELECTS:
            for item in self.entries(config, "items", "data", "option data"):
                self.read_widget(item, line, option_of=_SELECTS[cls])
        elif cls == "DropdownInputWidget":
            self.entries(config, "options", "data", "option data")
        name = config.get("name")
        if name is None:
            return
        if not isinstance(name, str) or not name:
            raise self.fail(self.line(config, "name"), "a field name must be a non-empty string")
        if option_of is not None:
            raise self.fail(self.line(config, "name"), f'option "{name}" of a select has a name')
        if cls in _VALUELESS:
            raise self.fail(self.line(config, "name"), f'{cls} "{name}" yields no value')
        self.add_field(config, name, cls)

    def entries(self, config: dict[str, Any], key: str, id_key: str, what: str) -> list[Any]:
        """Check that `config[key]` is a non-empty list of mappings with unique `id_key`s."""
        entries = config.get(key)
        if not isinstance(entries, list) or not entries:
            raise self.fail(self.line(config), f'a {config["class"]} needs a list of "{key}"')
        seen: dict[str, int] = {}
        for entry in entries:
            if not isinstance(entry, dict) or id_key not in entry:
                at = self.line(entry) if isinstance(entry, dict) else self.line(config, key)
                raise self.fail(at, f'each of "{key}" needs "{id_key}"')
            line, value = self.line(entry, id_key), entry[id_key]
            if value is None or isinstance(value, (list, dict)):
                raise self.fail(line, f"{what} must be a string, number or boolean")
            encoded = json.dumps(value)
            if encoded in seen:
                raise self.fail(line, f"duplicate {what} {encoded} (line {seen[encoded]})")
            seen[encoded] = line
        return entries

    def add_field(self, config: dict[str, Any], name: str, cls: str) -> None:
        line = self.line(config, "name")
        if name in self.fields:
            raise self.fail(line, f'duplicate field "{name}" (line {self.fields[name].line})')
        required = config.get("required", False)
        if not isinstance(required, bool):
            raise self.fail(self.line(config, "required"), '"required" must be true or false')
        kind: Kind
        options: tuple[object, ...] = ()
        if cls in _SELECTS:
            kind, options = "choice", tuple(item["data"] for item in config["items"])
        elif cls == "DropdownInputWidget":
            kind, options = "choice", tuple(option["data"] for option in config["options"])
        elif cls in _TEXTS:
            kind = "text"
            limit = config.get("maxLength", MAX_TEXT_LENGTH)
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise self.fail(self.line(config, "maxLength"), "maxLength must be positive")
        elif cls in _LISTS:
            kind = "list"
            for key in _LISTS[cls]:
                entries = self.entries(config, key, "value", f"{key[:-1]} value")
                options = (
                    tuple(entry["value"] for entry in entries) if key == "meanings" else options
                )
        else:
            kind = "boolean"
        self.fields[name] = Field(name, cls, kind, options, required, line)

    def find_messages(self, value: object, line: int) -> None:
        if isinstance(value, str):
            match = _MESSAGE.fullmatch(value)
            if match:
                self.messages.append((match[1], line))
        elif isinstance(value, list):
            for item in value:
                self.find_messages(item, line)
        elif isinstance(value, dict):
            if value.get("class", "HtmlSnippet") != "HtmlSnippet":
                raise self.fail(self.line(value), "only an HtmlSnippet may be nested here")
            for key, item in value.items():
                self.find_messages(item, self.line(value, key))


def _load_i18n(directory: Path) -> dict[str, dict[str, str]]:
    """Load `<lang>.json` message files (MediaWiki format; `@metadata` is left out)."""
    i18n: dict[str, dict[str, str]] = {}
    if not directory.is_dir():
        return i18n
    for path in sorted(directory.glob("*.json")):
        shown = "/".join(path.parts[-3:])
        try:
            messages = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError included
            raise FormError(f"{shown}, line {getattr(e, 'lineno', 1)}: {e}") from e
        if not isinstance(messages, dict):
            raise FormError(f"{shown}, line 1: a message file must be a JSON object")
        messages.pop("@metadata", None)
        for key, text in messages.items():
            if not isinstance(text, str):
                raise FormError(f'{shown}, line 1: message "{key}" must be a string')
        i18n[path.stem] = messages
    return i18n


def _field_schema(config: dict[str, Any], spec: Field) -> dict[str, Any]:
    nullable = not spec.required
    if spec.kind == "boolean":
        return {"type": "boolean"}
    if spec.kind == "choice":
        return {"enum": [*spec.options, *([None] if nullable else [])]}
    if spec.kind == "text":
        text: dict[str, Any] = {"type": ["string", "null"] if nullable else "string"}
        text["maxLength"] = config.get("maxLength", MAX_TEXT_LENGTH)
        if spec.required:
            text["pattern"] = r"\S"
        return text
    array = "array"
    if spec.widget != "SemanticsSelector":
        operation = {
            "type": "object",
            "required": ["object", "action"],
            "additionalProperties": False,
            "properties": {
                "object": {"enum": [entry["value"] for entry in config["objects"]]},
                "action": {"enum": [entry["value"] for entry in config["actions"]]},
            },
        }
        operations = {"type": "array", "uniqueItems": True, "items": operation}
        if spec.widget == "SyntacticOperationsSelector":
            return {**operations, "type": ["array", "null"] if nullable else "array"}
        array = "object"
        listing: dict[str, Any] = {"propertyNames": {"enum": list(spec.options)}}
        listing["additionalProperties"] = operations
    else:
        listing = {"uniqueItems": True, "items": {"enum": list(spec.options)}}
    if nullable:
        return {"type": [array, "null"], **listing}
    return {"type": array, ("minItems" if array == "array" else "minProperties"): 1, **listing}


def _label_schema(key: str, config: dict[str, Any], fields: dict[str, Field]) -> dict[str, Any]:
    by_name = {widget["name"]: widget for widget in _named_widgets(config)}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"label of form {key}",
        "type": "object",
        "required": list(fields),
        "additionalProperties": False,
        "properties": {name: _field_schema(by_name[name], spec) for name, spec in fields.items()},
    }
    Draft202012Validator.check_schema(schema)  # a failure here is a bug in this module
    return schema


def _named_widgets(value: object) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if isinstance(value.get("name"), str) and value.get("class") in _CLASSES:
            yield value
        for item in value.values():
            yield from _named_widgets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _named_widgets(item)


def _type_name(value: object) -> str:
    names = {bool: "a boolean", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), "a number")


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)[:200]


def _problem(spec: Field, value: object, error: ValidationError) -> str:
    if spec.kind == "boolean":
        return f"{_json(value)} is not true or false"
    if spec.kind == "choice":
        allowed = [*spec.options, *([] if spec.required else [None])]
        listed = ", ".join(_json(option) for option in allowed)
        if value is None:
            return f"a value is required, one of {listed}"
        return f"{_json(value)} is not one of {listed}"
    if spec.kind == "text":
        if value is None or (isinstance(value, str) and not value.strip()):
            return "may not be empty"
        if not isinstance(value, str):
            return f"{_json(value)} is not a string"
        return f"the text is longer than the limit ({len(value)} characters)"
    if value is None or value in ([], {}):
        return "choose at least one"
    mapping = spec.widget == "SemanticOperationsSelector"
    if not isinstance(value, dict if mapping else list):
        return f"{_json(value)} is not a {'mapping' if mapping else 'list'}"
    if error.validator == "enum":
        listed = ", ".join(_json(option) for option in cast(list[object], error.validator_value))
        return f"{_json(error.instance)} is not one of {listed}"
    if error.validator == "uniqueItems":
        return f"{_json(error.instance)} has a value twice"
    return f"{_json(error.instance)}: {error.message}"
