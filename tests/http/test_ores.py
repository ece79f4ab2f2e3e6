"""ORES v3 over HTTP on every engine: shapes of the captured production bodies, errors, limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.http.conftest import client_for
from tests.support.models import SAMPLE
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.registry import get_model, set_status

FIXTURES = Path(__file__).parent.parent / "data" / "api_fixtures"
PRODUCTION = json.loads((FIXTURES / "ores_example_responses.json").read_text())["responses"]
REV_IDS = read_dataset(SAMPLE, "reverted").ids[:3]  # type: ignore[index]


def shape(value: Any) -> Any:
    """A body's shape: key sets (ids and names generalised) and value types."""
    if isinstance(value, dict):
        return {"<key>" if k.isdigit() or k in ("enwiki", "reverted", "damaging") else k:
                shape(v) for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__


async def get(settings: Settings, url: str, **options: Any) -> httpx.Response:
    async with client_for(settings, None) as client:
        return await client.get(url, **options)


@pytest.mark.anyio
async def test_scores_have_the_shapes_of_production_bodies(served: Settings) -> None:
    rev_id = REV_IDS[0]
    one = (await get(served, f"/v3/scores/enwiki/{rev_id}/reverted/")).json()
    assert shape(one) == shape(PRODUCTION["get_model_scores"])
    context = (await get(served, f"/v3/scores/enwiki/?revids={rev_id}")).json()
    assert shape(context) == shape(PRODUCTION["get_scores"])
    listing = (await get(served, "/v3/scores/")).json()
    assert shape(listing) == shape({"enwiki": PRODUCTION["list_available_scores"]["bnwiki"]})
    score = one["enwiki"]["scores"][str(rev_id)]["reverted"]["score"]
    assert set(score["probability"]) == {"true", "false"}
    assert score["prediction"] is (score["probability"]["true"] > 0.5)
    assert one["enwiki"]["models"] == {"reverted": {"version": "1.0"}}


@pytest.mark.anyio
async def test_many_revisions_models_and_post_forms(served: Settings) -> None:
    revids = "|".join(map(str, REV_IDS))
    body = (await get(served, f"/v3/scores/enwiki/?models=reverted&revids={revids}")).json()
    assert list(body["enwiki"]["scores"]) == [str(r) for r in REV_IDS]
    async with client_for(served, None) as client:
        posted = await client.post("/v3/scores/enwiki/", data={"revids": revids})
    assert posted.json() == body
    minified = await get(served, f"/v3/scores/enwiki/?revids={revids}&format=json")
    assert b"\n" not in minified.content
    assert minified.json() == body


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/v3/scores/enwiki/?revids=" + "|".join(map(str, range(51))), 400,
         "Too many values for 'revids' parameter.  Max of 50."),
        ("/v3/scores/enwiki/?revids=12|abc", 400,
         "Could not interpret revids. invalid literal for int() with base 10: 'abc'"),
        ("/v3/scores/noowiki/?revids=1", 404, "No scorers available for noowiki"),
        ("/v3/scores/enwiki/?revids=1&models=norevic", 404,
         "Models ('norevic',) not available for enwiki"),
        ("/v3/scores/enwiki/?model_info=foo", 400,
         "Model information could not be retrieved for 'foo'"),
    ],
)  # fmt: skip
async def test_request_errors_are_oreses(
    served: Settings, url: str, status: int, message: str
) -> None:
    answer = await get(served, url)
    assert answer.status_code == status
    assert answer.json()["error"]["message"] == message


@pytest.mark.anyio
async def test_model_info_and_threshold_queries(served: Settings) -> None:
    query = 'statistics.thresholds.true."maximum recall @ precision >= 0.2"'
    body = (await get(served, "/v3/scores/enwiki/", params={"model_info": f"type|{query}"})).json()
    info = body["enwiki"]["models"]["reverted"]
    assert info["type"] == "WikiClassifier"
    (entry,) = info["statistics"]["thresholds"]["true"]
    assert entry["precision"] >= 0.2
    unreachable = 'statistics.thresholds.true."maximum recall @ precision >= 1.01"'
    body = (await get(served, "/v3/scores/enwiki/", params={"model_info": unreachable})).json()
    assert body["enwiki"]["models"]["reverted"]["statistics"]["thresholds"]["true"] == [None]
    whole = (await get(served, "/v3/scores/enwiki/?model_info=")).json()
    assert {"type", "version", "params", "statistics", "score_schema"} <= set(
        whole["enwiki"]["models"]["reverted"]
    )


