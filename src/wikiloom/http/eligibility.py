"""Campaign requirements at the door: look the labeler up on the campaign's wiki."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from wikiloom.errors import Forbidden
from wikiloom.http.deps import in_transaction
from wikiloom.http.identity import session_user
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.requirements import Requirements, check_eligible, requirements_of
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.users import WikiUser, fetch_users


def wiki_client(request: Request) -> WikiClient:
    """The application's wiki client, made on first use (it needs a User-Agent)."""
    state = request.app.state
    if state.wiki is None:
        settings = state.settings
        state.wiki = WikiClient(
            settings.user_agent, custom_wikis=settings.wikis, timeout=settings.wiki_timeout
        )
    client: WikiClient = state.wiki
    return client


async def wiki_user(request: Request, wiki: str, name: str) -> WikiUser:
    """The user `name` on `wiki`, remembered for `wiki_user_ttl` seconds."""
    cache = request.app.state.wiki_users
    found: WikiUser | None = cache.get((wiki, name))
    if found is None:
        found = (await fetch_users(wiki_client(request), wiki, [name]))[name]
        cache[wiki, name] = found
    return found


async def ensure_eligible(request: Request, wiki: str, campaign_id: int) -> None:
    """Refuse a labeler who lacks the groups or edits the campaign requires on its wiki."""

    def load(session: Session) -> Requirements:
        return requirements_of(get_campaign(session, campaign_id, wiki))

    requirements = await in_transaction(request, load)
    if not requirements:
        return
    name = (session_user(request) or {}).get("name")
    if not name:
        raise Forbidden(
            f"campaign_id={campaign_id} has requirements on {wiki}, and your session has no "
            "username to check them: log in again."
        )
    found = await wiki_user(request, wiki, str(name))
    check_eligible(
        requirements,
        campaign_id=campaign_id,
        wiki=wiki,
        username=found.name,
        groups=found.groups,
        edit_count=found.edit_count,
    )
