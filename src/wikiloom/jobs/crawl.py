"""The crawl job: a wiki's recent edits become a campaign's tasks, each revision once."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import BadRequest
from wikiloom.jobs.politeness import wait_for_turn
from wikiloom.jobs.runs import Run
from wikiloom.jobs.training import wiki_client
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.tables import Task
from wikiloom.labels.tasks import insert_tasks
from wikiloom.wiki.client import WikiClient

#: The most revisions one crawl takes (ten pages of `list=recentchanges`).
MAX_CRAWL = 5000
PAGE = 500


async def _recent_rev_ids(
    settings: Settings,
    factory: sessionmaker[Session],
    client: WikiClient,
    wiki: str,
    *,
    limit: int,
    namespaces: str | None,
    types: str,
) -> list[int]:
    rev_ids: list[int] = []
    params: dict[str, str | int] = {
        "action": "query",
        "list": "recentchanges",
        "rctype": types,
        "rcprop": "ids",
        "rclimit": min(PAGE, limit),
    }
    if namespaces is not None:
        params["rcnamespace"] = namespaces
    extra: dict[str, str] = {}
    while len(rev_ids) < limit:
        await asyncio.to_thread(wait_for_turn, factory, wiki, settings.wiki_job_interval)
        body = await client.get(wiki, {**params, **extra})
        rev_ids += [int(row["revid"]) for row in body.get("query", {}).get("recentchanges", [])]
        more = body.get("continue")
        if not more:
            break
        extra = {key: str(value) for key, value in more.items()}
    return list(dict.fromkeys(rev_ids))[:limit]


def crawl_recent_changes(
    settings: Settings,
    factory: sessionmaker[Session],
    campaign_id: int,
    *,
    limit: int = 500,
    namespaces: str | None = "0",
    types: str = "edit|new",
    client: WikiClient | None = None,
    run: Run | None = None,
) -> dict[str, Any]:
    """Add the campaign's wiki's newest edits as tasks `{"rev_id": N}`, skipping known ones.

    Nothing is stored until the whole crawl is in hand, then the new tasks and the run's
    end are committed together: a crawl delivered twice adds each revision once.
    """
    if not 1 <= limit <= MAX_CRAWL:
        raise BadRequest(f"a crawl takes 1 to {MAX_CRAWL} revisions, not {limit}")
    with transaction(factory) as session:
        wiki = get_campaign(session, campaign_id).wiki
    own = client is None
    client = client or wiki_client(settings)

    async def crawl() -> list[int]:
        try:
            return await _recent_rev_ids(
                settings, factory, client, wiki, limit=limit, namespaces=namespaces, types=types
            )
        finally:
            if own:
                await client.aclose()

    found = asyncio.run(crawl())
    with transaction(factory, write=True) as session:
        known = {
            data.get("rev_id")
            for data in session.scalars(select(Task.data).where(Task.campaign_id == campaign_id))
            if isinstance(data, dict)
        }
        new = [rev_id for rev_id in found if rev_id not in known]
        lines = (orjson.dumps({"rev_id": rev_id}) for rev_id in new)
        added = insert_tasks(session, campaign_id, lines) if new else 0
        result = {"wiki": wiki, "found": len(found), "added": added}
        if run is not None:
            run.finish(session, result)
    return result
