"""The feedback pages: a score with the Agree / Disagree control, and a model's disputes."""

from __future__ import annotations

import json
import re

import pytest

from tests.http.conftest import client_for
from tests.http.test_feedback import ADMIN, REVISIONS, damaging_model
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.learn.registry import TrainedModel, get_model, set_status

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("settings", ["sqlite"], indirect=True)]
REV = REVISIONS[0]
SCORE = f"/ui/enwiki/models/damaging/score?rev_id={REV}"
CONFIG = re.compile(r'<script type="application/json" id="wl-feedback-config">(.*?)</script>', re.S)


@pytest.fixture
def feedback_settings(settings: Settings, sample_trained: TrainedModel) -> Settings:
    damaging_model(settings, sample_trained)
    return settings.model_copy(update={"dev_login": True, "admins": [ADMIN]})


async def test_the_score_page_shows_the_score_and_asks_to_log_in(
    feedback_settings: Settings,
) -> None:
    async with client_for(feedback_settings, None) as client:
        page = await client.get(SCORE)
    assert page.status_code == 200
    html = page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    prediction = re.search(r'id="score-prediction" data-prediction="(true|false)"', html)
    assert prediction is not None
    assert 'data-label="true"' in html
    assert 'data-label="false"' in html
    assert "Scored by version 1.0" in html
    assert f"index.php?diff={REV}" in html
    assert 'id="feedback-login"' in html
    assert "/auth/initiate/?next=" in html
    assert 'id="feedback-form"' not in html
    assert "feedback.js" not in html  # no form, no script


async def test_a_logged_in_user_gets_the_control_next_to_the_score(
    feedback_settings: Settings,
) -> None:
    async with client_for(feedback_settings, 7, "Alice") as client:
        html = (await client.get(SCORE)).text
        assert 'id="feedback-form"' in html
        assert 'id="feedback-agree"' in html
        assert 'id="feedback-disagree"' in html
        assert '<option value="false">false</option>' in html
        assert '<option value="true">true</option>' in html
        assert 'maxlength="2000"' in html
        found = CONFIG.search(html)
        assert found is not None
        config = json.loads(found.group(1))
        assert (config["wiki"], config["model"], config["version"]) == ("enwiki", "damaging", "1.0")
        assert config["revId"] == REV
        assert set(config["score"]["probability"]) == {"true", "false"}
        assert config["messages"]["wikiloom-feedback-saved"]
        assert all(key.startswith("wikiloom-feedback-") for key in config["messages"])
        saved = await client.post(
            "/feedback/",
            json={
                "wiki": "enwiki", "rev_id": REV, "model": "damaging", "verdict": "disagree",
                "correct_label": not config["score"]["prediction"], "comment": "<b>no</b>",
            },
        )  # fmt: skip
        assert saved.status_code == 201, saved.text
        again = (await client.get(SCORE)).text
    assert 'id="feedback-yours"' in again
    assert re.search(r'id="feedback-disagree"[^>]*checked', again)
    label = json.dumps(not config["score"]["prediction"])
    assert f'<option value="{label}" selected>' in again
    assert "&lt;b&gt;no&lt;/b&gt;</textarea>" in again


async def test_the_score_page_explains_what_it_cannot_score(feedback_settings: Settings) -> None:
    async with client_for(feedback_settings, 7) as client:
        empty = await client.get("/ui/enwiki/models/damaging/score")
        assert empty.status_code == 200
        assert 'id="score-revision"' in empty.text
        assert 'id="score-result"' not in empty.text
        bad = await client.get("/ui/enwiki/models/damaging/score?rev_id=abc")
        assert 'id="score-bad-rev-id"' in bad.text
        assert "not “abc”" in bad.text
        missing = await client.get("/ui/enwiki/models/goodfaith/score?rev_id=5")
        assert missing.status_code == 404
        engine = make_engine(feedback_settings)
        with transaction(session_factory(engine), write=True) as session:
            model = get_model(session, "enwiki", "damaging")
            set_status(session, model, "paused", actor="Steward", reason="false positives")
        engine.dispose()
        paused = await client.get(SCORE)
    assert 'id="score-unserved"' in paused.text
    assert 'id="feedback-form"' not in paused.text


async def test_the_disputes_page_lists_them_and_offers_admins_a_campaign(
    feedback_settings: Settings,
) -> None:
    for user, name, label in ((7, "Alice", False), (8, "Bob", None)):
        async with client_for(feedback_settings, user, name) as client:
            sent = {"wiki": "enwiki", "rev_id": 600 + user, "model": "damaging"}
            answer = await client.post(
                "/feedback/", json={**sent, "verdict": "disagree", "correct_label": label}
            )
            assert answer.status_code == 201, answer.text
    url = "/ui/enwiki/models/damaging/disputes/"
    async with client_for(feedback_settings, 7, "Alice") as client:
        html = (await client.get(url)).text
        assert html.count('class="wl-dispute"') == 2
        assert 'data-flag="no_correct_label"' in html
        assert "Open (2)" in html
        assert 'id="disputes-campaign-admins"' in html
        assert 'id="disputes-campaign"' not in html
        model = (await client.get("/ui/enwiki/models/damaging/")).text
        assert 'id="model-disputes-link" href="/ui/enwiki/models/damaging/disputes/"' in model
        assert 'id="model-score-link"' in model
    async with client_for(feedback_settings, 1, ADMIN) as client:
        html = (await client.get(url)).text
        assert 'id="disputes-campaign"' in html
        assert '<option value="damaging_and_goodfaith">' in html
        assert "ui/feedback.js" in html
        made = await client.post("/feedback/enwiki/damaging/disputes/campaign", json={})
        assert made.status_code == 201, made.text
        campaign_id = made.json()["campaign"]["id"]
        after = (await client.get(url)).text
        assert 'id="disputes-none"' in after
        assert 'id="disputes-campaign"' not in after
        queued = (await client.get(url + "?status=queued")).text
        assert len(re.findall(r'class="wl-dispute"[^>]*data-status="queued"', queued)) == 2
        assert f'href="/ui/enwiki/campaigns/{campaign_id}/"' in queued
        history = (await client.get("/ui/enwiki/models/damaging/")).text
    assert 'data-kind="disputes_campaign"' in history
    assert f"campaign {campaign_id}</a>" in history
