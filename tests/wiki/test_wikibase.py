"""Depicts statements and Commons search, against a stand-in (`tests.support.wikibase`).

These tests run against a local Wikibase + CirrusSearch stand-in served by
`httpx.MockTransport`, because Debian's MediaWiki cannot serve Wikibase (WikibaseMediaInfo)
or CirrusSearch. The stand-in checks every request against the documented shapes and keeps
its statements, so the tests assert on what it stored, not only on what came back.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.wikibase import WikibaseStandin
from tests.wiki.conftest import AGENT
from wikiloom.errors import BadRequest, WikiError
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.wikibase import (
    Statement,
    add_depicts,
    depicts_claim,
    get_claims,
    media_entity_id,
    remove_depicts,
    search_depicting,
)

WIKI = "commonswiki"
SUMMARY = "wikiloom: Adding depicts (P180) claim for a face reviewed by a human"


@pytest.fixture
def standin() -> WikibaseStandin:
    commons = WikibaseStandin()
    commons.add_file(101, "File:Douglas adams portrait cropped.jpg", ["Q42", "Q5"])
    commons.add_file(102, "File:Unreviewed face.jpg")
    commons.add_file(103, "File:Two tags for one person.jpg", ["Q42", "Q7", "Q42"])
    return commons


@pytest.fixture
async def client(standin: WikibaseStandin) -> AsyncIterator[WikiClient]:
    wiki = WikiClient(
        AGENT,
        custom_wikis={WIKI: "http://commons.standin.invalid/w/api.php"},
        maxlag=5,
        transport=httpx.MockTransport(standin),
    )
    yield wiki
    await wiki.aclose()


@pytest.mark.anyio
async def test_claims_are_read_as_statements(client: WikiClient, standin: WikibaseStandin) -> None:
    standin.statements[101].append(
        {
            "mainsnak": {"snaktype": "somevalue", "property": "P180", "hash": "0" * 40},
            "type": "statement",
            "id": "M101$6B1D3E2A-6D1F-4B8E-9C1A-2F3E4D5C6B7A",
            "rank": "preferred",
        }
    )
    statements = await get_claims(client, WIKI, "M101")
    guids = [entry["id"] for entry in standin.statements[101]]
    assert statements == [
        Statement(guids[0], "P180", "Q42", "normal"),
        Statement(guids[1], "P180", "Q5", "normal"),
        Statement(guids[2], "P180", None, "preferred"),
    ]
    assert await get_claims(client, WIKI, "M102") == []
    assert [call["property"] for call in standin.calls("wbgetclaims")] == ["P180", "P180"]


@pytest.mark.anyio
async def test_depicts_is_added_once(client: WikiClient, standin: WikibaseStandin) -> None:
    first = await add_depicts(client, WIKI, 102, "Q42", SUMMARY)
    again = await add_depicts(client, WIKI, 102, "Q42", SUMMARY)
    assert standin.depicts(102) == ["Q42"]
    stored = standin.statements[102][0]
    assert first.edited
    assert first.rev_id == standin.last_rev_id
    assert first.statement == Statement(stored["id"], "P180", "Q42", "normal")
    assert not again.edited
    assert again.rev_id is None
    assert again.statement == first.statement
    [edit] = standin.calls("wbeditentity")
    assert (edit["id"], edit["summary"], edit["bot"], edit["maxlag"]) == ("M102", SUMMARY, "1", "5")
    assert len(standin.calls("tokens")) == 1
    assert standin.errors == []


@pytest.mark.anyio
async def test_an_existing_depicts_needs_no_token_and_no_edit(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    result = await add_depicts(client, WIKI, 101, "Q5", SUMMARY, bot=False)
    assert not result.edited
    assert result.statement.guid == standin.statements[101][1]["id"]
    assert standin.depicts(101) == ["Q42", "Q5"]
    assert [standin.kind(params) for _, params in standin.requests] == ["wbgetclaims"]


@pytest.mark.anyio
async def test_a_stale_token_is_refreshed_and_the_edit_made_once(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    await add_depicts(client, WIKI, 102, "Q1", SUMMARY)
    standin.expire_token()
    result = await add_depicts(client, WIKI, 102, "Q2", SUMMARY, bot=False)
    assert result.edited
    assert standin.depicts(102) == ["Q1", "Q2"]
    assert standin.errors == ["badtoken"]
    assert len(standin.calls("tokens")) == 2
    edits = standin.calls("wbeditentity")
    assert len(edits) == 3  # Q1, Q2 with the stale token, Q2 again
    assert edits[1]["token"] != edits[2]["token"] == standin.token
    assert "bot" not in edits[2]


@pytest.mark.anyio
async def test_depicts_statements_are_removed(client: WikiClient, standin: WikibaseStandin) -> None:
    guids = [entry["id"] for entry in standin.statements[103]]
    removed = await remove_depicts(client, WIKI, 103, "Q42", "Removing depicts (P180) for Q42")
    assert removed == (guids[0], guids[2])
    assert standin.depicts(103) == ["Q7"]
    [call] = standin.calls("wbremoveclaims")
    assert call["claim"] == f"{guids[0]}|{guids[2]}"
    assert (call["bot"], call["maxlag"], call["token"]) == ("1", "5", standin.token)


@pytest.mark.anyio
async def test_removing_what_is_not_there_writes_nothing(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    assert await remove_depicts(client, WIKI, 103, "Q99", SUMMARY) == ()
    assert standin.depicts(103) == ["Q42", "Q7", "Q42"]
    assert standin.calls("wbremoveclaims") == standin.calls("tokens") == []


@pytest.mark.anyio
async def test_search_follows_sroffset_and_counts_every_file(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    for page_id in range(1000, 1120):
        standin.add_file(page_id, f"File:Portrait {page_id}.jpg", ["Q42"])
    standin.add_file(2000, "File:Someone else.jpg", ["Q1"])
    found = [hit async for hit in search_depicting(client, WIKI, "Q42", batch=50)]
    expected = [(101, "File:Douglas adams portrait cropped.jpg")]
    expected += [(103, "File:Two tags for one person.jpg")]
    expected += [(page_id, f"File:Portrait {page_id}.jpg") for page_id in range(1000, 1120)]
    assert found == expected
    calls = standin.calls("search")
    assert [call.get("sroffset") for call in calls] == [None, "50", "100"]
    assert {(c["srsearch"], c["srnamespace"], c["srlimit"]) for c in calls} == {
        ("haswbstatement:P180=Q42", "6", "50")
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("limit", "batch", "requests"), [(70, 25, 3), (50, 25, 2), (10, 50, 1), (0, 50, 0)]
)
async def test_search_stops_at_its_limit(
    client: WikiClient, standin: WikibaseStandin, limit: int, batch: int, requests: int
) -> None:
    for page_id in range(1000, 1120):
        standin.add_file(page_id, f"File:Portrait {page_id}.jpg", ["Q42"])
    found = [hit async for hit in search_depicting(client, WIKI, "Q42", limit=limit, batch=batch)]
    assert [page_id for page_id, _ in found] == ([101, 103, *range(1000, 1120)])[:limit]
    assert len(standin.calls("search")) == requests
    assert {call["srlimit"] for call in standin.calls("search")} <= {str(min(limit, batch))}


@pytest.mark.anyio
async def test_search_finds_a_depicts_just_added(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    await add_depicts(client, WIKI, 102, "Q7", SUMMARY)
    found = [page_id async for page_id, _ in search_depicting(client, WIKI, "Q7")]
    assert found == [102, 103]


BAD_QIDS = ["q42", "Q0", "Q", "42", "Q42 ", "P180", "Q-1", "Q4|Q5", "Q042", ""]
BAD_PAGE_IDS: list[Any] = [0, -3, True, "12", 1.5, None]


@pytest.mark.anyio
@pytest.mark.parametrize("qid", BAD_QIDS)
async def test_bad_item_ids_are_refused_before_any_request(
    client: WikiClient, standin: WikibaseStandin, qid: str
) -> None:
    with pytest.raises(BadRequest, match=repr(qid).replace("|", r"\|")):
        await add_depicts(client, WIKI, 102, qid, SUMMARY)
    with pytest.raises(BadRequest, match="item id"):
        await remove_depicts(client, WIKI, 103, qid, SUMMARY)
    with pytest.raises(BadRequest, match="item id"):
        [hit async for hit in search_depicting(client, WIKI, qid)]
    assert standin.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("page_id", BAD_PAGE_IDS)
async def test_bad_page_ids_are_refused_before_any_request(
    client: WikiClient, standin: WikibaseStandin, page_id: Any
) -> None:
    with pytest.raises(BadRequest, match="page id"):
        media_entity_id(page_id)
    with pytest.raises(BadRequest, match=f"page id .*{page_id!r}"):
        await add_depicts(client, WIKI, page_id, "Q42", SUMMARY)
    with pytest.raises(BadRequest, match="page id"):
        await remove_depicts(client, WIKI, page_id, "Q42", SUMMARY)
    assert standin.requests == []


@pytest.mark.anyio
async def test_other_bad_arguments_are_refused_before_any_request(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    assert media_entity_id(123) == "M123"
    with pytest.raises(BadRequest, match="summary"):
        await add_depicts(client, WIKI, 102, "Q42", "  ")
    with pytest.raises(BadRequest, match="entity id"):
        await get_claims(client, WIKI, "M12|M13")
    with pytest.raises(BadRequest, match="property id"):
        await get_claims(client, WIKI, "M102", "p180")
    for options in ({"batch": 0}, {"batch": 501}, {"limit": -1}):
        with pytest.raises(BadRequest):
            [hit async for hit in search_depicting(client, WIKI, "Q42", **options)]
    assert standin.requests == []


@pytest.mark.anyio
async def test_wikibase_errors_raise_wiki_errors_with_their_code(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    with pytest.raises(WikiError) as missing:
        await get_claims(client, WIKI, "M999")
    assert missing.value.api_code == "no-such-entity"
    with pytest.raises(WikiError, match="no-such-entity"):
        await add_depicts(client, WIKI, 999, "Q42", SUMMARY)
    standin.refuse["wbeditentity"] = ("permissiondenied", "You may not edit this entity.")
    with pytest.raises(WikiError) as denied:
        await add_depicts(client, WIKI, 102, "Q42", SUMMARY)
    assert denied.value.api_code == "permissiondenied"
    assert standin.depicts(102) == []
    assert standin.last_rev_id == 1000
    assert standin.errors == ["no-such-entity", "no-such-entity", "permissiondenied"]


@pytest.mark.anyio
async def test_every_write_carries_maxlag(client: WikiClient, standin: WikibaseStandin) -> None:
    await add_depicts(client, WIKI, 102, "Q42", SUMMARY)
    await remove_depicts(client, WIKI, 101, "Q42", SUMMARY)
    writes = [p for m, p in standin.requests if m == "POST"]
    assert [(p["action"], p["maxlag"]) for p in writes] == [
        ("wbeditentity", "5"),
        ("wbremoveclaims", "5"),
    ]


@pytest.mark.anyio
async def test_the_stand_in_refuses_what_wikibase_would_not_take(
    client: WikiClient, standin: WikibaseStandin
) -> None:
    """The stand-in's checks themselves: an undocumented `data` fails, a GET write is refused."""
    claim = depicts_claim("Q42")
    del claim["mainsnak"]["datavalue"]["value"]["entity-type"]
    params: dict[str, str | int] = {"action": "wbeditentity", "id": "M102", "summary": SUMMARY}
    with pytest.raises(AssertionError, match="data is not one P180 item claim"):
        await client.post_with_token(WIKI, {**params, "data": json.dumps({"claims": [claim]})})
    good = json.dumps({"claims": [depicts_claim("Q42")]})
    with pytest.raises(WikiError, match="mustbeposted"):
        await client.get(WIKI, {**params, "data": good, "token": standin.token})
    unknown = f"M101${uuid.UUID(int=0)}"
    with pytest.raises(WikiError, match="no-such-claim"):
        await client.post_with_token(
            WIKI, {"action": "wbremoveclaims", "claim": unknown, "summary": SUMMARY}
        )
    assert standin.depicts(102) == []
    assert standin.depicts(101) == ["Q42", "Q5"]
