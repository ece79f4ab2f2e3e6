"""Feedback in a real browser: disagree with a score, name the correct label, send it with
the keyboard, find it stored; then an admin sends the dispute to a labeling campaign.

Debian's Chromium through Playwright against a live server holding an active `damaging`
model whose features are stored (no wiki is asked); axe-core checks both pages.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.http.test_feedback import ADMIN, REVISIONS, damaging_model
from tests.support.browser import axe_violations, live_server, screenshot
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.labels.tables import Task
from wikiloom.learn.registry import TrainedModel
from wikiloom.learn.tables import Feedback

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
USER = 4343


def stored(settings: Settings) -> tuple[list[Feedback], list[Any]]:
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        rows = list(session.scalars(select(Feedback)))
        tasks = list(session.scalars(select(Task.data)))
        session.expunge_all()
    engine.dispose()
    return rows, tasks


def disagree(page: Any, url: str) -> tuple[str, str, str]:
    """Disagree with the score on its page, keyboard first; (prediction, correct, message)."""
    page.goto(url)
    page.wait_for_selector("#feedback-form")
    prediction = str(page.get_attribute("#score-prediction", "data-prediction"))
    correct = "false" if prediction == "true" else "true"
    assert page.is_hidden("#feedback-label-field")  # asked only when disagreeing
    page.focus("#feedback-agree")
    page.keyboard.press("ArrowDown")  # the radio group moves to Disagree
    assert page.is_checked("#feedback-disagree")
    assert page.is_visible("#feedback-label-field")
    page.select_option("#feedback-correct-label", correct)
    page.fill("#feedback-comment", "A good-faith copyedit, not vandalism.")
    page.focus("#feedback-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#feedback-form [data-kind=success]")
    return prediction, correct, page.inner_text("#feedback-form [data-kind=success]")


def test_disagree_with_a_score_then_send_the_dispute_to_a_campaign(
    browser: Any, settings: Settings, sample_trained: TrainedModel
) -> None:
    damaging_model(settings, sample_trained)
    settings = settings.model_copy(update={"dev_login": True, "admins": [ADMIN]})
    rev_id = REVISIONS[0]
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    with live_server(settings) as server:
        login = {"user_id": str(USER), "username": "Patroller"}
        assert context.request.post(f"{server.url}/auth/dev_login/", form=login).ok
        url = f"{server.url}/ui/enwiki/models/damaging/score?rev_id={rev_id}"
        prediction, correct, saved = disagree(page, url)
        screenshot(page, "feedback-score")
        violations = axe_violations(page)
        rows, _ = stored(settings)
        assert [(r.rev_id, r.user_id, r.verdict, r.correct_label) for r in rows] == [
            (rev_id, USER, "disagree", correct == "true")
        ]
        assert rows[0].comment == "A good-faith copyedit, not vandalism."
        assert str((rows[0].score or {})["prediction"]).lower() == prediction
        # The admin sends it to a campaign from the disputes page.
        admin = {"user_id": "1", "username": ADMIN}
        assert context.request.post(f"{server.url}/auth/dev_login/", form=admin).ok
        page.goto(f"{server.url}/ui/enwiki/models/damaging/disputes/")
        page.wait_for_selector(f"#dispute-{rows[0].id}")
        page.click("#disputes-campaign-submit")
        page.wait_for_selector("#disputes-campaign [data-kind=success]")
        status = page.get_attribute(f"#dispute-{rows[0].id}", "data-status")
        manage = str(page.get_attribute("#disputes-campaign-manage", "href"))
        screenshot(page, "feedback-disputes")
        violations += axe_violations(page)
    context.close()
    assert "saved" in saved
    assert (status, manage[-8:]) == ("queued", "/manage/")
    rows, tasks = stored(settings)
    assert rows[0].status == "queued"
    assert tasks == [{"rev_id": rev_id}]
    assert [f"{v['id']}: {v['help']}" for v in violations] == []
    assert errors == []
