"""Structured Data on Commons: depicts (P180) statements of MediaInfo entities, and their search.

Statements are read with `wbgetclaims`, added with `wbeditentity` and removed with
`wbremoveclaims` (wikivisage.md §6); files depicting an item are found with CirrusSearch's
`haswbstatement` keyword (§5). Wikibase errors surface as `WikiError` with Wikibase's code,
e.g. `no-such-entity`, `permissiondenied`, `badtoken` (after the one refresh), `readonly`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from wikiloom.errors import BadRequest, WikiError
from wikiloom.wiki.client import WikiClient

#: The "depicts" property.
DEPICTS = "P180"
#: The File namespace, where media live.
FILE_NAMESPACE = 6
#: Statement GUIDs per `wbremoveclaims` request (a multi-value parameter takes at most 50).
REMOVE_BATCH = 50
#: The largest `srlimit` without the apihighlimits right.
MAX_SEARCH_BATCH = 500

ITEM_ID = re.compile(r"Q[1-9][0-9]*")
PROPERTY_ID = re.compile(r"P[1-9][0-9]*")
ENTITY_ID = re.compile(r"[A-Z][1-9][0-9]*")


@dataclass(frozen=True)
class Statement:
    """A statement; `value_id` is its item (`Q42`), None for some value, no value or a non-item."""

    guid: str
    property: str
    value_id: str | None
    rank: str


@dataclass(frozen=True)
class DepictsResult:
    """A depicts statement of a file, and whether `add_depicts` made an edit (`rev_id`) for it."""

    statement: Statement
    edited: bool
    rev_id: int | None


def item_id(qid: str) -> str:
    """Return a Wikidata item id unchanged, or raise `BadRequest` naming it."""
    if not isinstance(qid, str) or not ITEM_ID.fullmatch(qid):
        raise BadRequest(f"Not a Wikidata item id (Q and a positive number): {qid!r}")
    return qid


def media_entity_id(page_id: int) -> str:
    """Return the MediaInfo entity id of a file page: `M` and its page_id."""
    if isinstance(page_id, bool) or not isinstance(page_id, int) or page_id <= 0:
        raise BadRequest(f"Not a page id (a positive integer): {page_id!r}")
    return f"M{page_id}"


def edit_summary(summary: str) -> str:
    """Return an edit summary unchanged, or raise `BadRequest` when it is blank."""
    if not isinstance(summary, str) or not summary.strip():
        raise BadRequest(f"Structured Data edits need an edit summary, not {summary!r}")
    return summary


def depicts_claim(qid: str) -> dict[str, Any]:
    """Build the `wbeditentity` claim of a new, normal-rank depicts statement for an item."""
    value = {"entity-type": "item", "numeric-id": int(qid[1:]), "id": qid}
    return {
        "mainsnak": {
            "snaktype": "value",
            "property": DEPICTS,
            "datavalue": {"type": "wikibase-entityid", "value": value},
        },
        "type": "statement",
        "rank": "normal",
    }


def parse_statement(data: Mapping[str, Any]) -> Statement:
    """Parse a statement as Wikibase serialises it (`id`, `mainsnak`, `rank`)."""
    snak = data.get("mainsnak", {})
    value_id: str | None = None
    datavalue = snak.get("datavalue", {}) if snak.get("snaktype") == "value" else {}
    value = datavalue.get("value")
    if datavalue.get("type") == "wikibase-entityid" and isinstance(value, Mapping):
        if "id" in value:
            value_id = str(value["id"])
        elif value.get("entity-type", "item") == "item" and "numeric-id" in value:
            value_id = f"Q{int(value['numeric-id'])}"
    return Statement(
        guid=str(data["id"]),
        property=str(snak.get("property", "")),
        value_id=value_id,
        rank=str(data.get("rank", "normal")),
    )


def statements_in(claims: object, property: str) -> list[Statement]:
    """Parse one property's statements out of a `claims` (or MediaInfo `statements`) map."""
    if not isinstance(claims, Mapping):  # MediaInfo serialises "no statements" as []
        return []
    return [parse_statement(entry) for entry in claims.get(property, [])]


