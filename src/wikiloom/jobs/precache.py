"""The precache worker: read new revisions as they happen and score each one once.

The source is Wikimedia's EventStreams (server-sent events, resumed from the last event id)
or, for wikis without a stream (a local wiki, a private one), polling `list=recentchanges`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.errors import BadRequest
from wikiloom.jobs.politeness import wait_for_turn
from wikiloom.jobs.training import wiki_client
from wikiloom.scoring.precache import PrecacheCounts, check_config, precache_stream
from wikiloom.scoring.scores import Scorer, ScoreRequest, scorer_for
from wikiloom.wiki.events import EVENTSTREAMS_URL, EventStream, RecentChangesPoller, WikiChange


async def _merged(sources: Sequence[AsyncIterator[WikiChange]]) -> AsyncIterator[WikiChange]:
    """The changes of several pollers, round after round."""
    queue: asyncio.Queue[WikiChange] = asyncio.Queue(maxsize=1000)

    async def pump(source: AsyncIterator[WikiChange]) -> None:
        async for change in source:
            await queue.put(change)

    tasks = [asyncio.create_task(pump(source)) for source in sources]
    try:
        while True:
            yield await queue.get()
    finally:
        for task in tasks:
            task.cancel()


async def run_precache(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    poll: Sequence[str] = (),
    stream_url: str = EVENTSTREAMS_URL,
    interval: float = 10.0,
    since: datetime | None = None,
    limit: int | None = None,
    scorer: Scorer | None = None,
) -> PrecacheCounts:
    """Precache new revisions of the configured wikis until stopped (or `limit` changes).

    With `poll`, those wikis' recent changes are polled every `interval` seconds (from
    `since`, else from now on); else the EventStreams at `stream_url` are read.
    """
    check_config(settings.precache)
    client = wiki_client(settings)
    engine = scorer or scorer_for(settings, factory, lambda: client)
    try:
        if poll:
            pollers = [
                RecentChangesPoller(client, wiki, since=since, interval=interval).changes()
                for wiki in poll
            ]
            changes = pollers[0] if len(pollers) == 1 else _merged(pollers)
        else:
            changes = EventStream(settings.user_agent, url=stream_url, attempts=None).changes()
        return await precache_stream(changes, engine, settings.precache, limit=limit)
    finally:
        await client.aclose()


async def precache_revisions(
    settings: Settings,
    factory: sessionmaker[Session],
    wiki: str,
    rev_ids: Sequence[int],
    *,
    models: Sequence[str] | None = None,
    scorer: Scorer | None = None,
) -> dict[str, Any]:
    """Score a batch of a wiki's revisions with its precached models (or `models`).

    Models not served on the wiki (paused, retired) are left out; scores land in the
    cache, so that running the batch again only reads them back.
    """
    if not rev_ids:
        raise BadRequest("a precache job needs at least one rev_id")
    wanted = list(models) if models is not None else sorted(settings.precache.get(wiki, {}))
    client = wiki_client(settings)
    engine = scorer or scorer_for(settings, factory, lambda: client)
    try:
        # The gate first: a model paused while this batch waited is not asked for.
        await asyncio.to_thread(wait_for_turn, factory, wiki, settings.wiki_job_interval)
        available = await engine.served(wiki)
        served = [name for name in wanted if name in available]
        if not served:
            return {"wiki": wiki, "scored": 0, "models": []}
        await engine.score(
            ScoreRequest(wiki, tuple(int(r) for r in rev_ids), models=tuple(served), precache=True)
        )
    finally:
        await client.aclose()
    return {"wiki": wiki, "scored": len(rev_ids), "models": served}
