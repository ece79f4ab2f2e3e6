"""The precache worker: read new revisions as they happen and score each one once.

The source is Wikimedia's EventStreams (server-sent events, resumed from the last event id)
or, for wikis without a stream (a local wiki, a private one), polling `list=recentchanges`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.jobs.training import wiki_client
from wikiloom.scoring.precache import PrecacheCounts, check_config, precache_stream
from wikiloom.scoring.scores import Scorer, scorer_for
from wikiloom.wiki.events import EVENTSTREAMS_URL, EventStream, RecentChangesPoller, WikiChange


async def _merged(sources: Sequence[AsyncIterator[WikiChange]]) -> AsyncIterator[WikiChange]:
    """The changes of several pollers, round after round."""
    import asyncio

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