async def get_claims(
    client: WikiClient, wiki: str, entity_id: str, property: str = DEPICTS
) -> list[Statement]:
    """Read an entity's statements for one property (`wbgetclaims`).

    An entity that does not exist (a wrong or deleted file's page id) raises `WikiError`
    with api_code `no-such-entity`.
    """
    if not isinstance(entity_id, str) or not ENTITY_ID.fullmatch(entity_id):
        raise BadRequest(f"Not a Wikibase entity id: {entity_id!r}")
    if not isinstance(property, str) or not PROPERTY_ID.fullmatch(property):
        raise BadRequest(f"Not a Wikibase property id: {property!r}")
    body = await client.get(
        wiki, {"action": "wbgetclaims", "entity": entity_id, "property": property}
    )
    return statements_in(body.get("claims"), property)


async def add_depicts(
    client: WikiClient, wiki: str, page_id: int, qid: str, summary: str, *, bot: bool = True
) -> DepictsResult:
    """Add a depicts statement for an item to a file, unless the file already has one."""
    entity = media_entity_id(page_id)
    item = item_id(qid)
    edit_summary(summary)
    for statement in await get_claims(client, wiki, entity, DEPICTS):
        if statement.value_id == item:
            return DepictsResult(statement, edited=False, rev_id=None)
    params: dict[str, str | int] = {
        "action": "wbeditentity",
        "id": entity,
        "data": json.dumps({"claims": [depicts_claim(item)]}, separators=(",", ":")),
        "summary": summary,
    }
    if bot:
        params["bot"] = 1
    body = await client.post_with_token(wiki, params)
    saved = body.get("entity", {})
    # MediaInfo answers its statements under "statements"; other entity types under "claims".
    stored = saved.get("statements", saved.get("claims"))
    for statement in statements_in(stored, DEPICTS):
        if statement.value_id == item:
            rev_id = saved.get("lastrevid")
            return DepictsResult(
                statement, edited=True, rev_id=None if rev_id is None else int(rev_id)
            )
    raise WikiError(f"{wiki} saved {entity} without a depicts statement for {item}", "unexpected")


async def remove_depicts(
    client: WikiClient, wiki: str, page_id: int, qid: str, summary: str, *, bot: bool = True
) -> tuple[str, ...]:
    """Remove a file's depicts statements for an item; return the removed GUIDs (none: no edit)."""
    entity = media_entity_id(page_id)
    item = item_id(qid)
    edit_summary(summary)
    statements = await get_claims(client, wiki, entity, DEPICTS)
    guids = [statement.guid for statement in statements if statement.value_id == item]
    removed: list[str] = []
    for start in range(0, len(guids), REMOVE_BATCH):
        params: dict[str, str | int] = {
            "action": "wbremoveclaims",
            "claim": "|".join(guids[start : start + REMOVE_BATCH]),
            "summary": summary,
        }
        if bot:
            params["bot"] = 1
        body = await client.post_with_token(wiki, params)
        removed.extend(str(guid) for guid in body.get("claims", []))
    return tuple(removed)


async def search_depicting(
    client: WikiClient, wiki: str, qid: str, *, limit: int | None = None, batch: int = 50
) -> AsyncIterator[tuple[int, str]]:
    """Yield (page_id, title) of files with a depicts statement for an item, at most `limit`.

    Searches `haswbstatement:P180=<QID>` in the File namespace, `batch` hits per request,
    following `sroffset` continuation; a file seen twice (the index moved) is yielded once.
    Bad arguments raise `BadRequest` at the first iteration, before any request.
    """
    item = item_id(qid)
    if isinstance(batch, bool) or not isinstance(batch, int) or not 0 < batch <= MAX_SEARCH_BATCH:
        raise BadRequest(f"A search batch is 1 to {MAX_SEARCH_BATCH} results, not {batch!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise BadRequest(f"A search limit is a number of results, not {limit!r}")
    if limit == 0:
        return
    params: dict[str, str | int] = {
        "action": "query",
        "list": "search",
        "srsearch": f"haswbstatement:{DEPICTS}={item}",
        "srnamespace": FILE_NAMESPACE,
        "srlimit": batch if limit is None else min(batch, limit),
        "srprop": "",
    }
    seen: set[int] = set()
    async for body in client.continued(wiki, params):
        for hit in body.get("query", {}).get("search", []):
            page_id = int(hit["pageid"])
            if page_id in seen:
                continue
            seen.add(page_id)
            yield page_id, str(hit["title"])
            if limit is not None and len(seen) >= limit:
                return
