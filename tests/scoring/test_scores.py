"""Scoring on every engine: store, wiki, cache, one computation for concurrent requests."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.mediawiki import MediaWiki
from tests.support.models import SAMPLE, make_scorer, offline_client, register
from tests.wiki.conftest import client_of
from wikiloom.db import transaction
from wikiloom.errors import ModelNotServed, NotFound
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.registry import TrainedModel, get_model, set_status
from wikiloom.scoring.cache import MemoryScoreCache
from wikiloom.scoring.loaded import ModelPool, WikiModels, pick
from wikiloom.scoring.scores import Scorer, ScoreRequest, score_doc

DATASET = read_dataset(SAMPLE, "reverted")
STORED = DATASET.ids[:5]  # type: ignore[index]


def test_a_score_document_is_oreses() -> None:
    assert score_doc([False, True], [0.25, 0.75]) == {
        "prediction": True, "probability": {"false": 0.25, "true": 0.75},
    }  # fmt: skip
    assert score_doc(["B", "FA", "Stub"], [0.2, 0.7, 0.1])["prediction"] == "FA"


@pytest.mark.anyio
async def test_stored_features_score_offline_and_the_cache_answers_next(
    sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    scorer = make_scorer(sessions)
    first = await scorer.score(ScoreRequest("enwiki", tuple(STORED)))
    assert (first.cached, first.computed) == (0, 5)
    assert [model.name for model in first.models] == ["reverted"]
    expected = sample_trained.estimator.predict_proba(DATASET.X[:5])[:, 1]
    for rev_id, p in zip(STORED, expected, strict=True):
        score = first.scores[rev_id]["reverted"]["score"]
        assert score["probability"]["true"] == pytest.approx(p)
        assert score["prediction"] is bool(p > 0.5)
    again = await scorer.score(ScoreRequest("enwiki", tuple(STORED)))
    assert (again.cached, again.computed) == (5, 0)
    assert again.scores == first.scores
    riskiest = DATASET.ids[int(sample_trained.estimator.predict_proba(DATASET.X)[:, 1].argmax())]  # type: ignore[index]
    explained = await scorer.score(ScoreRequest("enwiki", (riskiest,), features=True))
    doc = explained.scores[riskiest]["reverted"]
    assert explained.computed == 1  # features are never served from the cache
    assert set(doc["features"]) == {f"feature.{name}" for name in DATASET.features}
    assert 0 < len(doc["explanation"]) <= 5
    assert all(item["feature"] in doc["features"] for item in doc["explanation"])


@pytest.mark.anyio
async def test_injected_values_change_the_score_and_are_cached_apart(
    sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    scorer = make_scorer(sessions)
    rev_id = STORED[0]
    plain = await scorer.score(ScoreRequest("enwiki", (rev_id,)))
    injected = await scorer.score(
        ScoreRequest(
            "enwiki", (rev_id,),
            inject={rev_id: {"feature.english.informals.revision.diff.match_prop_delta_sum": 9,
                             "feature.revision.user.is_anon": 1}},
        )
    )  # fmt: skip
    a = plain.scores[rev_id]["reverted"]["score"]["probability"]["true"]
    b = injected.scores[rev_id]["reverted"]["score"]["probability"]["true"]
    assert b != a
    after = await scorer.score(ScoreRequest("enwiki", (rev_id,)))
    assert after.scores[rev_id]["reverted"]["score"]["probability"]["true"] == a


@pytest.mark.anyio
async def test_unknown_wikis_models_and_paused_models_are_not_served(
    sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    scorer = make_scorer(sessions)
    with pytest.raises(NotFound, match="No scorers available for frwiki"):
        await scorer.score(ScoreRequest("frwiki", (1,)))
    with pytest.raises(NotFound, match=r"Models \('damaging',\) not available for enwiki"):
        await scorer.score(ScoreRequest("enwiki", (1,), models=("damaging",)))
    with transaction(sessions, write=True) as session:
        model = get_model(session, "enwiki", "reverted")
        set_status(session, model, "paused", actor="Steward", reason="false positives")
    with pytest.raises(NotFound, match="No scorers available for enwiki"):
        await scorer.score(ScoreRequest("enwiki", tuple(STORED)))


@pytest.mark.anyio
async def test_missing_features_come_from_the_real_wiki_once_for_concurrent_requests(
    sessions: sessionmaker[Session], sample_trained: TrainedModel, mediawiki: MediaWiki
) -> None:
    register(sessions, sample_trained, mediawiki.dbname)
    client = client_of(mediawiki)
    scorer = make_scorer(sessions, lambda: client)
    loom = [revision.rev_id for revision in mediawiki.pages["Loom"].revisions]
    wanted = (*loom, 999_999_999)
    # Resolved once before: each request's own state lookup is a thread hop, after which a
    # loaded machine may start the second only when the first is done (no longer concurrent).
    models = await scorer.resolve(mediawiki.dbname, None)
    first, second = await asyncio.gather(
        scorer.score(ScoreRequest(mediawiki.dbname, wanted), models),
        scorer.score(ScoreRequest(mediawiki.dbname, wanted), models),
    )
    assert client.requests == 2  # the revisions (parents among them), the editors: once
    assert first.scores == second.scores
    assert sorted((first.computed, second.computed)) == [0, len(wanted)]  # one waited
    missing = first.scores[999_999_999]["reverted"]
    assert missing == {"error": {"type": "RevisionNotFound", "message":
        "RevisionNotFound: Could not find revision ({revision}:999999999)"}}  # fmt: skip
    vandalism = next(r.rev_id for r in mediawiki.pages["Loom"].revisions if r.damaging)
    p = {rev: first.scores[rev]["reverted"]["score"]["probability"]["true"] for rev in loom}
    assert p[vandalism] == max(p.values())
    client.requests = 0
    later = await make_scorer(sessions, lambda: client).score(
        ScoreRequest(mediawiki.dbname, wanted)
    )
    assert client.requests == 1  # the features were stored: only the deleted one is asked again
    assert later.scores[loom[0]] == first.scores[loom[0]]
    await client.aclose()


@pytest.mark.anyio
async def test_a_pause_is_seen_by_the_next_request_of_every_scorer_cached_scores_too(
    sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    # The production pool (no state TTL); two scorers stand for two processes.
    first, second = (
        Scorer(ModelPool(sessions), MemoryScoreCache(), sessions, offline_client) for _ in range(2)
    )
    request = ScoreRequest("enwiki", tuple(STORED))
    warm = await first.score(request)
    assert (await second.score(request)).computed == warm.computed == len(STORED)
    assert (await first.score(request)).cached == len(STORED)
    with transaction(sessions, write=True) as session:
        set_status(session, get_model(session, "enwiki", "reverted"), "paused", actor="S",
                   reason="false positives")  # fmt: skip
    for scorer in (first, second):
        with pytest.raises(ModelNotServed, match="'reverted' is paused on enwiki") as refused:
            await scorer.score(ScoreRequest("enwiki", tuple(STORED), models=("reverted",)))
        assert refused.value.state == "paused"
        with pytest.raises(ModelNotServed, match="No scorers available for enwiki: reverted is"):
            await scorer.score(request)  # the cache still holds the scores: not served
        found = await scorer.models("enwiki")
        assert (found.served, found.held) == ({}, {"reverted": "paused"})
    with transaction(sessions, write=True) as session:
        set_status(session, get_model(session, "enwiki", "reverted"), "active", actor="S",
                   reason="fixed")  # fmt: skip
    again = await first.score(request)
    assert again.cached == len(STORED)
    assert again.scores == warm.scores


def test_a_model_held_back_says_why_and_where_the_log_is() -> None:
    found = WikiModels(
        "enwiki", {}, {"a": "paused", "b": "retired", "c": "proposed", "d": "active"}
    )
    messages = {}
    for name in "abcd":
        with pytest.raises(ModelNotServed) as refused:
            pick(found, [name])
        messages[name] = refused.value.message
    log = "Why is in the audit log: /audit/enwiki/?model="
    assert messages == {
        "a": f"The model 'a' is paused on enwiki: it answers no scores there until it is "
        f"resumed. {log}a",
        "b": f"The model 'b' is retired on enwiki: it answers no scores there any more. {log}b",
        "c": f"The model 'c' is proposed on enwiki and not served there yet. {log}c",
        "d": f"The model 'd' has no version to serve on enwiki yet. {log}d",
    }
    with pytest.raises(NotFound, match=r"^Models \('e',\) not available for enwiki$"):
        pick(found, ["e"])
    with pytest.raises(NotFound, match=r"^No scorers available for frwiki$"):
        pick(WikiModels("frwiki", {}), None)
