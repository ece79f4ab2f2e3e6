"""Campaign requirements at the door: look the labeler up on the campaign's wiki.

The check happens inside the assignment's transaction, but the wiki is never asked there
(a slow wiki must not hold a transaction open): when the campaign has requirements and the
labeler is not remembered, the transaction gives up, the wiki is asked, and it runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from wikiloom.errors import Forbidden
from wikiloom.http.deps import in_transaction
from wikiloom.http.identity import session_user
from wikiloom.labels.requirements import check_eligible, requirements_of
from wikiloom.labels.tables import Campaign
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.users import WikiUser, fetch_users

T = TypeVar("T")


class LookupNeeded(Exception):
    """The labeler must be looked up on the campaign's wiki before going on."""


def wiki_client(request: Request) -> WikiClient:
    """The application's wiki client, made on first use (it needs a User-Agent)."""
    return app_wiki_client(request.app.state)


def app_wiki_client(state: Any) -> WikiClient:
    """The wiki client kept in an application's state, made on first use."""
    if state.wiki is None:
        settings = state.settings
        state.wiki = WikiClient(
            settings.user_agent, custom_wikis=settings.wikis, timeout=settings.wiki_timeout
        )
    client: WikiClient = state.wiki
    return client


def username(request: Request) -> str | None:
    """The session's username, the name a wiki knows the labeler by."""
    name = (session_user(request) or {}).get("name")
    return str(name) if name else None


async def lookup(request: Request, wiki: str, name: str) -> WikiUser:
    """Ask `wiki` about the user `name` and remember the answer for `wiki_user_ttl` seconds."""
    found = (await fetch_users(wiki_client(request), wiki, [name]))[name]
    request.app.state.wiki_users[wiki, name] = found
    return found


def check_campaign(request: Request, campaign: Campaign, known: WikiUser | None) -> None:
    """Refuse a labeler who lacks the groups or edits `campaign` requires on its wiki.

    `known` is the labeler as the wiki described them, if remembered; without it a campaign
    with requirements raises `LookupNeeded`.
    """
    requirements = requirements_of(campaign)
    if not requirements:
        return
    if username(request) is None:
        raise Forbidden(
            f"campaign_id={campaign.id} has requirements on {campaign.wiki}, and your session "
            "has no username to check them: log in again."
        )
    if known is None:
        raise LookupNeeded
    check_eligible(
        requirements,
        campaign_id=campaign.id,
        wiki=campaign.wiki,
        username=known.name,
        groups=known.groups,
        edit_count=known.edit_count,
    )


async def as_eligible(
    request: Request, wiki: str, work: Callable[[Session, WikiUser | None], T]
) -> T:
    """Run `work(session, known)` in a write transaction; look the labeler up on `wiki` and
    run it again if it needs them (see `check_campaign`)."""
    name = username(request)
    known: WikiUser | None = request.app.state.wiki_users.get((wiki, name)) if name else None
    try:
        return await in_transaction(request, lambda session: work(session, known), write=True)
    except LookupNeeded:
        found = await lookup(request, wiki, str(name))
        return await in_transaction(request, lambda session: work(session, found), write=True)
