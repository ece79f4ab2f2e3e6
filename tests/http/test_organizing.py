"""Campaign management over HTTP, and who may do it."""

from __future__ import annotations

import pytest

from tests.http.conftest import client_for
from wikiloom.config import Settings

NEW = {
    "name": "Damage 2027",
    "form": "damaging_and_goodfaith",
    "view": "DiffToPrevious",
    "labels_per_task": "1",
    "tasks_per_assignment": "2",
}


@pytest.fixture
def admin_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"admins": ["Boss"]})


@pytest.mark.anyio
async def test_admins_create_and_organizers_manage(admin_settings: Settings) -> None:
    async with client_for(admin_settings, 1, "Boss") as boss:
        created = await boss.post("/campaigns/enwiki/", data=NEW)
        assert created.status_code == 200, created.text
        campaign = created.json()["campaign"]
        assert (campaign["name"], campaign["active"]) == ("Damage 2027", True)
        base = f"/campaigns/enwiki/{campaign['id']}/"
        inserted = await boss.post(f"{base}tasks/", content=b'{"rev_id": 1}\n{"rev_id": 2}\n')
        assert inserted.json() == {"inserted": 2}
        bad = await boss.post(f"{base}tasks/", content=b'{"rev_id": 3}\n{"rev": 4}\n')
        assert bad.status_code == 400
        assert "line 2" in bad.json()["error"]["message"]
        added = await boss.post(f"{base}organizers/", data={"user_id": "2"})
        assert added.json() == {"organizers": [1, 2]}

    async with client_for(admin_settings, 2, "Helper") as helper:
        edited = await helper.post(f"{base}settings/", data={"active": "false", "name": "D27"})
        assert edited.status_code == 200, edited.text
        assert (edited.json()["campaign"]["active"], edited.json()["campaign"]["name"]) == (
            False,
            "D27",
        )
        refused = await helper.post("/campaigns/enwiki/", data=NEW)
        assert refused.status_code == 403

    async with client_for(admin_settings, 3, "Labeler") as labeler:
        closed = await labeler.post(base)
        assert closed.status_code == 409
        assert closed.json()["error"]["message"].startswith(
            f"Campaign {campaign['id']} not active. Please try again or check campaign status "
        )
        for path, body in [
            (f"{base}settings/", {"active": "true"}),
            (f"{base}organizers/", {"user_id": "3"}),
        ]:
            answer = await labeler.post(path, data=body)
            assert answer.status_code == 403
            assert "does not organize" in answer.json()["error"]["message"]
        answer = await labeler.post(f"{base}tasks/", content=b'{"rev_id": 9}\n')
        assert answer.status_code == 403
        wikis = (await labeler.get("/campaigns/enwiki/", params={"all": ""})).json()
        assert [c["name"] for c in wikis["campaigns"]] == ["D27"]

    async with client_for(admin_settings, None) as anonymous:
        answer = await anonymous.post("/campaigns/enwiki/", data=NEW)
        assert answer.json()["error"]["message"] == "This request requires authentication."


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "the form fields"),
        ({"labels_per_task": "zero"}, '"labels_per_task" must be an integer'),
        ({"labels_per_task": "0"}, "labels_per_task must be a positive integer"),
        ({"form": "nope"}, "unknown form 'nope'"),
        ({"view": "Nope"}, "unknown view 'Nope'"),
    ],
)
async def test_bad_campaigns_are_refused_with_a_reason(
    admin_settings: Settings, change: dict[str, str], message: str
) -> None:
    async with client_for(admin_settings, 1, "Boss") as boss:
        answer = await boss.post("/campaigns/enwiki/", data={**NEW, **change})
        assert answer.status_code == 400
        assert message in answer.json()["error"]["message"]