@pytest.mark.anyio
async def test_features_injection_and_per_score_errors(served: Settings) -> None:
    rev_id = REV_IDS[0]
    body = (await get(served, f"/v3/scores/enwiki/{rev_id}/reverted/?features")).json()
    doc = body["enwiki"]["scores"][str(rev_id)]["reverted"]
    assert doc["features"]["feature.revision.user.is_anon"] in (0, 1)
    injected = (
        await get(
            served,
            f"/v3/scores/enwiki/{rev_id}/reverted/",
            params={"feature.revision.user.is_anon": "true",
                    "feature.english.informals.revision.diff.match_prop_delta_sum": "9"},
        )
    ).json()  # fmt: skip
    plain = doc["score"]["probability"]["true"]
    assert (
        injected["enwiki"]["scores"][str(rev_id)]["reverted"]["score"]["probability"]["true"]
        != plain
    )
    # A revision with no stored features, and no wiki to ask (no User-Agent configured).
    unknown = (await get(served, "/v3/scores/enwiki/5/reverted/")).json()
    error = unknown["enwiki"]["scores"]["5"]["reverted"]["error"]
    assert error["type"] == "NotConfigured"
    assert "User-Agent" in error["message"]


@pytest.mark.anyio
async def test_precache_scores_configured_models_and_says_204_otherwise(
    served: Settings,
) -> None:
    settings = served.model_copy(update={"precache": {"enwiki": {"reverted": ["main_edit"]}}})
    rev_id = REV_IDS[1]
    event = {"database": "enwiki", "rev_id": rev_id, "rev_parent_id": rev_id - 1,
             "page_id": 1, "page_namespace": 0, "page_title": "Loom",
             "rev_timestamp": "2015-06-01T00:00:00Z", "performer": {"user_text": "X"},
             "meta": {"stream": "mediawiki.revision-create"}}  # fmt: skip
    async with client_for(settings, None) as client:
        scored = await client.post("/v3/precache/", content=json.dumps(event))
        talk = await client.post(
            "/v3/precache/", content=json.dumps({**event, "page_namespace": 1})
        )
        other = await client.post(
            "/v3/precache/", content=json.dumps({**event, "database": "frwiki"})
        )
        broken = await client.post("/v3/precache/", content=b"{")
        incomplete = await client.post("/v3/precache/", content=json.dumps({"database": "enwiki"}))
        listed = await client.get("/v3/scores/enwiki/", params={"revids": rev_id})
        assert (await client.get("/v3/precache/")).status_code == 405
    assert scored.status_code == 200
    assert list(scored.json()["enwiki"]["scores"]) == [str(rev_id)]
    assert (talk.status_code, other.status_code) == (204, 204)
    assert broken.status_code == incomplete.status_code == 400
    assert listed.json()["enwiki"]["scores"] == scored.json()["enwiki"]["scores"]


@pytest.mark.anyio
async def test_a_paused_model_is_not_served(served: Settings) -> None:
    engine = make_engine(served)
    with transaction(session_factory(engine), write=True) as session:
        model = get_model(session, "enwiki", "reverted")
        set_status(session, model, "paused", actor="Steward", reason="false positives")
    engine.dispose()
    answer = await get(served, f"/v3/scores/enwiki/{REV_IDS[0]}/reverted/")
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "code": "model not served",
        "message": "The model 'reverted' is paused on enwiki: it answers no scores there "
        "until it is resumed. Why is in the audit log: /audit/enwiki/?model=reverted",
    }
    assert (await get(served, "/v3/scores/")).json() == {}


@pytest.mark.anyio
async def test_limits_per_client_and_in_all(served: Settings) -> None:
    strict = served.model_copy(update={"scoring_client_limit": 1, "scoring_max_inflight": 1})
    async with client_for(strict, None) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        app.state.scoring_clients["127.0.0.1"] = 1  # one request of this client in flight
        busy = await client.get(f"/v3/scores/enwiki/{REV_IDS[0]}/")
        assert busy.status_code == 429
        assert busy.json()["error"] == {
            "code": "too_many_requests",
            "message": "A limited number of parallel connections per IP is allowed.",
        }
        del app.state.scoring_clients["127.0.0.1"]
        app.state.scoring_inflight = 1  # the process is full
        shed = await client.get(f"/v3/scores/enwiki/{REV_IDS[0]}/")
        assert shed.status_code == 503
        assert shed.headers["retry-after"] == "5"
        assert shed.json()["error"]["code"] == "server overloaded"
        app.state.scoring_inflight = 0
        fine = await client.get(f"/v3/scores/enwiki/{REV_IDS[0]}/")
        assert fine.status_code == 200
        metrics = (await client.get("/metrics")).text
    assert 'wikiloom_refused_total{reason="client_limit"} 1.0' in metrics
    assert 'wikiloom_scores_total{source="computed",wiki="enwiki"} 1.0' in metrics
    assert "wikiloom_request_seconds_bucket" in metrics
