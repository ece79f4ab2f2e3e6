"""Every form renders in the browser and yields the label JSON the server accepts.

The form renderer (static/ui/forms.js) runs in Chromium on a page of a live server: each
catalog form is answered in full and its `value()` checked against the form's own schema;
an untouched form yields Wiki labels' values (null choices, false boxes, empty texts); the
per-question "unsure" toggle answers null; messages follow the language fallback chain, and
right-to-left languages lay the form out right to left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import live_server, screenshot
from wikiloom.config import Settings
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.forms import Form

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
CATALOG = load_catalog(None)

RENDER = """async ([name, chain, answer]) => {
  const { renderForm, formResolver } = await import("/static/ui/forms.js");
  const form = (await (await fetch(`/forms/${name}/`)).json()).form;
  const view = renderForm(form, formResolver(form.i18n, chain), { unsure: "Unsure" });
  document.querySelector("#main").replaceChildren(view.element);
  window.view = view;
  if (answer) {
    for (const group of view.element.querySelectorAll("[role=radiogroup]")) {
      group.querySelector("[role=radio], input[type=radio]").click();
    }
    for (const select of view.element.querySelectorAll("select")) {
      select.selectedIndex = 1;
    }
    for (const box of view.element.querySelectorAll("input[type=checkbox]")) box.click();
    for (const text of view.element.querySelectorAll("input[type=text], textarea")) {
      text.value = "a note";
    }
  }
  return view.value();
}"""


def expected(form: Form, answered: bool) -> dict[str, Any]:
    """What Wiki labels' gadget yields for a form left alone, or answered as RENDER does."""
    values: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.kind == "choice":
            values[name] = field.options[0] if answered else None
        elif field.kind == "boolean":
            values[name] = answered
        elif field.kind == "text":
            values[name] = "a note" if answered else ""
        else:
            values[name] = list(field.options) if answered else None
    return values


@pytest.fixture
def served(settings: Settings, browser: Any) -> Iterator[tuple[str, Any]]:
    with live_server(settings.model_copy(update={"dev_login": True})) as server:
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{server.url}/ui/")
        yield server.url, page
        context.close()
        assert errors == []


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_form_yields_a_valid_label(served: tuple[str, Any], name: str) -> None:
    _, page = served
    form = CATALOG[name]
    untouched = page.evaluate(RENDER, [name, ["en"], False])
    assert untouched == expected(form, answered=False)
    answered = page.evaluate(RENDER, [name, ["en"], True])
    assert answered == expected(form, answered=True)
    assert form.validate(answered) == answered
    screenshot(page, f"form-{name}")
    # Every option has a key, shown on it; no message key is left unresolved.
    keys = page.eval_on_selector_all("#main [aria-keyshortcuts]", "nodes => nodes.length")
    options = sum(len(f.options) for f in form.fields.values() if f.kind == "choice")
    assert keys >= options
    assert "<" not in page.inner_text("#main").replace("<=", "")


def test_unsure_per_question_answers_null(served: tuple[str, Any]) -> None:
    _, page = served
    page.evaluate(RENDER, ["damaging_and_goodfaith", ["en"], False])
    # Keys: 1/2 damaging, 3 unsure about damaging, 4/5 good faith, 6 unsure, 7 the checkbox.
    page.evaluate(
        "() => { const keys = window.view.shortcuts; keys.get('3').run(); keys.get('4').run(); }"
    )
    value = page.evaluate("() => window.view.value()")
    assert value == {"damaging": None, "goodfaith": True, "unsure": True}
    assert page.get_attribute("[data-unsure=damaging]", "aria-pressed") == "true"
    # Choosing an answer clears the question's "unsure".
    page.evaluate("() => window.view.shortcuts.get('2').run()")
    assert page.evaluate("() => window.view.value()")["damaging"] is False
    assert page.get_attribute("[data-unsure=damaging]", "aria-pressed") == "false"


def test_form_html_snippets_are_sanitized(served: tuple[str, Any]) -> None:
    _, page = served
    value = page.evaluate(
        """async () => {
          const { renderForm, formResolver } = await import("/static/ui/forms.js");
          const html = '<b>bold</b><img src=x onerror="window.__xss = 1">'
            + '<script>window.__xss = 2</script>';
          const label = { class: "HtmlSnippet", content: html };
          const config = { name: "x", fields: [{ class: "LabelWidget", label }] };
          const view = renderForm(config, formResolver({}, ["en"]));
          document.querySelector("#main").replaceChildren(view.element);
          await new Promise((done) => setTimeout(done, 200));
          return [document.querySelector("#main .wl-html").innerHTML, window.__xss ?? null];
        }"""
    )
    assert value[1] is None
    assert "<b>bold</b>" in value[0]
    assert "onerror" not in value[0]
    assert "script" not in value[0]


@pytest.fixture
def translated(tmp_path: Path) -> Path:
    """A forms directory with one form translated into Portuguese and Arabic."""
    (tmp_path / "choice.yaml").write_text(
        "name: choice\nfields:\n"
        "  - class: FieldLayout\n    label: '<question>'\n    fieldWidget:\n"
        "      class: ButtonSelectWidget\n      name: answer\n      items:\n"
        "        - {class: ButtonOptionWidget, data: true, label: '<yes>'}\n"
        "        - {class: ButtonOptionWidget, data: false, label: '<no>'}\n"
    )
    i18n = tmp_path / "i18n" / "choice"
    i18n.mkdir(parents=True)
    messages = {
        "en": {"question": "Is it good?", "yes": "Yes", "no": "No"},
        "pt": {"question": "É bom?", "yes": "Sim"},
        "ar": {"question": "هل هو جيد؟", "yes": "نعم", "no": "لا"},
        "qqq": {"question": "The question.", "yes": "Yes.", "no": "No."},
    }
    for language, texts in messages.items():
        (i18n / f"{language}.json").write_text(json.dumps(texts, ensure_ascii=False))
    return tmp_path


def test_messages_follow_the_fallback_chain_and_rtl_lays_out_right_to_left(
    settings: Settings, browser: Any, translated: Path
) -> None:
    with live_server(settings.model_copy(update={"forms_dir": translated})) as server:
        page = browser.new_page()
        page.goto(f"{server.url}/ui/arwiki/")
        chain = page.evaluate(
            "() => JSON.parse(document.getElementById('wikiloom-config').textContent).chain"
        )
        assert chain == ["ar", "en"]
        page.evaluate(RENDER, ["choice", chain, False])
        assert (
            page.evaluate("() => getComputedStyle(document.querySelector('#main')).direction")
            == "rtl"
        )
        yes = page.locator("[role=radio]").nth(0).bounding_box()
        no = page.locator("[role=radio]").nth(1).bounding_box()
        assert yes["x"] > no["x"]  # the first option stands at the right
        assert "هل هو جيد؟" in page.inner_text("#main")
        screenshot(page, "form-rtl")

        page.goto(f"{server.url}/ui/enwiki/?uselang=pt-br")
        chain = page.evaluate(
            "() => JSON.parse(document.getElementById('wikiloom-config').textContent).chain"
        )
        page.evaluate(RENDER, ["choice", chain, False])
        text = page.inner_text("#main")
        assert "É bom?" in text
        assert "Sim" in text
        assert "No" in text

        page.evaluate(RENDER, ["choice", ["qqx", "en"], False])
        assert "(question)" in page.inner_text("#main")
        page.close()
