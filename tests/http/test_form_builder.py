"""The form builder over HTTP: the preview API, the pages, and proposals with their review."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import pytest

from tests.http.conftest import client_for
from tests.labels.test_proposals import EN, FORM, catalog_source
from wikiloom.config import Settings
from wikiloom.http import create_app
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.proposals import MAX_YAML_BYTES

pytestmark = pytest.mark.anyio
PREVIEW = "/form_builder/preview"
PROPOSALS = "/form_builder/proposals"
XSS = "<script>alert(1)</script>"


@pytest.fixture
def admin_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"admins": ["Boss"]})


def problems(answer: httpx.Response) -> list[dict[str, Any]]:
    """The `errors` of an error answer, after checking its envelope."""
    body = answer.json()
    assert set(body) == {"error", "errors"}, body
    assert set(body["error"]) == {"code", "message"}
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def textarea(page: str, ident: str) -> str:
    """The text a browser puts in a textarea (the newline after the tag is not content)."""
    found = re.search(rf'<textarea id="{ident}"[^>]*>\n(.*?)</textarea>', page, re.DOTALL)
    assert found, ident
    return html.unescape(found.group(1))


# --- the preview ------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_preview_serves_every_catalog_form_as_forms_does(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        for key, form in load_catalog().items():
            text, i18n = catalog_source(key)
            answer = await client.post(PREVIEW, json={"yaml": text, "i18n": i18n, "key": key})
            assert answer.status_code == 200, (key, answer.text)
            served = (await client.get(f"/forms/{key}/")).json()["form"]
            body = answer.json()
            assert body["form"] == served, key
            assert [f["name"] for f in body["fields"]] == list(form.fields)
            assert body["fields"][0].keys() == {
                "name", "widget", "kind", "options", "required", "line"
            }  # fmt: skip
            assert body["schema"] == form.json_schema()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_preview_without_messages_and_its_fields(app_settings: Settings) -> None:
    text = "fields:\n  - {class: DropdownInputWidget, name: q, required: true,\n"
    text += "     options: [{data: a, label: A}, {data: 2}]}\n"
    async with client_for(app_settings, None) as client:
        answer = await client.post(PREVIEW, json={"yaml": text})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["form"] == {
        "fields": [
            {
                "class": "DropdownInputWidget",
                "name": "q",
                "required": True,
                "options": [{"data": "a", "label": "A"}, {"data": 2}],
            }
        ],
        "i18n": {},
    }
    assert body["fields"] == [
        {
            "name": "q",
            "widget": "DropdownInputWidget",
            "kind": "choice",
            "options": ["a", 2],
            "required": True,
            "line": 2,
        }
    ]
    assert body["schema"]["properties"]["q"] == {"enum": ["a", 2]}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_problems_point_into_the_submitted_yaml(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        broken = FORM.replace("name: answer", "name: [answer")
        answer = await client.post(PREVIEW, json={"yaml": broken, "i18n": {"en": EN}})
        assert answer.status_code == 422
        [problem] = problems(answer)
        assert (problem["line"], problem["column"]) == (8, 12)  # where the parser gave up
        assert answer.json()["error"]["message"].startswith("form.yaml, line 8: ")

        unknown = FORM.replace("class: ButtonSelectWidget", "class: ButtonSelektWidget")
        answer = await client.post(PREVIEW, json={"yaml": unknown, "i18n": {"en": EN}})
        assert answer.status_code == 422
        assert problems(answer) == [
            {
                "line": 6,
                "column": None,
                "message": problems(answer)[0]["message"],
            }
        ]
        assert "unknown widget class 'ButtonSelektWidget'" in problems(answer)[0]["message"]

        duplicate = FORM + "  - {class: CheckboxInputWidget, name: answer}\n"
        answer = await client.post(PREVIEW, json={"yaml": duplicate, "i18n": {"en": EN}})
        assert [(p["line"], p["message"]) for p in problems(answer)] == [
            (11, 'duplicate field "answer" (line 7)')
        ]

        answer = await client.post(PREVIEW, json={"yaml": FORM})  # the messages are missing
        assert [p["line"] for p in problems(answer)] == [4]
        assert "message <q> is not in i18n/form/en.json" in problems(answer)[0]["message"]

        answer = await client.post(PREVIEW, json={"yaml": FORM, "i18n": {"en": EN}, "key": "x"})
        assert answer.status_code == 200
        assert answer.json()["schema"]["title"] == "label of form x"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", 400, "not JSON"),
        (b"", 400, "not JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b"{}", 400, '"yaml" is missing'),
        (b'{"yaml": 3}', 400, '"yaml" must be a string'),
        (b'{"yaml": "a: 1", "i18n": []}', 400, "i18n must be an object"),
        (b'{"yaml": "a: 1", "i18n": {"en": {"q": 2}}}', 400, "must be a string"),
        (b'{"yaml": "a: 1", "key": "../etc"}', 400, "a form key is"),
        (b'{"yaml": "\\ud800"}', 400, "not JSON"),
        (b'{"yaml": "' + b"[" * 5000 + b'"}', 422, "deeper than"),
        (b'{"yaml": "- a\\n- b\\n"}', 422, "a form must be a mapping, not a list"),
        (b'{"yaml": "\\u0000\\u0001binary"}', 422, "is not allowed"),
        (b'{"yaml": "a: !!python/object/apply:os.system [ls]"}', 422, "python/object"),
        (b'{"yaml": "' + b"x" * (MAX_YAML_BYTES + 1) + b'"}', 413, "at most 100 KiB"),
        (b'{"yaml": "", "pad": "' + b"x" * (1024 * 1024) + b'"}', 413, "the body"),
    ],
)
async def test_bad_bodies_answer_4xx(
    app_settings: Settings, content: bytes, status: int, message: str
) -> None:
    async with client_for(app_settings, None) as client:
        answer = await client.post(
            PREVIEW, content=content, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == status, answer.text
    problems(answer)
    assert message in answer.json()["error"]["message"]


def test_the_preview_and_proposals_are_in_the_schema_and_the_pages_are_not() -> None:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        paths = app.openapi()["paths"]
    finally:
        app.state.engine.dispose()
    assert set(paths[PREVIEW]) == {"post"}
    assert set(paths[PROPOSALS]) == {"post"}
    assert set(paths["/form_builder/proposals/{proposal_id}/review"]) == {"post"}
    assert "/form_builder/" not in paths
    assert "/form_builder/proposals/{proposal_id}" not in paths
    body = paths[PREVIEW]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["yaml"]
    assert set(paths[PREVIEW]["post"]["responses"]) >= {"200", "400", "413", "422"}


# --- the builder page -------------------------------------------------------------------------


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_builder_page(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        page = await client.get("/form_builder/")
        assert page.status_code == 200
        for ident in ("form-yaml", "form-preview", "form-errors", "form-value", "form-i18n"):
            assert f'id="{ident}"' in page.text
        assert "/static/form_builder/builder.js" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "form-propose" not in page.text  # logged out: a login link instead
        assert "/auth/initiate/?next=/form_builder/" in page.text
        starter = textarea(page.text, "form-yaml")
        i18n = json.loads(textarea(page.text, "form-i18n"))
        assert (await client.post(PREVIEW, json={"yaml": starter, "i18n": i18n})).status_code == 200

        page = await client.get("/form_builder/?form=damaging_and_goodfaith")
        text, messages = catalog_source("damaging_and_goodfaith")
        assert textarea(page.text, "form-yaml") == text
        shipped = load_catalog()["damaging_and_goodfaith"].i18n
        assert json.loads(textarea(page.text, "form-i18n")) == shipped
        assert {k: v for k, v in messages["en"].items() if k != "@metadata"} == shipped["en"]

        missing = await client.get("/form_builder/?form=%3Cscript%3E&uselang=qqx")
        assert missing.status_code == 404
        assert missing.text.count("<script") == 2  # the page's data and its module
        assert "&lt;script&gt;" in missing.text

    async with client_for(app_settings, 5, "Ann") as client:
        page = await client.get("/form_builder/?form=wp10")
        assert 'id="form-propose"' in page.text
        assert 'value="wp10"' in page.text


# --- proposals --------------------------------------------------------------------------------


def proposal_body(**change: Any) -> dict[str, Any]:
    return {"key": "demo", "yaml": FORM, "i18n": {"en": EN}, "note": "for the demo"} | change


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_logged_out_and_cross_site_submissions_are_refused(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        answer = await client.post(PROPOSALS, json=proposal_body())
        assert answer.status_code == 403
        problems(answer)
    async with client_for(app_settings, 5, "Ann") as client:
        answer = await client.post(
            PROPOSALS, json=proposal_body(), headers={"Origin": "https://evil.example"}
        )
        assert answer.status_code == 403
        assert "Cross-site" in answer.json()["error"]["message"]
        listing = await client.get(PROPOSALS)
        assert 'href="/form_builder/proposals/' not in listing.text


async def test_submit_list_and_show(admin_settings: Settings) -> None:
    async with client_for(admin_settings, 5, "Ann") as ann:
        answer = await ann.post(
            PROPOSALS, json=proposal_body(), headers={"Origin": "http://127.0.0.1"}
        )
        assert answer.status_code == 200, answer.text
        proposal = answer.json()["proposal"]
        assert proposal["key"] == "demo"
        assert proposal["yaml"] == FORM
        assert (proposal["i18n"], proposal["note"]) == ({"en": EN}, "for the demo")
        assert proposal["user"] == {"id": 5, "name": "Ann"}
        assert proposal["status"] == "pending"
        assert proposal["reviewer"] is None
        url = proposal["url"]
        assert url == f"{PROPOSALS}/{proposal['id']}"

        invalid = await ann.post(
            PROPOSALS, json=proposal_body(yaml=FORM.replace("data: false", "data: true"))
        )
        assert invalid.status_code == 422
        assert [p["line"] for p in problems(invalid)] == [10]
        for change, status in [({"key": "Demo"}, 400), ({"note": 3}, 400), ({"key": None}, 400)]:
            assert (await ann.post(PROPOSALS, json=proposal_body(**change))).status_code == status

        refused = await ann.post(f"{url}/review", data={"status": "accepted"})
        assert refused.status_code == 403
        problems(refused)

        listing = await ann.get(PROPOSALS)
        assert listing.text.count('href="/form_builder/proposals/') == 2  # one row, two links
        page = await ann.get(url)
        assert page.status_code == 200
        shown = re.search(
            r'<pre class="fb-source" id="proposal-yaml"[^>]*>\n(.*?)</pre>', page.text, re.DOTALL
        )
        assert shown
        assert html.unescape(shown.group(1)) == FORM
        config = re.search(r'id="form-proposal-config">(.*?)</script>', page.text, re.DOTALL)
        assert config
        served = await ann.post(PREVIEW, json={"yaml": FORM, "i18n": {"en": EN}, "key": "demo"})
        assert json.loads(config.group(1))["form"] == served.json()["form"]
        assert 'action="' + url + '/review"' not in page.text  # no review form for non-admins


async def test_admins_review(admin_settings: Settings) -> None:
    async with client_for(admin_settings, 5, "Ann") as ann:
        url = (await ann.post(PROPOSALS, json=proposal_body())).json()["proposal"]["url"]
    async with client_for(admin_settings, 1, "Boss") as boss:
        page = await boss.get(url)
        assert f'action="{url}/review"' in page.text
        for data, status in [
            ({"status": "maybe"}, 400),
            ({}, 400),
            ({"status": "accepted", "comment": "x" * 2001}, 400),
        ]:
            assert (await boss.post(f"{url}/review", data=data)).status_code == status
        assert (
            await boss.post(f"{PROPOSALS}/999/review", data={"status": "accepted"})
        ).status_code == 404
        reviewed = await boss.post(f"{url}/review", data={"status": "accepted", "comment": "ok!"})
        assert reviewed.status_code == 200, reviewed.text
        body = reviewed.json()["proposal"]
        assert (body["status"], body["comment"], body["reviewer"]) == (
            "accepted", "ok!", {"id": 1, "name": "Boss"}
        )  # fmt: skip
        assert body["reviewed"]
        again = await boss.post(f"{url}/review", data={"status": "rejected"})
        assert again.status_code == 409
        page = await boss.get(f"{url}?uselang=qqx")  # messages show their parameters
        assert "demo.yaml" in page.text
        assert "i18n/demo/en.json" in page.text
        assert "cdx-message--success" in page.text
        assert f'action="{url}/review"' not in page.text

        second = await boss.post(PROPOSALS, json=proposal_body(key="other"))
        other = second.json()["proposal"]["url"]
        browser = await boss.post(
            f"{other}/review",
            data={"status": "rejected", "comment": "no"},
            headers={"Accept": "text/html,application/xhtml+xml"},
        )
        assert browser.status_code == 303
        assert browser.headers["location"] == other
        assert "fb-state--rejected" in (await boss.get(other)).text

    async with client_for(admin_settings, None) as anonymous:
        assert (await anonymous.get(url)).status_code == 200
        assert (await anonymous.get(f"{PROPOSALS}/12345")).status_code == 404
        assert (
            await anonymous.post(f"{url}/review", data={"status": "rejected"})
        ).status_code == 403


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_script_in_key_note_name_or_yaml_renders_inert(app_settings: Settings) -> None:
    async with client_for(app_settings, 5, XSS) as client:
        answer = await client.post(PROPOSALS, json=proposal_body(key=XSS))
        assert answer.status_code == 400
        assert answer.headers["content-type"] == "application/json"
        messages = {"en": {**EN, "q": XSS}, "de": {"q": '"><img src=x onerror="alert(2)">'}}
        yaml_text = FORM.replace("name: demo", f"name: '{XSS}'") + f"# {XSS}\n"
        answer = await client.post(
            PROPOSALS, json=proposal_body(note=XSS, yaml=yaml_text, i18n=messages)
        )
        assert answer.status_code == 200, answer.text
        url = answer.json()["proposal"]["url"]
        for path in (url, PROPOSALS):
            page = (await client.get(path)).text
            assert "<script>alert(1)" not in page, path
            assert "<img src=x" not in page
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        page = (await client.get(url)).text
        config = re.search(r'id="form-proposal-config">(.*?)</script>', page, re.DOTALL)
        assert config
        assert "<" not in config.group(1)
        assert json.loads(config.group(1))["form"]["name"] == XSS
