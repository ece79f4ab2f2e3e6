"""The feedback API on every engine: give feedback (logged in, same-origin), read a model's
disputes, turn them into a campaign or settle them (admins), in the app's error envelope."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.http.conftest import client_for
from tests.support.models import SAMPLE
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.labels.organizers import organizers
from wikiloom.labels.tables import Campaign, Task
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.featurestore import store_vectors
from wikiloom.learn.registry import TrainedModel, create_model, register_version, set_status
from wikiloom.learn.tables import Feedback

pytestmark = pytest.mark.anyio
ADMIN = "Boss"
#: Revisions of the sample whose features are stored (they score without the wiki).
REVISIONS = read_dataset(SAMPLE, "reverted").ids or ()
SAID_TRUE = {"prediction": True, "probability": {"true": 0.7, "false": 0.3}}


def damaging_model(settings: Settings, trained: TrainedModel) -> None:
    """An active enwiki `damaging` model (the sample's estimator), its features stored."""
    dataset = read_dataset(SAMPLE, "reverted")
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        model = create_model(session, "enwiki", "damaging", "damaging")
        register_version(session, model, trained)
        set_status(session, model, "active", actor="tests", reason="feedback tests")
        vectors = dict(zip(dataset.ids or (), dataset.X.tolist(), strict=True))
        store_vectors(session, "enwiki", "ores.enwiki.demo", 1, 9, vectors)
    engine.dispose()


@pytest.fixture
def feedback_settings(settings: Settings, sample_trained: TrainedModel) -> Settings:
    damaging_model(settings, sample_trained)
    return settings.model_copy(update={"dev_login": True, "admins": [ADMIN]})


def rows(settings: Settings) -> list[Feedback]:
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        found = list(session.scalars(select(Feedback).order_by(Feedback.id)))
        session.expunge_all()
    engine.dispose()
    return found


def body(rev_id: int = 123, **values: Any) -> dict[str, Any]:
    return {
        "wiki": "enwiki",
        "rev_id": rev_id,
        "model": "damaging",
        "verdict": "disagree",
        **values,
    }


async def test_feedback_needs_a_logged_in_user(feedback_settings: Settings) -> None:
    async with client_for(feedback_settings, None) as client:
        answer = await client.post("/feedback/", json=body())
    assert answer.status_code == 401
    assert answer.json() == {
        "error": {
            "code": "unauthorized",
            "message": "Log in to do this: it is recorded under your account.",
        }
    }
    assert rows(feedback_settings) == []


async def test_feedback_is_stored_then_changed(feedback_settings: Settings) -> None:
    async with client_for(feedback_settings, 7, "Alice") as client:
        first = await client.post(
            "/feedback/",
            json=body(correct_label=False, comment="fixes a typo", score=SAID_TRUE),
        )
        assert first.status_code == 201, first.text
        stored = first.json()["feedback"]
        assert stored["verdict"] == "disagree"
        assert stored["correct_label"] is False
        assert stored["version"] == "1.0"
        assert stored["user"] == {"id": 7, "name": "Alice"}
        assert (stored["status"], stored["updated"], stored["flags"]) == ("open", None, [])
        again = await client.post(
            "/feedback/", json=body(verdict="agree", model_version="1.0", score=SAID_TRUE)
        )
        assert again.status_code == 200, again.text
        changed = again.json()["feedback"]
        assert changed["id"] == stored["id"]
        assert changed["verdict"] == "agree"
        assert changed["updated"] is not None
    found = rows(feedback_settings)
    assert [(r.user_id, r.rev_id, r.verdict, r.comment) for r in found] == [(7, 123, "agree", None)]


@pytest.mark.parametrize(
    ("sent", "status", "message"),
    [
        (b"not json", 400, "the body is not JSON"),
        (b"[1, 2]", 400, "the body must be a JSON object"),
        ({"wiki": "enwiki", "rev_id": 5, "model": "damaging"}, 400, "verdict: Field required"),
        (body(rev_id="123"), 400, "rev_id: Input should be a valid integer"),
        (body(rev_id=0), 400, "rev_id: Input should be greater than 0"),
        (body(verdict="maybe"), 400, "verdict: Input should be 'agree' or 'disagree'"),
        (body(extra=1), 400, "extra: Extra inputs are not permitted"),
        (body(comment="x" * 2001), 400, "comment: String should have at most 2000 characters"),
        (body(correct_label=[True]), 400, "correct_label must be a string, number, boolean"),
        (body(correct_label="yes"), 400, "correct_label must be one of the model's labels"),
        (body(model_version="7.0"), 400, "enwiki damaging has no version '7.0'"),
        (body(model_version="1.0\x00"), 400, "enwiki damaging has no version '1.0\\x00'"),
        (body(model="goodfaith"), 404, "enwiki has no model named 'goodfaith'"),
        (body(wiki="frwiki"), 404, "frwiki has no model named 'damaging'"),
    ],
)
async def test_bad_feedback_is_refused_with_a_clear_message(
    feedback_settings: Settings, sent: Any, status: int, message: str
) -> None:
    async with client_for(feedback_settings, 7) as client:
        if isinstance(sent, bytes):
            answer = await client.post(
                "/feedback/", content=sent, headers={"Content-Type": "application/json"}
            )
        else:
            answer = await client.post("/feedback/", json=sent)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert message in error["message"]
    assert error["code"] == ("not found" if status == 404 else "bad request")
    assert rows(feedback_settings) == []


async def test_a_cross_site_page_cannot_give_feedback_as_the_user(
    feedback_settings: Settings,
) -> None:
    async with client_for(feedback_settings, 7) as client:
        refused = await client.post(
            "/feedback/", json=body(), headers={"Origin": "https://evil.example"}
        )
        assert refused.status_code == 403
        assert "Cross-site request refused" in refused.json()["error"]["message"]
        assert rows(feedback_settings) == []
        ours = await client.post("/feedback/", json=body(), headers={"Origin": "http://127.0.0.1"})
        assert ours.status_code == 201, ours.text


async def give(settings: Settings, user: int, name: str, rev_id: int, **values: Any) -> int:
    async with client_for(settings, user, name) as client:
        answer = await client.post("/feedback/", json=body(rev_id, **values))
        assert answer.status_code == 201, answer.text
        feedback_id: int = answer.json()["feedback"]["id"]
        return feedback_id


async def test_disputes_are_public_json_with_counts_and_pages(
    feedback_settings: Settings,
) -> None:
    first = await give(feedback_settings, 7, "Alice", 300, correct_label=False)
    second = await give(feedback_settings, 8, "Bob", 300)
    await give(feedback_settings, 8, "Bob", 301, verdict="agree", score=SAID_TRUE)
    third = await give(feedback_settings, 9, "Carol", 302, correct_label=False)
    base = "/feedback/enwiki/damaging/disputes/"
    async with client_for(feedback_settings, None) as client:
        answer = await client.get(base, params={"limit": 2})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["model"] == {"wiki": "enwiki", "name": "damaging", "target": "damaging"}
        assert page["counts"] == {"open": 3, "queued": 0, "resolved": 0, "dismissed": 0}
        assert [d["id"] for d in page["disputes"]] == [first, second]
        assert page["disputes"][0]["user"] == {"id": 7, "name": "Alice"}
        assert page["disputes"][1]["flags"] == ["no_correct_label"]
        rest = (await client.get(base, params={"after": page["after"]})).json()
        assert [d["id"] for d in rest["disputes"]] == [third]
        assert rest["after"] is None
        newest = (await client.get(base, params={"order": "newest", "pseudonymous": ""})).json()
        assert [d["id"] for d in newest["disputes"]] == [third, second, first]
        users = [d["user"] for d in newest["disputes"]]
        assert all(u["name"] is None and isinstance(u["id"], str) for u in users)
        assert "Alice" not in str(newest)
        for params, message in (
            ({"status": "closed"}, "status must be one of"),
            ({"limit": "many"}, "limit must be an integer"),
            ({"limit": "501"}, "limit must be from 1 to 500"),
            ({"order": "random"}, "order must be oldest or newest"),
        ):
            refused = await client.get(base, params=params)
            assert refused.status_code == 400
            assert message in refused.json()["error"]["message"]
        missing = await client.get("/feedback/enwiki/goodfaith/disputes/")
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "enwiki has no model named 'goodfaith'"


async def test_admins_turn_the_open_disputes_into_a_campaign(
    feedback_settings: Settings,
) -> None:
    for user, name in ((7, "Alice"), (8, "Bob")):
        await give(feedback_settings, user, name, 400, correct_label=False)
    await give(feedback_settings, 7, "Alice", 401)
    await give(feedback_settings, 7, "Alice", 402, verdict="agree", score=SAID_TRUE)
    url = "/feedback/enwiki/damaging/disputes/campaign"
    async with client_for(feedback_settings, None) as client:
        assert (await client.post(url, json={})).status_code == 401
    async with client_for(feedback_settings, 7, "Alice") as client:
        refused = await client.post(url, json={})
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == (
            "Only admins can send disputes to a labeling campaign."
        )
    async with client_for(feedback_settings, 1, ADMIN) as client:
        bad = await client.post(url, json={"form": "wp10"})
        assert bad.status_code == 400
        assert "has no field 'damaging'" in bad.json()["error"]["message"]
        nul = await client.post(url, json={"name": "a\x00b"})
        assert nul.status_code == 400
        assert "NUL" in nul.json()["error"]["message"]
        made = await client.post(url, json={"name": "Disputed damage", "labels_per_task": 2})
        assert made.status_code == 201, made.text
        answer = made.json()
        campaign_id = answer["campaign"]["id"]
        assert answer["campaign"]["name"] == "Disputed damage"
        assert answer["campaign"]["form"] == "damaging_and_goodfaith"
        assert (answer["tasks"], answer["queued"]) == (2, 3)
        assert answer["url"] == f"/ui/enwiki/campaigns/{campaign_id}/manage/"
        again = await client.post(url)
        assert again.status_code == 409
        assert again.json()["error"]["message"] == "enwiki damaging has no open disputes"
        queued = (
            await client.get("/feedback/enwiki/damaging/disputes/", params={"status": "queued"})
        ).json()
        assert {d["rev_id"] for d in queued["disputes"]} == {400, 401}
        assert {d["campaign_id"] for d in queued["disputes"]} == {campaign_id}
        assert queued["counts"]["open"] == 0
    engine = make_engine(feedback_settings)
    with transaction(session_factory(engine)) as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.labels_per_task == 2
        tasks = session.scalars(select(Task.data).where(Task.campaign_id == campaign_id))
        assert sorted(task["rev_id"] for task in tasks) == [400, 401]
        assert organizers(session, campaign_id) == [1]
    engine.dispose()


async def test_admins_settle_disputes(feedback_settings: Settings) -> None:
    dispute = await give(feedback_settings, 7, "Alice", 500, correct_label=False)
    agreement = await give(feedback_settings, 7, "Alice", 501, verdict="agree")
    url = f"/feedback/enwiki/damaging/disputes/{dispute}"
    async with client_for(feedback_settings, 7, "Alice") as client:
        assert (await client.post(url, json={"status": "dismissed"})).status_code == 403
    async with client_for(feedback_settings, 1, ADMIN) as client:
        bad = await client.post(url, json={"status": "closed"})
        assert bad.status_code == 400
        done = await client.post(url, json={"status": "dismissed", "note": "not damaging"})
        assert done.status_code == 200, done.text
        settled = done.json()["feedback"]
        assert (settled["status"], settled["resolution"], settled["resolved_by"]) == (
            "dismissed", "not damaging", ADMIN
        )  # fmt: skip
        twice = await client.post(url, json={"status": "resolved"})
        assert twice.status_code == 409
        other = f"/feedback/enwiki/damaging/disputes/{agreement}"
        assert (await client.post(other, json={"status": "resolved"})).status_code == 409
        gone = "/feedback/enwiki/damaging/disputes/999999"
        assert (await client.post(gone, json={"status": "resolved"})).status_code == 404


async def test_the_routes_are_documented(feedback_settings: Settings) -> None:
    async with client_for(feedback_settings, None) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    post = paths["/feedback/"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"wiki", "rev_id", "model", "verdict"}
    assert {"200", "201", "400", "401", "403", "404"} <= set(post["responses"])
    assert "get" in paths["/feedback/{wiki}/{model}/disputes/"]
    assert "post" in paths["/feedback/{wiki}/{model}/disputes/campaign"]
    assert "post" in paths["/feedback/{wiki}/{model}/disputes/{feedback_id}"]
