"""Lift Wing's KServe v1 protocol over HTTP on every engine, against captured production bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.http.conftest import client_for
from tests.http.test_ores import REV_IDS, shape
from tests.support.mediawiki import USER_AGENT, MediaWiki
from tests.support.models import register
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory
from wikiloom.learn.registry import TrainedModel

FIXTURES = Path(__file__).parent.parent / "data" / "api_fixtures"
PRODUCTION = json.loads((FIXTURES / "liftwing_responses.json").read_text())["responses"]


@pytest.mark.anyio
async def test_models_are_listed_and_ready(served: Settings) -> None:
    async with client_for(served, None) as client:
        listed = (await client.get("/v1/models")).json()
        ready = await client.get("/v1/models/enwiki-reverted")
        unknown = await client.get("/v1/models/enwiki-nope")
    assert listed == {"models": ["enwiki-reverted"]}
    assert ready.json() == {"name": "enwiki-reverted", "ready": True}
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "Model with name enwiki-nope does not exist."}


@pytest.mark.anyio
async def test_predict_answers_one_ores_document(served: Settings) -> None:
    rev_id = REV_IDS[0]
    async with client_for(served, None) as client:
        plain = await client.post("/v1/models/enwiki-reverted:predict", json={"rev_id": rev_id})
        extended = await client.post(
            "/v1/models/enwiki-reverted:predict", json={"rev_id": rev_id, "extended_output": True}
        )
        # No JSON content type (curl -d): still read as JSON.
        untyped = await client.post(
            "/v1/models/enwiki-reverted:predict",
            content=json.dumps({"rev_id": rev_id}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        ores = await client.get(f"/v3/scores/enwiki/{rev_id}/reverted/")
    assert plain.status_code == 200
    assert shape(plain.json()) == shape(PRODUCTION["reverted"])
    assert plain.json() == untyped.json() == ores.json()
    doc = extended.json()["enwiki"]["scores"][str(rev_id)]["reverted"]
    assert "feature.revision.user.is_anon" in doc["features"]
    assert doc["score"] == plain.json()["enwiki"]["scores"][str(rev_id)]["reverted"]["score"]


@pytest.mark.anyio
async def test_an_event_is_scored_for_its_revision(served: Settings) -> None:
    rev_id = REV_IDS[1]
    event = {
        "$schema": "/mediawiki/page/change/1.1.0",
        "meta": {"stream": "mediawiki.page_change.v1", "domain": "en.wikipedia.org"},
        "wiki_id": "enwiki", "dt": "2015-06-01T00:00:00Z", "page_change_kind": "edit",
        "page": {"page_id": 1, "page_title": "Loom", "namespace_id": 0},
        "revision": {"rev_id": rev_id, "rev_parent_id": rev_id - 1,
                     "rev_dt": "2015-06-01T00:00:00Z"},
        "performer": {"user_text": "X", "is_bot": False},
    }  # fmt: skip
    async with client_for(served, None) as client:
        answer = await client.post("/v1/models/enwiki-reverted:predict", json={"event": event})
    assert list(answer.json()["enwiki"]["scores"]) == [str(rev_id)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{", 400, "Unrecognized request format: the body is not JSON."),
        (b"[1]", 400, "Unrecognized request format: expected a JSON object."),
        (b"{}", 400, 'Expected "rev_id" in input data.'),
        (b'{"rev_id": "12"}', 400, 'Expected "rev_id" to be an integer.'),
        (b'{"event": {"meta": {}}}', 400,
         'Expected "event" to be a revision-create or page_change event.'),
    ],
)  # fmt: skip
async def test_bad_requests_get_kserve_errors(
    served: Settings, body: bytes, status: int, message: str
) -> None:
    async with client_for(served, None) as client:
        answer = await client.post("/v1/models/enwiki-reverted:predict", content=body)
    assert answer.status_code == status
    assert answer.json() == {"error": message}


@pytest.mark.anyio
async def test_revisions_of_the_real_wiki_are_fetched_and_missing_ones_refused(
    settings: Settings, sample_trained: TrainedModel, mediawiki: MediaWiki
) -> None:
    engine = make_engine(settings)
    register(session_factory(engine), sample_trained, mediawiki.dbname)
    engine.dispose()
    local = settings.model_copy(
        update={"user_agent": USER_AGENT, "wikis": {mediawiki.dbname: mediawiki.api_url}}
    )
    loom = mediawiki.pages["Loom"].revisions[-1].rev_id
    name = f"/v1/models/{mediawiki.dbname}-reverted:predict"
    async with client_for(local, None) as client:
        scored = await client.post(name, json={"rev_id": loom})
        missing = await client.post(name, json={"rev_id": 999_999_999})
    assert scored.status_code == 200
    assert str(loom) in scored.json()[mediawiki.dbname]["scores"]
    assert missing.status_code == 400
    assert missing.json()["error"].startswith(
        "The MW API does not have any info related to the rev-id provided as input (999999999)"
    )
