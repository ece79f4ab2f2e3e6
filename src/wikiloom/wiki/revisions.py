"""Revisions as wikiloom reads them, from the Action API or from XML dumps alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wikiloom.errors import (
    CommentDeleted,
    RevisionNotFound,
    RevisionProblem,
    TextDeleted,
    UserDeleted,
)
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.users import WikiUser, fetch_users


@dataclass(frozen=True)
class Revision:
    """One revision with what a model needs: its text, its parent's text and its editor.

    Hidden parts (revision deletion) are None: `text`, `comment`, `user_name`. `user_id`
    is 0 for an anonymous (IP) editor; `user` holds the editor's groups, registration and
    edit count where they were looked up (the Action API), else None (dumps).
    `parent_id` is 0 for a page creation, whose `parent_text` is then "".
    """

    wiki: str
    rev_id: int
    parent_id: int
    page_id: int
    namespace: int
    title: str
    timestamp: dt.datetime
    comment: str | None
    text: str | None
    parent_text: str | None
    user_name: str | None
    user_id: int | None
    minor: bool = False
    size: int | None = None
    sha1: str | None = None
    content_model: str = "wikitext"
    user: WikiUser | None = None

    @property
    def anonymous(self) -> bool:
        """Whether an IP address made the edit."""
        return self.user_id == 0


#: Revisions (with content) asked for per `prop=revisions` request.
BATCH = 50
RVPROP = "ids|timestamp|comment|user|userid|content|size|sha1|flags|contentmodel"


def parse_timestamp(value: str) -> dt.datetime:
    """A MediaWiki ISO 8601 timestamp as an aware UTC datetime."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


async def query_revisions(
    client: WikiClient, wiki: str, rev_ids: Sequence[int]
) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    """Fetch revisions with content by id as {rev_id: (page, revision)}; missing ids are absent."""
    found: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    unique = list(dict.fromkeys(rev_ids))
    for batch in (unique[i : i + BATCH] for i in range(0, len(unique), BATCH)):
        params = {
            "action": "query",
            "prop": "revisions",
            "revids": "|".join(str(rev_id) for rev_id in batch),
            "rvprop": RVPROP,
            "rvslots": "main",
        }
        async for body in client.continued(wiki, params):
            for page in body.get("query", {}).get("pages", []):
                for revision in page.get("revisions", []):
                    found[int(revision["revid"])] = (page, revision)
    return found


def content_of(revision: Mapping[str, Any]) -> tuple[str | None, str]:
    """The main slot's text (None where hidden) and content model of a revision."""
    slot = revision.get("slots", {}).get("main", {})
    model = str(slot.get("contentmodel", "wikitext"))
    if slot.get("texthidden") or "content" not in slot:
        return None, model
    return str(slot["content"]), model


async def fetch_revisions(
    client: WikiClient, wiki: str, rev_ids: Iterable[int]
) -> dict[int, Revision | RevisionProblem]:
    """Fetch revisions with their parents' texts and their editors, keyed by rev_id.

    Revisions that do not exist (or whose page was deleted) come back as `RevisionNotFound`,
    those whose text or parent's text is hidden as `TextDeleted`. A hidden comment or user
    leaves `comment` or `user_name`/`user_id` None and is for the caller to judge (see
    `hidden_problem`). Requests: one per 50 revisions, one per 50 parents not already
    fetched, one per 50 distinct named editors.
    """
    wanted = list(dict.fromkeys(rev_ids))
    found = await query_revisions(client, wiki, wanted)
    parent_ids = (
        {int(revision.get("parentid") or 0) for _, revision in found.values()} - {0} - set(found)
    )
    parents = await query_revisions(client, wiki, sorted(parent_ids))
    texts = {
        rev_id: content_of(revision)[0] for rev_id, (_, revision) in {**found, **parents}.items()
    }
    names = [
        str(revision["user"])
        for _, revision in found.values()
        if revision.get("user") and not revision.get("userhidden") and revision.get("userid")
    ]
    users = await fetch_users(client, wiki, names) if names else {}
    result: dict[int, Revision | RevisionProblem] = {}
    for rev_id in wanted:
        if rev_id not in found:
            result[rev_id] = RevisionNotFound(
                f"RevisionNotFound: Could not find revision ({{revision}}:{rev_id})", rev_id
            )
            continue
        page, revision = found[rev_id]
        text, model = content_of(revision)
        parent_id = int(revision.get("parentid") or 0)
        parent_text = texts.get(parent_id) if parent_id else ""
        if text is None or parent_text is None:
            result[rev_id] = TextDeleted(
                "TextDeleted: Text deleted (datasource.revision.text)", rev_id
            )
            continue
        hidden_user = bool(revision.get("userhidden"))
        name = None if hidden_user else revision.get("user")
        result[rev_id] = Revision(
            wiki=wiki,
            rev_id=rev_id,
            parent_id=parent_id,
            page_id=int(page["pageid"]),
            namespace=int(page["ns"]),
            title=str(page["title"]),
            timestamp=parse_timestamp(str(revision["timestamp"])),
            comment=None if revision.get("commenthidden") else str(revision.get("comment", "")),
            text=text,
            parent_text=parent_text,
            user_name=None if name is None else str(name),
            user_id=None if hidden_user else int(revision.get("userid") or 0),
            minor=bool(revision.get("minor")),
            size=revision.get("size"),
            sha1=None if revision.get("sha1hidden") else revision.get("sha1"),
            content_model=model,
            user=users.get(str(name)) if name is not None else None,
        )
    return result


def hidden_problem(revision: Revision) -> RevisionProblem | None:
    """The problem a model that needs the comment and the editor has with a revision."""
    if revision.comment is None:
        return CommentDeleted(
            "CommentDeleted: Comment deleted (datasource.revision.comment)", revision.rev_id
        )
    if revision.user_name is None:
        return UserDeleted("UserDeleted: User deleted ({revision.user})", revision.rev_id)
    return None
