"""Governance over HTTP on every engine: who may do what, the pause switch on every scoring
surface at once, a change request's whole life, the public audit log, and the pages."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.http.conftest import client_for
from tests.http.test_model_pages import page
from tests.http.test_ores import REV_IDS
from wikiloom.config import Settings

ADMIN, STEWARD, ELSEWHERE = (1, "Boss"), (2, "Steward"), (3, "Dewikian")
USER, OTHER = (4, "Alice"), (5, "Bob")
#: Who may do what, and the pages, do not depend on the engine: SQLite only (the rest runs on all).
SQLITE = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
STATUS = "/models/enwiki/reverted/status/"
REQUESTS = "/models/enwiki/reverted/requests/"


@pytest.fixture
def governed(served: Settings) -> Settings:
    """The sample model active on enwiki; an admin, a steward of enwiki, one of dewiki."""
    return served.model_copy(
        update={
            "dev_login": True,
            "admins": [ADMIN[1]],
            "model_stewards": {"enwiki": [STEWARD[1]], "dewiki": [ELSEWHERE[1]]},
            "precache": {"enwiki": {"reverted": ["edit"]}},
        }
    )


def as_(settings: Settings, who: tuple[int, str] | None) -> Any:
    return client_for(settings, None if who is None else who[0], None if who is None else who[1])


def event(rev_id: int) -> dict[str, Any]:
    return {
        "database": "enwiki", "rev_id": rev_id, "rev_parent_id": rev_id - 1, "page_id": 1,
        "page_namespace": 0, "page_title": "Loom", "rev_timestamp": "2015-06-01T00:00:00Z",
        "performer": {"user_text": "X"}, "meta": {"stream": "mediawiki.revision-create"},
    }  # fmt: skip


@SQLITE
@pytest.mark.anyio
async def test_who_may_change_a_status_open_and_decide_requests(governed: Settings) -> None:
    pause = {"status": "paused", "reason": "false positives"}
    resume = {"status": "active", "reason": "fixed"}
    seen = {}
    async with as_(governed, None) as anonymous:
        seen["anonymous"] = (await anonymous.post(STATUS, json=pause)).status_code
        opened = await anonymous.post(REQUESTS, json={"kind": "retrain", "title": "T", "body": "B"})
        assert opened.status_code == 401
        assert opened.json()["error"]["code"] == "unauthorized"
    async with as_(governed, USER) as user:
        refused = await user.post(STATUS, json=pause)
        seen["user"] = refused.status_code
        assert refused.json()["error"]["message"] == (
            "Only the model stewards of enwiki and admins change its status."
        )
        opened = await user.post(REQUESTS, json={"kind": "retrain", "title": "T", "body": "B"})
        assert opened.status_code == 200, opened.text
        request_id = opened.json()["request"]["id"]
        decided = await user.post(f"{REQUESTS}{request_id}/decision/",
                                  json={"status": "accepted", "outcome": "me"})  # fmt: skip
        assert decided.status_code == 403
    async with as_(governed, ELSEWHERE) as other_wiki:
        seen["steward of dewiki"] = (await other_wiki.post(STATUS, json=pause)).status_code
    async with as_(governed, STEWARD) as steward:
        answer = await steward.post(STATUS, json=pause)
        seen["steward"] = answer.status_code
        assert answer.json() == {
            "model": {"wiki": "enwiki", "name": "reverted", "status": "paused"},
            "audit_log": "/audit/enwiki/?model=reverted",
        }
        again = await steward.post(STATUS, json=pause)
        assert again.status_code == 409  # paused already
        missing = await steward.post("/models/enwiki/nope/status/", json=pause)
        assert missing.status_code == 404
        no_reason = await steward.post(STATUS, json={"status": "active", "reason": ""})
        assert no_reason.status_code == 400
    async with as_(governed, ADMIN) as admin:
        seen["admin"] = (await admin.post(STATUS, json=resume)).status_code
        decided = await admin.post(f"{REQUESTS}{request_id}/decision/",
                                   json={"status": "declined", "outcome": "Not now."})  # fmt: skip
        assert decided.status_code == 200
        assert decided.json()["request"]["decided_by"] == ADMIN[1]
    assert seen == {"anonymous": 401, "user": 403, "steward of dewiki": 403, "steward": 200,
                    "admin": 200}  # fmt: skip


@SQLITE
@pytest.mark.anyio
async def test_writes_from_another_site_are_refused(governed: Settings) -> None:
    evil = {"Origin": "https://evil.example"}
    async with as_(governed, STEWARD) as steward:
        refused = await steward.post(STATUS, json={"status": "paused", "reason": "x"},
                                     headers=evil)  # fmt: skip
        assert refused.status_code == 403
        assert (
            "origin https://evil.example may not write here" in refused.json()["error"]["message"]
        )
        opened = await steward.post(REQUESTS, data={"kind": "retrain", "title": "T", "body": "B"},
                                    headers=evil)  # fmt: skip
        assert opened.status_code == 403
        ours = await steward.post(STATUS, json={"status": "paused", "reason": "x"},
                                  headers={"Origin": "http://127.0.0.1"})  # fmt: skip
        assert ours.status_code == 200
        listed = await steward.get(REQUESTS)
    assert listed.json() == {"requests": []}  # nothing was written by the refused request


async def scores(client: httpx.AsyncClient) -> dict[str, int]:
    """The status of every scoring surface asked for the same revision."""
    rev_id = REV_IDS[0]
    answers = {
        "ores": await client.get(f"/v3/scores/enwiki/{rev_id}/reverted/"),
        "ores_wiki": await client.get(f"/v3/scores/enwiki/?revids={rev_id}"),
        "liftwing": await client.post("/v1/models/enwiki-reverted:predict",
                                      json={"rev_id": rev_id}),
        "liftwing_ready": await client.get("/v1/models/enwiki-reverted"),
        "precache": await client.post("/v3/precache/", content=json.dumps(event(REV_IDS[1]))),
    }  # fmt: skip
    return {name: answer.status_code for name, answer in answers.items()}


@pytest.mark.anyio
async def test_a_pause_stops_every_surface_at_once_in_every_process(governed: Settings) -> None:
    # Two apps on one database stand for two server processes: each its own pool and cache.
    async with as_(governed, None) as scoring, as_(governed, STEWARD) as steward:
        assert await scores(scoring) == {"ores": 200, "ores_wiki": 200, "liftwing": 200,
                                         "liftwing_ready": 200, "precache": 200}  # fmt: skip
        before = (await scoring.get(f"/v3/scores/enwiki/{REV_IDS[0]}/reverted/")).json()
        paused = await steward.post(STATUS, json={"status": "paused", "reason": "IP edits"})
        assert paused.status_code == 200
        assert await scores(scoring) == {"ores": 404, "ores_wiki": 404, "liftwing": 503,
                                         "liftwing_ready": 503, "precache": 204}  # fmt: skip
        why = "Why is in the audit log: /audit/enwiki/?model=reverted"
        ores = (await scoring.get(f"/v3/scores/enwiki/{REV_IDS[0]}/reverted/")).json()
        assert ores == {
            "error": {
                "code": "model not served",
                "message": "The model "
                f"'reverted' is paused on enwiki: it answers no scores there until it "
                f"is resumed. {why}",
            }
        }  # fmt: skip  (the cached score is not served)
        wiki = (await scoring.get(f"/v3/scores/enwiki/?revids={REV_IDS[0]}")).json()
        assert wiki["error"]["message"] == (
            "No scorers available for enwiki: reverted is paused. Why is in the audit log: "
            "/audit/enwiki/"
        )
        kserve = (await scoring.post("/v1/models/enwiki-reverted:predict",
                                     json={"rev_id": REV_IDS[0]})).json()  # fmt: skip
        assert kserve == {"error": "Model with name enwiki-reverted is not ready. The model "
                          f"'reverted' is paused on enwiki: it answers no scores there until "
                          f"it is resumed. {why}"}  # fmt: skip
        assert (await scoring.get("/v1/models")).json() == {"models": []}
        assert (await scoring.get("/v3/scores/")).json() == {}
        resumed = await steward.post(STATUS, json={"status": "active", "reason": "retrained"})
        assert resumed.status_code == 200
        assert await scores(scoring) == {"ores": 200, "ores_wiki": 200, "liftwing": 200,
                                         "liftwing_ready": 200, "precache": 200}  # fmt: skip
        after = (await scoring.get(f"/v3/scores/enwiki/{REV_IDS[0]}/reverted/")).json()
        assert after == before
        retired = await steward.post(STATUS, json={"status": "retired", "reason": "replaced"})
        assert retired.status_code == 200
        gone = await scoring.post("/v1/models/enwiki-reverted:predict",
                                  json={"rev_id": REV_IDS[0]})  # fmt: skip
        assert gone.status_code == 404
        assert "is not available. The model 'reverted' is retired on enwiki" in gone.json()["error"]


@pytest.mark.anyio
async def test_a_change_request_from_opening_to_the_pause(governed: Settings) -> None:
    async with as_(governed, USER) as user:
        bad = await user.post(REQUESTS, json={"kind": "threshold", "title": "Fewer flags",
                                              "body": "Too many."})  # fmt: skip
        assert bad.status_code == 400
        assert bad.json()["error"]["message"].startswith("a threshold change names the threshold")
        threshold = await user.post(REQUESTS, json={
            "kind": "threshold", "title": "Fewer flags", "body": "Too many.",
            "details": {"name": "verylikelybad", "query": "maximum recall @ precision >= 0.95"},
        })  # fmt: skip
        assert threshold.json()["request"]["details"]["name"] == "verylikelybad"
        opened = await user.post(REQUESTS, json={"kind": "turn_off", "title": "Turn it off",
                                                 "body": "It flags newcomers."})  # fmt: skip
        record = opened.json()["request"]
        assert {k: record[k] for k in ("kind", "status", "author", "comments", "url", "page")} == {
            "kind": "turn_off", "status": "open", "author": "Alice", "comments": 0,
            "url": f"{REQUESTS}{record['id']}/",
            "page": f"/ui/enwiki/models/reverted/requests/{record['id']}/",
        }  # fmt: skip
        url = record["url"]
    async with as_(governed, OTHER) as other:
        said = await other.post(f"{url}comments/", json={"body": "Seen it on RC."})
        assert said.json()["comment"]["author"] == "Bob"
        assert (await other.post(f"{url}withdrawal/", json={})).status_code == 403
    async with as_(governed, STEWARD) as steward:
        empty = await steward.post(f"{url}comments/", json={"body": "  "})
        assert empty.status_code == 400
        decision = {"status": "accepted", "outcome": "Paused for now."}
        decided = await steward.post(f"{url}decision/", json=decision)
        assert decided.status_code == 200
        assert decided.json()["request"]["status"] == "done"
        late = await steward.post(f"{url}comments/", json={"body": "One more thing"})
        assert late.status_code == 409
        shown = (await steward.get(url)).json()["request"]
        listed = (await steward.get(REQUESTS)).json()["requests"]
        open_ones = (await steward.get(f"{REQUESTS}?status=open")).json()["requests"]
        ores = await steward.get(f"/v3/scores/enwiki/{REV_IDS[0]}/reverted/")
    assert ores.status_code == 404  # the accepted request paused the model
    assert [c["body"] for c in shown["discussion"]] == ["Seen it on RC."]
    assert [(e["kind"], e["new"]) for e in shown["log"]] == [
        ("change_request_opened", "open"), ("change_request_commented", None),
        ("change_request_decided", "accepted"), ("status", "paused"),
        ("change_request_decided", "done"),
    ]  # fmt: skip
    assert shown["log"][3]["reason"] == f"change request {record['id']} accepted: Turn it off"
    assert [r["kind"] for r in listed] == ["turn_off", "threshold"]
    assert [r["kind"] for r in open_ones] == ["threshold"]


@pytest.mark.anyio
async def test_the_audit_log_is_public_paged_and_read_only(governed: Settings) -> None:
    async with as_(governed, USER) as user:
        for n in range(3):
            await user.post(REQUESTS, json={"kind": "retrain", "title": f"R{n}", "body": "B"})
    async with as_(governed, None) as anonymous:
        first = (await anonymous.get("/audit/?limit=2")).json()
        kinds = [e["kind"] for e in first["entries"]]
        pages, link = [first["entries"]], first["next"]
        while link:
            body = (await anonymous.get(link)).json()
            pages.append(body["entries"])
            link = body["next"]
        wiki = (await anonymous.get("/audit/enwiki/?kind=change_request_opened")).json()
        none = (await anonymous.get("/audit/dewiki/")).json()
        model = (await anonymous.get("/audit/?wiki=enwiki&model=reverted&limit=500")).json()
        refused = {
            "post": (await anonymous.post("/audit/", json={})).status_code,
            "delete": (await anonymous.delete("/audit/enwiki/")).status_code,
            "put": (await anonymous.put("/audit/")).status_code,
        }
        bad = await anonymous.get("/audit/?cursor=abc")
    assert first["next"] == f"/audit/?limit=2&cursor={first['cursor']}"
    assert kinds == ["change_request_opened", "change_request_opened"]
    entries = [e for page_ in pages for e in page_]
    assert [e["kind"] for e in entries] == [
        "change_request_opened", "change_request_opened", "change_request_opened", "status",
        "current_version", "registered", "created",
    ]  # fmt: skip
    assert entries == model["entries"]
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    newest = entries[0]
    assert (newest["wiki"], newest["model"], newest["actor"], newest["reason"]) == (
        "enwiki", "reverted", "Alice", "retrain: R2",
    )  # fmt: skip
    assert (
        newest["request"]["page"]
        == f"/ui/enwiki/models/reverted/requests/{newest['request']['id']}/"
    )
    assert len(wiki["entries"]) == 3
    assert wiki["next"] is None
    assert none == {"entries": [], "cursor": None, "next": None}
    assert refused == {"post": 405, "delete": 405, "put": 405}
    assert bad.status_code == 400


@SQLITE
@pytest.mark.anyio
async def test_the_pages_drive_the_same_routes_with_browser_forms(governed: Settings) -> None:
    form = {"Accept": "text/html,application/xhtml+xml"}
    async with as_(governed, None) as anonymous:
        asking = await page(anonymous, "/ui/enwiki/models/reverted/requests/new/")
        assert asking.by_id("request-login")
    async with as_(governed, USER) as user:
        new = await page(user, "/ui/enwiki/models/reverted/requests/new/?kind=turn_off")
        assert new.by_id("request-kind-turn_off").attrs.get("checked") == ""
        opened = await user.post(REQUESTS, headers=form, data={
            "kind": "threshold", "title": "Flag fewer", "body": "Please.",
            "details.name": "likelybad", "details.value": "0.8", "details.query": "",
        })  # fmt: skip
        assert opened.status_code == 303
        location = opened.headers["location"]
        assert location.startswith("/ui/enwiki/models/reverted/requests/")
        shown = await page(user, location)
        assert not shown.root.all(id="decision-form")
        assert shown.by_id("withdraw-form")
        details = shown.by_id("request-details")
        pairs = zip(details.all("dt"), details.all("dd"), strict=True)
        assert {dt.words(): dd.words() for dt, dd in pairs} == {"name": "likelybad", "value": "0.8"}
        request_id = location.rstrip("/").rsplit("/", 1)[1]
        refused = await user.post(f"{REQUESTS}{request_id}/decision/", headers=form,
                                  data={"status": "accepted", "outcome": "x"})  # fmt: skip
        assert refused.status_code == 403
        assert "text/html" in refused.headers["content-type"]
        assert "Only the model stewards of enwiki and admins decide requests." in refused.text
        listed = await page(user, "/ui/enwiki/models/reverted/")
        assert not listed.root.all(id="model-status-form")  # only stewards get the switch
        assert listed.by_id("model-status-stewards")
        assert [row.attrs["data-kind"] for row in listed.by_id("model-requests").all(
            "tr", cls="wl-request-row")] == ["threshold"]  # fmt: skip
    async with as_(governed, STEWARD) as steward:
        mine = await page(steward, "/ui/enwiki/models/reverted/")
        options = [o.attrs["value"] for o in mine.by_id("model-status-new").all("option")]
        assert options[0] == "paused"  # the pause switch first
        paused = await steward.post(STATUS, headers=form, data={"status": "paused",
                                                                "reason": "IP spike"})  # fmt: skip
        assert paused.status_code == 303
        again = await page(steward, paused.headers["location"])
        assert again.by_id("model-status").attrs["data-status"] == "paused"
        resume = [o.attrs["value"] for o in again.by_id("model-status-new").all("option")]
        assert resume[0] == "active"  # resume to the state it was paused from
        card = again.by_id("card-governance")
        assert card.one(cls="wl-card-last-change").words().endswith("by Steward: IP spike")
        assert card.one(id="card-requests").one("li").attrs["data-status"] == "open"
        audit = await page(steward, "/ui/enwiki/audit/?kind=status")
        rows = audit.by_id("audit-log").all("tr", cls="wl-audit-entry")
        assert [row.attrs["data-kind"] for row in rows] == ["status", "status"]
        everything = await page(steward, "/ui/audit/?limit=1")
        assert everything.by_id("audit-next").attrs["href"].startswith("/ui/audit/?limit=1&cursor=")
        assert everything.by_id("audit-json").attrs["href"] == "/audit/?limit=1"
        broken = await steward.post(STATUS, headers={**form, "Referer": "http://127.0.0.1/ui/enwiki/models/reverted/"},
                                    data={"status": "paused", "reason": "again"})  # fmt: skip
        assert broken.status_code == 409
        assert 'href="/ui/enwiki/models/reverted/"' in broken.text
        assert "cannot become paused" in broken.text
