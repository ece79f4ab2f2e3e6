"""Every page in the browser: a screenshot each, no serious accessibility violation, no error.

The pages are served by a live server holding a campaign with labels and the sample model;
axe-core runs on each (the context bypasses our CSP to inject it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.http.test_ui_browser import make_campaign
from tests.support.browser import axe_violations, live_server, screenshot
from wikiloom.config import Settings

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
ADMIN = "Boss"


def test_every_page(browser: Any, served: Settings) -> None:
    settings = served.model_copy(update={"dev_login": True, "admins": [ADMIN]})
    campaign_id = make_campaign(
        settings, "enwiki", [{"rev_id": 1000 + n} for n in range(4)], view="View", name="Tour"
    )
    pages = {
        "wikis": "/ui/",
        "labeling": "/ui/enwiki/",
        "campaign-statistics": f"/ui/enwiki/campaigns/{campaign_id}/",
        "campaign-new": "/ui/enwiki/campaigns/new/",
        "campaign-manage": f"/ui/enwiki/campaigns/{campaign_id}/manage/",
        "models": "/ui/enwiki/models/",
        "model": "/ui/enwiki/models/reverted/",
        "form-builder": "/form_builder/?form=damaging_and_goodfaith",
        "form-proposals": "/form_builder/proposals",
    }
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    found: dict[str, list[str]] = {}
    with live_server(settings) as server:
        login = {"user_id": "7", "username": ADMIN}
        api = context.request
        assert api.post(f"{server.url}/auth/dev_login/", form=login).ok
        campaign = f"{server.url}/campaigns/enwiki/{campaign_id}"
        workset = api.post(f"{campaign}/", form={"workset": "stats"}).json()["workset"]["id"]
        tasks = api.get(f"{campaign}/{workset}/?tasks").json()["tasks"]
        for n, task in enumerate(tasks):
            label = {"damaging": n % 2 == 0, "goodfaith": True, "unsure": False}
            answer = api.post(
                f"{campaign}/{workset}/{task['id']}/", form={"label": json.dumps(label)}
            )
            assert answer.ok, answer.text()
        for name, path in pages.items():
            answer = page.goto(server.url + path)
            assert answer is not None
            assert answer.status == 200, name
            page.wait_for_load_state("networkidle")
            screenshot(page, f"page-{name}")
            violations = axe_violations(page)
            found[name] = [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in violations]
        # The organizer's forms call the API and answer inline: a bad line, then good ones.
        page.goto(f"{server.url}/ui/enwiki/campaigns/{campaign_id}/manage/")
        page.fill("#tasks", '{"rev_id": 5}\nnot json')
        page.click("#campaign-tasks-submit")
        page.wait_for_selector("#campaign-tasks [data-kind=error]")
        refused = page.inner_text("#campaign-tasks [data-kind=error]")
        page.fill("#tasks", '{"rev_id": 5}\n{"rev_id": 6}')
        page.click("#campaign-tasks-submit")
        page.wait_for_selector("#campaign-tasks [data-kind=success]")
        tasks = page.inner_text("#fact-tasks")
    context.close()
    assert "line 2" in refused
    assert tasks == "6"
    assert {k: v for k, v in found.items() if v} == {}
    assert errors == []
