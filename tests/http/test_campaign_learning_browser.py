"""Active learning in the browser: the statistics page's section and the organizer's form."""

from __future__ import annotations

from typing import Any

import pytest

from tests.learn.rounds_support import anonymous_damaging, label, make_campaign
from tests.support.browser import axe_violations, live_server, screenshot
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.learn.rounds import run_round

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def test_the_rounds_show_and_the_settings_save(browser: Any, settings: Settings) -> None:
    engine = make_engine(settings)
    sessions = session_factory(engine)
    campaign_id = make_campaign(sessions, 200)
    label(sessions, campaign_id, 1, 80, anonymous_damaging())
    with transaction(sessions, write=True) as session:
        for _ in range(4):
            run_round(session, campaign_id)
    engine.dispose()
    live = settings.model_copy(update={"dev_login": True, "admins": ["Boss"]})
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    with live_server(live) as server:
        assert context.request.post(
            f"{server.url}/auth/dev_login/", form={"user_id": "7", "username": "Boss"}
        ).ok
        page.goto(f"{server.url}/ui/enwiki/campaigns/{campaign_id}/")
        page.wait_for_load_state("networkidle")
        screenshot(page, "page-campaign-learning")
        statistics = [v["id"] for v in axe_violations(page)]
        stop = page.inner_text("#learning-stop")
        rounds = page.locator("#table-rounds tbody tr").count()
        page.goto(f"{server.url}/ui/enwiki/campaigns/{campaign_id}/manage/")
        manage = [v["id"] for v in axe_violations(page)]
        page.select_option("#sampling", "entropy")
        page.fill("#retrain_every", "25")
        page.click("#campaign-learning-submit")
        page.wait_for_selector("#campaign-learning [data-kind=success]")
        page.fill("#holdout_fraction", "0.5")
        page.click("#campaign-learning-submit")
        page.wait_for_selector("#campaign-learning [data-kind=error]")
        refused = page.inner_text("#campaign-learning [data-kind=error]")
        shown = context.request.get(f"{server.url}/campaigns/enwiki/{campaign_id}/?learning")
        learning = shown.json()["learning"]
    context.close()
    assert (statistics, manage, errors) == ([], [], [])
    assert "stopped changing" in stop
    assert rounds == 4
    assert (learning["sampling"], learning["retrain_every"]) == ("entropy", 25)
    assert "holdout_fraction (0.2) can no longer change" in refused
