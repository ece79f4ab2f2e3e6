"""The Wiki labels API, end to end in process: the gadget's flow, errors, JSONP, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from sqlalchemy import select

from tests.http.conftest import client_for
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.http import wikilabels_objects as objects
from wikiloom.labels.tables import Campaign, Task, Workset

CAMPAIGN_KEYS = {
    "id", "name", "wiki", "form", "view", "created", "labels_per_task",
    "tasks_per_assignment", "active", "info_url",
}  # fmt: skip
WORKSET_KEYS = {"id", "campaign_id", "user_id", "created", "expires"}
TASK_KEYS = {"id", "campaign_id", "data", "labels"}
LABEL = {"damaging": False, "goodfaith": True, "unsure": False}


@pytest.fixture
async def u101(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app_settings, 101) as client:
        yield client


@pytest.mark.anyio
async def test_the_gadget_flow(
    u101: httpx.AsyncClient, app_settings: Settings, campaign_id: int
) -> None:
    base = f"/campaigns/enwiki/{campaign_id}/"
    assert (await u101.get("/auth/whoami/")).json() == {"user": {"id": 101}}
    flags = {"workset": "stats", "campaign": "stats", "tasks": ""}
    assigned = (await u101.post(base, data=flags)).json()
    assert set(assigned) == {"workset", "campaign", "tasks"}
    assert set(assigned["workset"]) == WORKSET_KEYS | {"stats"}
    assert assigned["workset"]["stats"] == {"tasks": 3, "labeled": 0}
    assert set(assigned["campaign"]) == CAMPAIGN_KEYS | {"stats"}
    assert isinstance(assigned["workset"]["created"], float)
    assert [set(t) for t in assigned["tasks"]] == [TASK_KEYS] * 3
    workset_id = assigned["workset"]["id"]

    again = await u101.post(base)
    assert again.status_code == 409
    message = (
        f"Incomplete workset_id={workset_id} already assigned to user_id=101 Please try again or "
        f"check campaign status http://127.0.0.1{base}statistics/"
    )
    assert again.json() == {"error": {"code": "conflict", "message": message}}

    mine = (await u101.get(f"/users/101/{campaign_id}/", params={"worksets": "stats"})).json()
    assert set(mine) == {"user", "campaign", "worksets"}
    opened = (await u101.get(f"{base}{workset_id}/?tasks=&campaign=")).json()
    assert opened["campaign"]["form"] == "damaging_and_goodfaith"
    first, second, third = (t["id"] for t in opened["tasks"])

    saved = await u101.post(
        f"{base}{workset_id}/{first}/", data={"label": orjson.dumps(LABEL).decode()}
    )
    assert saved.status_code == 200, saved.text
    assert set(saved.json()["label"]) == {"task_id", "user_id", "timestamp", "data"}
    assert saved.json()["label"]["data"] == LABEL
    put = await u101.put(
        f"{base}{workset_id}/{first}/",
        data={"label": orjson.dumps(LABEL).decode(), "workset": "stats"},
    )
    assert put.json()["workset"]["stats"] == {"tasks": 3, "labeled": 1}

    skipped = await u101.delete(f"{base}{workset_id}/{second}/")
    assert skipped.status_code == 200
    assert set(skipped.json()["workset"]) == WORKSET_KEYS

    everything = (await u101.get(base, params={"tasks": ""})).json()
    labels = {t["id"]: t["labels"] for t in everything["tasks"]}
    assert labels[first][0]["data"] == LABEL
    assert labels[third] == []

    async with client_for(app_settings, 102) as u102:
        refused = await u102.delete(f"{base}{workset_id}/")
        assert refused.status_code == 403
        expected = f"workset_id={workset_id} is owned by user_id=101, but your user_id is 102"
        assert refused.json()["error"]["message"] == expected
        stolen = await u102.post(f"{base}{workset_id}/{third}/", data={"label": "{}"})
        assert stolen.status_code in (400, 403)
    assert (await u101.delete(f"{base}{workset_id}/")).json() == {"success": True}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"label": "not json"}, 400, '"label" is not valid JSON'),
        ({}, 400, 'the form field "label" is missing'),
        ({"label": '{"damaging": "maybe", "goodfaith": true, "unsure": false}'}, 400, "damaging"),
    ],
)
async def test_bad_labels_are_json_errors(
    u101: httpx.AsyncClient, campaign_id: int, form: dict[str, str], status: int, message: str
) -> None:
    base = f"/campaigns/enwiki/{campaign_id}/"
    workset = (await u101.post(base, data={"tasks": ""})).json()
    task = workset["tasks"][0]["id"]
    answer = await u101.post(f"{base}{workset['workset']['id']}/{task}/", data=form)
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]


@pytest.mark.anyio
async def test_errors_jsonp_cors_and_unknown_ids(app_settings: Settings, campaign_id: int) -> None:
    async with client_for(app_settings, None) as anonymous:
        whoami = await anonymous.get("/auth/whoami/")
        assert whoami.status_code == 403
        assert whoami.json()["error"] == {
            "code": "forbidden",
            "message": "This request requires authentication.",
        }
        jsonp = await anonymous.get("/auth/whoami/", params={"callback": "cb"})
        assert jsonp.status_code == 200
        assert jsonp.text.startswith("cb(")
        assert '"http_status":403' in jsonp.text
        assert (await anonymous.post(f"/campaigns/enwiki/{campaign_id}/")).status_code == 403
        for path, message in [
            ("/campaigns/enwiki/999999/", "campaign_id=999999"),
            (f"/campaigns/frwiki/{campaign_id}/", f"campaign_id={campaign_id}"),
            (f"/campaigns/enwiki/{campaign_id}/999999/", "workset_id=999999"),
            ("/forms/nope/", "form_name=nope"),
        ]:
            answer = await anonymous.get(path)
            assert (answer.status_code, answer.json()["error"]["message"]) == (404, message)
        not_a_number = await anonymous.get(f"/campaigns/enwiki/{campaign_id}/x/")
        assert not_a_number.status_code == 404
        assert not_a_number.json()["error"]["code"] == "not found"
        redirect = await anonymous.get("/campaigns")
        assert redirect.status_code in (307, 308)
        assert redirect.headers["location"].endswith("/campaigns/")
        wikis = await anonymous.get("/campaigns/", headers={"Origin": "https://en.wikipedia.org"})
        assert wikis.json()["wikis"] == ["enwiki"]
        assert wikis.headers["access-control-allow-origin"] == "https://en.wikipedia.org"
        assert wikis.headers["access-control-allow-credentials"] == "true"
        evil = await anonymous.get("/campaigns/", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        form = (await anonymous.get("/forms/damaging_and_goodfaith/")).json()["form"]
        assert form["fields"]
        assert "en" in form["i18n"]


@pytest.mark.anyio
async def test_dev_login_is_off_unless_enabled(settings: Settings) -> None:
    async with client_for(settings, None) as client:
        answer = await client.post("/auth/dev_login/", data={"user_id": 5})
        assert answer.status_code == 404


@pytest.mark.anyio
async def test_dev_login_is_refused_off_loopback(app_settings: Settings) -> None:
    public = app_settings.model_copy(update={"host": "0.0.0.0"})
    async with client_for(public, None) as client:
        answer = await client.post("/auth/dev_login/", data={"user_id": 5})
        assert answer.status_code == 404


@pytest.mark.anyio
async def test_cross_site_writes_are_refused(u101: httpx.AsyncClient, campaign_id: int) -> None:
    base = f"/campaigns/enwiki/{campaign_id}/"
    forged = await u101.post(base, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert "Cross-site request refused" in forged.json()["error"]["message"]
    gadget = await u101.post(base, headers={"Origin": "https://en.wikipedia.org"})
    assert gadget.status_code == 200


@pytest.mark.anyio
async def test_campaign_tasks_stream_the_whole_json_body(
    u101: httpx.AsyncClient, app_settings: Settings, campaign_id: int
) -> None:
    base = f"/campaigns/enwiki/{campaign_id}/"
    async with client_for(app_settings, 102) as u102:
        for client, labeled in ((u101, 3), (u102, 1)):
            held = (await client.post(base, data={"tasks": ""})).json()
            for task in held["tasks"][:labeled]:
                url = f"{base}{held['workset']['id']}/{task['id']}/"
                saved = await client.post(url, data={"label": orjson.dumps(LABEL).decode()})
                assert saved.status_code == 200, saved.text
    engine = make_engine(app_settings)
    with transaction(session_factory(engine)) as session:
        worksets = select(Workset).where(Workset.campaign_id == campaign_id).order_by(Workset.id)
        tasks = select(Task).where(Task.campaign_id == campaign_id).order_by(Task.id)
        expected = {
            "campaign": objects.campaigns(session, [session.get_one(Campaign, campaign_id)], True)[
                0
            ],
            "worksets": objects.worksets(session, session.scalars(worksets), True),
            "tasks": objects.tasks(session, session.scalars(tasks)),
        }
    engine.dispose()
    assert sum(len(t["labels"]) for t in expected["tasks"]) == 4
    flags = "tasks&worksets=stats&campaign=stats"
    streamed = await u101.get(f"{base}?{flags}")
    assert "content-length" not in streamed.headers
    assert streamed.headers["content-type"] == "application/json"
    assert streamed.content == orjson.dumps(expected)
    jsonp = await u101.get(f"{base}?{flags}&callback=cb")
    assert jsonp.content == b"cb(" + orjson.dumps(expected) + b");"
    missing = await u101.get("/campaigns/enwiki/999999/?tasks")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not found")
