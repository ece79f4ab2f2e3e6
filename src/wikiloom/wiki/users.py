"""Users as a wiki knows them: groups, edit count, registration."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wikiloom.wiki.client import WikiClient

#: `list=users` takes at most 50 names per request (without the apihighlimits right).
BATCH = 50


@dataclass(frozen=True)
class WikiUser:
    """A user account on one wiki; `exists` is False for names the wiki does not know."""

    name: str
    user_id: int | None
    groups: tuple[str, ...]
    edit_count: int
    registration: str | None
    exists: bool


def user_name(name: str) -> str:
    """A user name as MediaWiki stores it: spaces for underscores, a capital first letter."""
    name = " ".join(name.replace("_", " ").split())
    return name[:1].upper() + name[1:]


async def fetch_users(client: WikiClient, wiki: str, names: Iterable[str]) -> dict[str, WikiUser]:
    """Look up users by name on a wiki, keyed by the names asked for."""
    found: dict[str, WikiUser] = {}
    unique = list(dict.fromkeys(names))
    for batch in (unique[i : i + BATCH] for i in range(0, len(unique), BATCH)):
        body = await client.get(
            wiki,
            {
                "action": "query",
                "list": "users",
                "ususers": "|".join(batch),
                "usprop": "groups|editcount|registration",
            },
        )
        query = body.get("query", {})
        by_name: dict[str, WikiUser] = {}
        for entry in query.get("users", []):
            exists = not (entry.get("missing") or entry.get("invalid"))
            by_name[str(entry["name"])] = WikiUser(
                name=str(entry["name"]),
                user_id=entry.get("userid") if exists else None,
                groups=tuple(entry.get("groups", ())),
                edit_count=int(entry.get("editcount") or 0),
                registration=entry.get("registration"),
                exists=exists,
            )
        for name in batch:
            canonical = user_name(name)
            found[name] = by_name.get(canonical) or WikiUser(canonical, None, (), 0, None, False)
    return found
