"""The campaign statistics page and the organizer pages, through the in-process client."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import orjson
import pytest

from tests.http.conftest import client_for, label_all
from wikiloom.config import Settings
from wikiloom.labels.views import VIEWS

XSS = "<script>alert(1)</script>"
SECRET = "campaign-pages-test-secret"
SETTINGS_FIELDS = (
    "name", "info_url", "labels_per_task", "tasks_per_assignment", "required_groups",
    "min_edit_count",
)  # fmt: skip
XSS_FORM = f"""\
name: verdicts
title: "<form-title>"
fields:
  - class: FieldLayout
    label: "<verdict-label>"
    fieldWidget:
      class: ButtonSelectWidget
      name: verdict
      items:
        - {{class: ButtonOptionWidget, data: "{XSS}", label: "<bad-label>"}}
        - {{class: ButtonOptionWidget, data: fine, label: "<fine-label>"}}
"""
XSS_MESSAGES = {"form-title": "Verdicts", "verdict-label": "Verdict", "bad-label": "Bad"}
XSS_MESSAGES["fine-label"] = "Fine"


@pytest.fixture
def admin_settings(app_settings: Settings, tmp_path: Path) -> Settings:
    """Dev login, the admin "Boss", a fixed secret and an extra form whose value is a script."""
    forms = tmp_path / "forms"
    (forms / "i18n" / "verdicts").mkdir(parents=True)
    (forms / "verdicts.yaml").write_text(XSS_FORM)
    (forms / "i18n" / "verdicts" / "en.json").write_text(json.dumps(XSS_MESSAGES))
    update = {"admins": ["Boss"], "secret_key": SECRET, "forms_dir": forms}
    return app_settings.model_copy(update=update)


def pseudonym(user_id: int) -> str:
    """The export's pseudonym of a user under the test secret (see http/reports.py)."""
    digest = hmac.new(SECRET.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()
    return digest[:16]


def text_of(page: str, ident: str) -> str:
    """The text of the element with id `ident` (one without child elements)."""
    found = re.search(rf'id="{ident}"[^>]*>([^<]*)<', page)
    assert found, f"no element #{ident}"
    return html.unescape(found.group(1)).strip()


def svgs(page: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed as XML."""
    return [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", page, re.DOTALL)]


def assert_no_inline_script(page: str) -> None:
    """Every <script> is a module from our server or inert JSON data; no inline handlers."""
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert 'type="application/json"' in tag or ('type="module"' in tag and "src=" in tag)
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page)


def edit_label(user: int, task: int) -> dict[str, object]:
    return {"damaging": user == 2 and task % 2 == 0, "goodfaith": True, "unsure": False}


async def create(client: httpx.AsyncClient, **change: str) -> int:
    """Create a campaign through the API as the logged-in admin; its id."""
    fields = {"name": "Pages", "form": "damaging_and_goodfaith", "view": "DiffToPrevious"}
    fields |= {"labels_per_task": "2", "tasks_per_assignment": "3", **change}
    answer = await client.post("/campaigns/enwiki/", data=fields)
    assert answer.status_code == 200, answer.text
    campaign: int = answer.json()["campaign"]["id"]
    return campaign


@pytest.mark.anyio
async def test_the_statistics_page_shows_progress_agreement_and_plots(
    admin_settings: Settings, campaign_id: int
) -> None:
    await label_all(admin_settings, campaign_id, [1, 2], edit_label)
    async with client_for(admin_settings, None) as anonymous:
        answer = await anonymous.get(f"/ui/enwiki/campaigns/{campaign_id}/")
        document = await anonymous.get(f"/campaigns/enwiki/{campaign_id}/statistics/")
    assert answer.status_code == 200, answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page = answer.text
    expected = {"stat-labels": "10", "stat-needed": "10", "stat-tasks": "5"}
    expected |= {"stat-tasks-done": "5", "stat-labelers": "2", "stat-progress": "100%"}
    assert {key: text_of(page, key) for key in expected} == expected
    assert 'aria-valuenow="100.0"' in page
    # Agreement as the JSON document has it, to three decimals.
    alpha = document.json()["statistics"]["fields"]["damaging"]["alpha"]
    assert alpha["alpha"] is not None
    row = re.search(r'<tr data-field="damaging">(.*?)</tr>', page, re.DOTALL)
    assert row
    assert f"{alpha['alpha']:.3f}".rstrip("0") in row.group(1)
    # Labelers by pseudonym only: user 2 disagreed on some tasks, user 1 on none of its own.
    table = re.search(r'<table class="wl-table" id="table-labelers">(.*?)</table>', page, re.S)
    assert table
    names = re.findall(r"<code>([0-9a-f]{16})</code>", table.group(1))
    assert sorted(names) == sorted([pseudonym(1), pseudonym(2)])
    # Every plot parses and is titled; one per field's distribution plus three.
    plots = svgs(page)
    assert len(plots) == 3 + 3
    for svg in plots:
        assert svg.get("role") == "img"
        assert svg.find("{http://www.w3.org/2000/svg}title") is not None
        assert not [node for node in svg.iter() if node.tag.endswith("script")]
    assert_no_inline_script(page)
    # Per-day numbers for the progress plot, and the links.
    assert re.search(r'<table class="wl-table" id="table-days">.*?>10</td>', page, re.DOTALL)
    links = set(re.findall(r'href="([^"]+)"', page))
    base = f"/campaigns/enwiki/{campaign_id}/"
    assert {f"{base}statistics/", f"{base}export/?pseudonymous"} <= links
    assert f"{base}export/?format=csv&amp;pseudonymous" in page
    assert f'href="/ui/enwiki/campaigns/{campaign_id}/manage/"' in page
    async with client_for(admin_settings, None) as anonymous:
        export = await anonymous.get(f"{base}export/", params={"pseudonymous": ""})
    users = {orjson.loads(line)["user_id"] for line in export.text.splitlines()}
    assert users == {pseudonym(1), pseudonym(2)}


@pytest.mark.anyio
async def test_a_campaign_without_labels_has_no_plots(
    admin_settings: Settings, campaign_id: int
) -> None:
    async with client_for(admin_settings, None) as anonymous:
        page = (await anonymous.get(f"/ui/enwiki/campaigns/{campaign_id}/")).text
    assert (text_of(page, "stat-labels"), text_of(page, "stat-needed")) == ("0", "10")
    assert text_of(page, "stat-seconds") == "–"
    assert svgs(page) == []


@pytest.mark.anyio
async def test_label_values_and_names_are_escaped(admin_settings: Settings) -> None:
    async with client_for(admin_settings, 1, "Boss") as boss:
        campaign = await create(boss, form="verdicts", name="<img src=x onerror=alert(2)>")
        tasks = b'{"rev_id": 1}\n{"rev_id": 2}\n'
        assert (await boss.post(f"/campaigns/enwiki/{campaign}/tasks/", content=tasks)).is_success

    def verdict(user: int, task: int) -> dict[str, object]:
        return {"verdict": XSS if user == 1 or task % 2 else "fine"}

    await label_all(admin_settings, campaign, [1, 2], verdict)
    async with client_for(admin_settings, None) as anonymous:
        # Message keys with their parameters (`uselang=qqx`): the name shows in the title.
        answer = await anonymous.get(f"/ui/enwiki/campaigns/{campaign}/?uselang=qqx")
    page = answer.text
    assert answer.status_code == 200
    assert XSS not in page
    assert "<script" not in page  # the statistics page needs no script at all
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2  # a plot and a table
    drawn = [
        "".join(node.itertext())
        for svg in svgs(page)
        for node in svg.iter("{http://www.w3.org/2000/svg}text")
    ]
    assert XSS in drawn
    assert_no_inline_script(page)


@pytest.mark.anyio
@pytest.mark.parametrize("suffix", ["", "manage/"])
async def test_unknown_campaigns_and_other_wikis_answer_404(
    admin_settings: Settings, campaign_id: int, suffix: str
) -> None:
    async with client_for(admin_settings, 1, "Boss") as boss:
        for path in (
            f"/ui/enwiki/campaigns/{campaign_id + 1000}/{suffix}",
            f"/ui/frwiki/campaigns/{campaign_id}/{suffix}",
            f"/ui/enwiki/campaigns/{2**40}/{suffix}",
        ):
            answer = await boss.get(path)
            assert answer.status_code == 404, path
        found = await boss.get(f"/ui/enwiki/campaigns/{campaign_id}/{suffix}")
        assert found.status_code == 200


@pytest.mark.anyio
async def test_the_missing_page_is_html(admin_settings: Settings, campaign_id: int) -> None:
    async with client_for(admin_settings, None) as anonymous:
        answer = await anonymous.get(f"/ui/frwiki/campaigns/{campaign_id}/")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in answer.headers
    assert 'href="/ui/frwiki/"' in answer.text


def form_of(page: str, ident: str) -> str:
    found = re.search(rf'<form [^>]*id="{ident}".*?</form>', page, re.DOTALL)
    assert found, f"no form #{ident}"
    return found.group(0)


def inputs(form: str) -> dict[str, str]:
    """name -> id of every input, select and textarea of a form."""
    fields = re.findall(
        r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"[^>]*\bname="([^"]+)"', form
    )
    return {name: ident for ident, name in fields}


@pytest.mark.anyio
async def test_only_admins_get_the_creation_form(admin_settings: Settings) -> None:
    path = "/ui/enwiki/campaigns/new/"
    async with client_for(admin_settings, None) as anonymous:
        logged_out = await anonymous.get(path)
    assert logged_out.status_code == 200
    assert 'href="/auth/initiate/?next=/ui/enwiki/campaigns/new/"' in logged_out.text
    assert 'id="campaign-create"' not in logged_out.text
    async with client_for(admin_settings, 2, "Someone") as someone:
        refused = await someone.get(path)
    assert "cdx-message" in refused.text
    assert 'id="campaign-create"' not in refused.text
    assert "/auth/initiate/" not in refused.text
    async with client_for(admin_settings, 1, "Boss") as boss:
        answer = await boss.get(path)
    page = answer.text
    assert "content-security-policy" in answer.headers
    form = form_of(page, "campaign-create")
    fields = inputs(form)
    expected = {*SETTINGS_FIELDS, "form", "view", "expiry"}
    assert set(fields) == expected
    assert all(fields[name] == name for name in expected)
    assert re.search(r'<button type="submit" id="campaign-create-submit"', form)
    options = set(re.findall(r'<option value="([^"]+)"', form))
    assert {"damaging_and_goodfaith", "verdicts", *VIEWS} <= options
    assert_no_inline_script(page)
    config = re.search(
        r'<script type="application/json" id="wl-campaigns-config">(.*?)</script>', page
    )
    assert config
    assert json.loads(html.unescape(config.group(1)))["wiki"] == "enwiki"
    assert '<script type="module" src="http://127.0.0.1/static/campaigns/organizer.js">' in page


@pytest.mark.anyio
async def test_only_organizers_and_admins_get_the_management_forms(
    admin_settings: Settings,
) -> None:
    async with client_for(admin_settings, 1, "Boss") as boss:
        campaign = await create(boss, required_groups="rollbacker|sysop", min_edit_count="50")
        added = await boss.post(f"/campaigns/enwiki/{campaign}/organizers/", data={"user_id": "7"})
        assert added.status_code == 200
        as_admin = (await boss.get(f"/ui/enwiki/campaigns/{campaign}/manage/")).text
    path = f"/ui/enwiki/campaigns/{campaign}/manage/"
    async with client_for(admin_settings, None) as anonymous:
        logged_out = (await anonymous.get(path)).text
    assert f'href="/auth/initiate/?next={path}"' in logged_out
    async with client_for(admin_settings, 3, "Labeler") as labeler:
        answer = await labeler.get(path)
    assert answer.status_code == 200
    assert "content-security-policy" in answer.headers
    for page in (logged_out, answer.text):
        assert "cdx-message" in page
        assert "<form" not in page
        assert f'href="/ui/enwiki/campaigns/{campaign}/"' in page  # the statistics
    async with client_for(admin_settings, 7, "Helper") as organizer:
        page = (await organizer.get(path)).text
    assert page.count("<form") == 5
    assert form_of(as_admin, "campaign-settings") == form_of(page, "campaign-settings")
    settings = form_of(page, "campaign-settings")
    fields = inputs(settings)
    assert set(fields) == set(SETTINGS_FIELDS)
    assert all(fields[name] == name for name in SETTINGS_FIELDS)
    assert 'value="rollbacker|sysop"' in settings
    assert 'id="min_edit_count" name="min_edit_count" value="50"' in settings
    assert 'id="labels_per_task" name="labels_per_task" value="2"' in settings
    assert inputs(form_of(page, "campaign-active")) == {"active": "active"}
    assert 'value="false"' in form_of(page, "campaign-active")  # open: the button closes it
    assert set(inputs(form_of(page, "campaign-tasks"))) == {"tasks", "tasks_file"}
    assert inputs(form_of(page, "campaign-organizers")) == {"user_id": "user_id"}
    learning = ("sampling", "learning_field", "holdout_fraction", "retrain_every", "feature_set")
    assert set(inputs(form_of(page, "campaign-learning"))) == set(learning)
    for ident in ("settings", "active", "learning", "tasks", "organizers"):
        assert f'<button type="submit" id="campaign-{ident}-submit"' in page
    assert re.search(r'<ul id="organizer-list"[^>]*>\s*<li>1</li><li>7</li>', page)
    assert "rev_id" in page  # the keys the view needs
    assert_no_inline_script(page)


@pytest.mark.anyio
async def test_the_scripts_and_styles_are_served(admin_settings: Settings) -> None:
    async with client_for(admin_settings, None) as anonymous:
        script = await anonymous.get("/static/campaigns/organizer.js")
        style = await anonymous.get("/static/campaigns.css")
        helper = await anonymous.get("/static/ui/messages.js")
    assert script.status_code == style.status_code == helper.status_code == 200
    assert 'from "../ui/messages.js"' in script.text
    assert "export function messageFormatter" in helper.text
    assert 'credentials: "same-origin"' in script.text
