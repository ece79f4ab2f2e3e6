"""Campaigns that require user groups or edits, checked on a real MediaWiki."""

from __future__ import annotations

import pytest

from tests.http.conftest import client_for
from tests.support.mediawiki import MediaWiki
from wikiloom.config import Settings

AGENT = "wikiloom-tests/0.1 (https://example.org/wikiloom; tests@example.org)"


@pytest.fixture
def wiki_settings(app_settings: Settings, mediawiki: MediaWiki) -> Settings:
    return app_settings.model_copy(
        update={
            "admins": ["Boss"],
            "user_agent": AGENT,
            "wikis": {mediawiki.dbname: mediawiki.api_url},
        }
    )


@pytest.mark.anyio
async def test_labelers_need_the_groups_and_edits_the_campaign_asks_for(
    wiki_settings: Settings, mediawiki: MediaWiki
) -> None:
    wiki, regular = mediawiki.dbname, mediawiki.users["Regular"]
    new = {
        "name": "Patrol",
        "form": "damaging_and_goodfaith",
        "view": "DiffToPrevious",
        "labels_per_task": "3",
        "tasks_per_assignment": "1",
        "required_groups": "sysop|rollbacker",
    }
    async with client_for(wiki_settings, 1, "Boss") as boss:
        created = (await boss.post(f"/campaigns/{wiki}/", data=new)).json()["campaign"]
        rule = {"groups": ["sysop", "rollbacker"], "min_edit_count": 0}
        assert created["requirements"] == rule
        base = f"/campaigns/{wiki}/{created['id']}/"
        await boss.post(f"{base}tasks/", content=b'{"rev_id": 1}\n{"rev_id": 2}\n')
        shown = (await boss.get(f"{base}?requirements")).json()
        assert shown["requirements"] == rule
        assert "requirements" not in shown["campaign"]  # Wiki labels' keys only

    async with client_for(wiki_settings, 2, "Newbie") as newbie:
        refused = await newbie.post(base)
        assert refused.status_code == 403
        assert refused.json()["error"] == {
            "code": "forbidden",
            "message": f"campaign_id={created['id']} requires membership of one of the groups "
            f"sysop, rollbacker on {wiki}; checked for Newbie.",
        }
    async with client_for(wiki_settings, 3, "Sysop") as sysop:
        assert (await sysop.post(base)).status_code == 200

    async with client_for(wiki_settings, 1, "Boss") as boss:
        edits = {"required_groups": "", "min_edit_count": str(regular.edits + 1)}
        changed = (await boss.post(f"{base}settings/", data=edits)).json()["campaign"]
        assert changed["requirements"] == {"groups": [], "min_edit_count": regular.edits + 1}
    async with client_for(wiki_settings, 4, "Regular") as labeler:
        refused = await labeler.post(base)
        assert refused.status_code == 403
        assert f"you have {regular.edits}" in refused.json()["error"]["message"]
    async with client_for(wiki_settings, 1, "Boss") as boss:
        edits = {"min_edit_count": str(regular.edits)}
        await boss.post(f"{base}settings/", data=edits)
    async with client_for(wiki_settings, 4, "Regular") as labeler:
        assert (await labeler.post(base)).status_code == 200


@pytest.mark.anyio
async def test_requirements_without_a_user_agent_or_a_reachable_wiki_answer_503(
    app_settings: Settings,
) -> None:
    settings = app_settings.model_copy(
        update={"admins": ["Boss"], "wikis": {"gonewiki": "http://127.0.0.1:9/api.php"}}
    )
    new = {
        "name": "Closed shop",
        "form": "damaging_and_goodfaith",
        "view": "DiffToPrevious",
        "labels_per_task": "1",
        "tasks_per_assignment": "1",
        "min_edit_count": "10",
    }
    async with client_for(settings, 1, "Boss") as boss:
        created = (await boss.post("/campaigns/gonewiki/", data=new)).json()["campaign"]
        base = f"/campaigns/gonewiki/{created['id']}/"
        await boss.post(f"{base}tasks/", content=b'{"rev_id": 1}\n')
        unconfigured = await boss.post(base)
        assert unconfigured.status_code == 503
        assert "WIKILOOM_USER_AGENT" in unconfigured.json()["error"]["message"]
    configured = settings.model_copy(update={"user_agent": AGENT, "wiki_timeout": 2.0})
    async with client_for(configured, 1, "Boss") as boss:
        down = await boss.post(base)
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "unavailable"
        bad = await boss.post(f"{base}settings/", data={"required_groups": "no such group"})
        assert bad.status_code == 400
        assert "is not a user group name" in bad.json()["error"]["message"]
        negative = await boss.post(f"{base}settings/", data={"min_edit_count": "-2"})
        assert negative.status_code == 400
