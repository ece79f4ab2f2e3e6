"""The precache worker against the real wiki: new edits are scored once, paused models never."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.mediawiki import USER_AGENT, MediaWiki
from tests.support.models import SAMPLE, make_scorer, offline_client, register
from tests.wiki.conftest import client_of
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import BadRequest
from wikiloom.jobs.precache import run_precache
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.featurestore import get_vectors
from wikiloom.learn.governance import change_status
from wikiloom.learn.registry import TrainedModel, get_model, set_status
from wikiloom.scoring.cache import score_key
from wikiloom.scoring.precache import change_kinds, check_config, precache_stream
from wikiloom.scoring.scores import scorer_for
from wikiloom.wiki.events import WikiChange


def change(
    rev_id: int, *, parent: int | None = 1, namespace: int = 0, bot: bool = False
) -> WikiChange:
    return WikiChange(
        wiki="enwiki", rev_id=rev_id, parent_id=parent, page_id=1, namespace=namespace,
        title="Loom", user_text="X", bot=bot, kind="edit" if parent else "create",
        timestamp=dt.datetime(2015, 6, 1, tzinfo=dt.UTC), event_id=str(rev_id),
    )  # fmt: skip


def test_event_kinds_are_oreses() -> None:
    assert change_kinds(change(5)) == {"edit", "nonbot_edit", "main_edit"}
    assert change_kinds(change(5, namespace=1, bot=True)) == {"edit", "bot_edit"}
    assert change_kinds(change(5, parent=None)) == {
        "edit", "nonbot_edit", "main_edit", "page_creation", "nonbot_page_creation",
        "main_creation",
    }  # fmt: skip
    with pytest.raises(BadRequest, match=r"unknown events \['edits'\]"):
        check_config({"enwiki": {"damaging": ["edits"]}})


async def changes(*items: WikiChange) -> AsyncIterator[WikiChange]:
    for item in items:
        yield item


@pytest.mark.anyio
async def test_a_revision_is_scored_once_and_a_paused_model_not_at_all(
    sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    scorer = make_scorer(sessions)
    config = {"enwiki": {"reverted": ["main_edit"]}}
    stored = read_dataset(SAMPLE, "reverted").ids[:2]  # type: ignore[index]
    counts = await precache_stream(
        changes(change(stored[0]), change(stored[0]), change(stored[1], namespace=1)),
        scorer, config,
    )  # fmt: skip
    assert (counts.changes, counts.scored, counts.skipped) == (3, 1, 2)
    key = score_key("enwiki", "reverted", stored[0], "1.0")
    assert scorer.cache.get_many([key])[key]["score"]["probability"]
    with transaction(sessions, write=True) as session:
        set_status(session, get_model(session, "enwiki", "reverted"), "paused", actor="S",
                   reason="stop")  # fmt: skip
    paused = await precache_stream(changes(change(stored[1])), scorer, config)
    assert (paused.scored, paused.skipped) == (0, 1)


@pytest.mark.anyio
async def test_new_edits_of_the_real_wiki_are_polled_and_precached(
    settings: Settings,
    sessions: sessionmaker[Session],
    sample_trained: TrainedModel,
    mediawiki: MediaWiki,
) -> None:
    register(sessions, sample_trained, mediawiki.dbname)
    local = settings.model_copy(
        update={
            "user_agent": USER_AGENT,
            "wikis": {mediawiki.dbname: mediawiki.api_url},
            "precache": {mediawiki.dbname: {"reverted": ["edit"]}},
        }
    )
    await asyncio.sleep(1.1)  # no earlier edit shares the second the worker starts from
    since = dt.datetime.now(dt.UTC)
    scorer = make_scorer(sessions, lambda: client_of(mediawiki))
    worker = asyncio.create_task(
        run_precache(local, sessions, poll=[mediawiki.dbname], interval=0.2, since=since,
                     limit=2, scorer=scorer)
    )  # fmt: skip
    client = client_of(mediawiki)
    await client.login(mediawiki.dbname, mediawiki.bot.username, mediawiki.bot.password)
    title = f"Precache {uuid.uuid4().hex[:8]}"
    first = await client.edit(mediawiki.dbname, title, "A page about looms.", "create")
    await client.aclose()
    anonymous = client_of(mediawiki)  # not logged in: an edit by 127.0.0.1
    second = await anonymous.edit(mediawiki.dbname, title, "A page about LOOMS lol!!!!!", "")
    await anonymous.aclose()
    counts = await asyncio.wait_for(worker, timeout=30)
    assert (counts.changes, counts.scored) == (2, 2)
    keys = [score_key(mediawiki.dbname, "reverted", r["newrevid"], "1.0") for r in (first, second)]
    cached = scorer.cache.get_many(keys)
    assert set(cached) == set(keys)
    rev_ids = [first["newrevid"], second["newrevid"]]
    with transaction(sessions) as session:
        stored = get_vectors(session, mediawiki.dbname, rev_ids, "ores.enwiki.demo", 1)
    assert set(stored) == set(rev_ids)  # extracted once from the wiki, kept for the next time
    is_anon = 6  # revision.user.is_anon
    assert (stored[rev_ids[0]][is_anon], stored[rev_ids[1]][is_anon]) == (0.0, 1.0)


@pytest.mark.anyio
async def test_a_pause_stops_a_running_precache_at_the_next_change(
    settings: Settings, sessions: sessionmaker[Session], sample_trained: TrainedModel
) -> None:
    register(sessions, sample_trained, "enwiki")
    scorer = scorer_for(settings, sessions, offline_client)  # what `run_precache` makes
    config = {"enwiki": {"reverted": ["edit"]}}
    first, second, third = read_dataset(SAMPLE, "reverted").ids[:3]  # type: ignore[index,misc]

    def steward(status: str) -> None:
        with transaction(sessions, write=True) as session:
            model = get_model(session, "enwiki", "reverted")
            change_status(session, model, status, reason="tests", user_id=1, user_name="S",
                          may_decide=True)  # fmt: skip

    async def stream() -> AsyncIterator[WikiChange]:
        yield change(first)
        steward("paused")  # while the worker runs, between two events
        yield change(second)
        steward("active")
        yield change(third)

    counts = await precache_stream(stream(), scorer, config)
    assert (counts.changes, counts.scored, counts.skipped, counts.failed) == (3, 2, 1, 0)
    keys = {rev: score_key("enwiki", "reverted", rev, "1.0") for rev in (first, second, third)}
    assert set(scorer.cache.get_many(keys.values())) == {keys[first], keys[third]}
