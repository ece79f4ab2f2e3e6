"""UI messages: MediaWiki's JSON files, fallbacks, $1 and {{PLURAL}}, qqx; every key documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from wikiloom.http.messages import DIRECTORY, Messages, format_message, language_code, load_messages

HTTP = Path(__file__).resolve().parents[2] / "src" / "wikiloom" / "http"
#: How templates and scripts name a message: msg('key'…) in Jinja, msg("key"…) in JS.
USED = re.compile(r"""msg\(\s*['"](wikiloom-[a-z0-9-]+)['"]""")


def messages(**table: dict[str, str]) -> Messages:
    return Messages({"en": {"hello": "Hello $1", "only-en": "English"}, **table})


def test_parameters_and_plurals() -> None:
    assert format_message("en", "Hello $1 and $2", ("A", "B")) == "Hello A and B"
    assert format_message("en", "$1 {{PLURAL:$1|task|tasks}}", (1,)) == "1 task"
    assert format_message("en", "$1 {{PLURAL:$1|task|tasks}}", (5,)) == "5 tasks"
    assert format_message("en", "{{PLURAL:$1|0=none|one|many}}", (0,)) == "none"
    # Russian has one, few, many: MediaWiki's forms follow that order.
    forms = "{{PLURAL:$1|задача|задачи|задач}}"
    assert [format_message("ru", forms, (n,)) for n in (1, 3, 5, 21)] == [
        "задача", "задачи", "задач", "задача",
    ]  # fmt: skip
    assert format_message("en", "missing $3", ("a",)) == "missing $3"


def test_fallback_chain_and_missing_keys() -> None:
    table = messages(pt={"hello": "Olá $1"})
    assert table.text("pt-br", "hello", "Ana") == "Olá Ana"
    assert table.text("pt-br", "only-en") == "English"
    assert table.text("de", "nope") == "⧼nope⧽"


def test_qqx_shows_keys() -> None:
    table = messages()
    assert table.text("qqx", "hello", "Ana") == "(hello: Ana)"
    assert table.text("qqx", "only-en") == "(only-en)"
    assert table.bundle("qqx")["hello"] == "(hello)"


def test_language_codes_from_the_url_are_checked() -> None:
    assert language_code("PT_br") == "pt-br"
    assert language_code("qqx") == "qqx"
    for bad in ("", "<script>", "e", "en;drop", "x" * 40):
        assert language_code(bad) is None


def test_files_are_mediawiki_message_files_with_every_key_documented() -> None:
    english = json.loads((DIRECTORY / "en.json").read_text("utf-8"))
    documented = json.loads((DIRECTORY / "qqq.json").read_text("utf-8"))
    assert "@metadata" in english
    assert "@metadata" in documented
    assert set(english) == set(documented)
    assert "qqq" not in load_messages()
    for key, text in documented.items():
        if key != "@metadata":
            assert text.strip(), key
            for parameter in set(re.findall(r"\$\d", english[key])):
                assert parameter in text, f"{key}: qqq.json does not document {parameter}"


@pytest.mark.parametrize(
    "path",
    sorted(p for p in HTTP.rglob("*") if p.suffix in (".html", ".js") and "vendor" not in p.parts),
    ids=lambda p: str(p.relative_to(HTTP)),
)
def test_every_message_a_page_uses_exists(path: Path) -> None:
    english = json.loads((DIRECTORY / "en.json").read_text("utf-8"))
    used = set(USED.findall(path.read_text("utf-8")))
    # A key built from parts (`msg('wikiloom-models-status-' ~ status)`) names a family.
    families = {key for key in used if key.endswith("-")}
    missing = sorted(used - families - set(english))
    missing += sorted(f"{f}*" for f in families if not any(k.startswith(f) for k in english))
    assert not missing, f"{path.name} uses messages that en.json lacks: {missing}"
