"""A stand-in for Wikibase (Structured Data on Commons) and CirrusSearch, as an httpx handler.

Debian's MediaWiki has neither WikibaseMediaInfo nor CirrusSearch, so the tests of
`wikiloom.wiki.wikibase` talk to this in-memory stand-in through `httpx.MockTransport`. It
checks every request against the documented shapes (wikivisage.md §5 and §6, the Action API
help of the Wikibase modules, WikibaseMediaInfo's JSON) and answers as those do:

* `meta=tokens&type=csrf` issues a CSRF token; `expire_token()` makes it stale (`badtoken`).
* `wbgetclaims` (`entity`, `property`): `{"claims": {"P180": [statement, ...]}}`.
* `wbeditentity` (POST, `token`, `id=M…`, `data` holding exactly one P180 item claim,
  `summary`, `bot`): `{"entity": {..., "statements": {...}, "lastrevid": N}, "success": 1}`;
  MediaInfo serialises statements under "statements", though `data` must say "claims".
* `wbremoveclaims` (POST, `token`, `claim=guid|guid`, `summary`, `bot`):
  `{"pageinfo": {"lastrevid": N}, "success": 1, "claims": [guid, ...]}`.
* `list=search` with `srsearch=haswbstatement:P…=Q…`, `srnamespace=6`, `srlimit`, `sroffset`,
  answered in formatversion 2 from the statements stored here.

API errors are answered as MediaWiki answers them: HTTP 200, a `MediaWiki-API-Error` header and
`{"error": {"code", "info"}}`; `refuse[kind] = (code, info)` forces one (kinds: the action, or
`tokens`, `search`). A request outside the documented contract (no User-Agent, not
`format=json`, an unknown action, a `data` of another shape, a blank summary) raises
`AssertionError`, failing the test loudly. Every request's parameters (with `maxlag`) are kept.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import httpx

WRITES = frozenset({"wbeditentity", "wbremoveclaims"})
MEDIA_ID = re.compile(r"M[1-9][0-9]*")
ITEM_ID = re.compile(r"Q[1-9][0-9]*")
GUID = re.compile(
    r"(M[1-9][0-9]*)\$[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}", re.I
)
SEARCH = re.compile(r"haswbstatement:(P[1-9][0-9]*)=(Q[1-9][0-9]*)")


class ApiError(Exception):
    """An error the real API would answer with an error code."""

    def __init__(self, code: str, info: str) -> None:
        super().__init__(code, info)
        self.code = code
        self.info = info


def check(condition: object, problem: str) -> None:
    """Fail the test loudly when a request breaks the documented contract."""
    if not condition:
        raise AssertionError(f"Wikibase stand-in: malformed request: {problem}")


def statement(page_id: int, property: str, qid: str) -> dict[str, Any]:
    """A statement of an item value, as Wikibase serialises it."""
    value = {"entity-type": "item", "numeric-id": int(qid[1:]), "id": qid}
    snak_hash = hashlib.sha1(json.dumps([property, value]).encode()).hexdigest()
    return {
        "mainsnak": {
            "snaktype": "value",
            "property": property,
            "hash": snak_hash,
            "datavalue": {"value": value, "type": "wikibase-entityid"},
        },
        "type": "statement",
        "id": f"M{page_id}${str(uuid.uuid4()).upper()}",
        "rank": "normal",
    }


def grouped(statements: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Statements keyed by property, in order."""
    by_property: dict[str, list[dict[str, Any]]] = {}
    for entry in statements:
        by_property.setdefault(entry["mainsnak"]["property"], []).append(entry)
    return by_property


class WikibaseStandin:
    """In-memory Commons: files (page_id → title) with their MediaInfo statements."""

    def __init__(self) -> None:
        self.titles: dict[int, str] = {}
        self.statements: dict[int, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.refuse: dict[str, tuple[str, str]] = {}
        self.errors: list[str] = []
        self.token = self.new_token()
        self.last_rev_id = 1000

    @staticmethod
    def new_token() -> str:
        """A CSRF token in MediaWiki's format."""
        return uuid.uuid4().hex + "+\\"

    def add_file(self, page_id: int, title: str, depicts: Iterable[str] = ()) -> None:
        """Store a file page with depicts statements for some items."""
        self.titles[page_id] = title
        self.statements[page_id] = [statement(page_id, "P180", qid) for qid in depicts]

    def depicts(self, page_id: int, property: str = "P180") -> list[str]:
        """The items of a file's stored depicts (or other) statements, in order."""
        values = grouped(self.statements[page_id]).get(property, [])
        return [entry["mainsnak"]["datavalue"]["value"]["id"] for entry in values]

    def expire_token(self) -> None:
        """Make the issued CSRF token stale: its next use answers `badtoken`."""
        self.token = self.new_token()

    def calls(self, kind: str) -> list[dict[str, str]]:
        """The parameters of every request of one kind (an action, `tokens` or `search`)."""
        return [params for _, params in self.requests if self.kind(params) == kind]

    @staticmethod
    def kind(params: dict[str, str]) -> str:
        """What a request asks for: its action, or `tokens`/`search` for `action=query`."""
        if params.get("action") != "query":
            return params.get("action", "")
        return "tokens" if params.get("meta") == "tokens" else "search"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        check(request.headers.get("User-Agent", "").strip(), "no User-Agent")
        query = dict(request.url.params)
        params = dict(query)
        check(request.method in ("GET", "POST"), f"method {request.method}")
        if request.method == "POST":
            form = request.headers.get("Content-Type", "") == "application/x-www-form-urlencoded"
            check(form, "a POST that is not form-encoded")
            params.update(parse_qsl(request.content.decode(), keep_blank_values=True))
        self.requests.append((request.method, params))
        check(params.get("format") == "json", f"format={params.get('format')}")
        check(params.get("maxlag", "0").lstrip("-").isdigit(), "maxlag is not a number")
        kind = self.kind(params)
        handlers = {
            "tokens": self.tokens,
            "search": self.search,
            "wbgetclaims": self.get_claims,
            "wbeditentity": self.edit_entity,
            "wbremoveclaims": self.remove_claims,
        }
        check(kind in handlers, f"unknown request {params}")
        try:
            if kind in self.refuse:
                raise ApiError(*self.refuse[kind])
            if kind in WRITES:
                if request.method != "POST":
                    raise ApiError("mustbeposted", f"The {kind} module requires a POST request.")
                if "token" in query:
                    raise ApiError("mustpostparams", "The token parameter was in the query string.")
                if params.get("token") != self.token:
                    raise ApiError("badtoken", "Invalid CSRF token.")
                check(params.get("summary", "").strip(), "a write without an edit summary")
                check(params.get("bot", "1") == "1", f"bot={params.get('bot')}")
            return httpx.Response(200, json=handlers[kind](params))
        except ApiError as error:
            self.errors.append(error.code)
            body = {"error": {"code": error.code, "info": error.info}}
            return httpx.Response(200, headers={"MediaWiki-API-Error": error.code}, json=body)

    def tokens(self, params: dict[str, str]) -> dict[str, Any]:
        check(params.get("type") == "csrf", f"token type {params.get('type')}")
        return {"batchcomplete": True, "query": {"tokens": {"csrftoken": self.token}}}

    def entity(self, entity_id: str) -> int:
        """The page_id of an existing media entity."""
        if not MEDIA_ID.fullmatch(entity_id):
            raise ApiError("invalid-entity-id", f'Invalid entity ID: "{entity_id}".')
        if int(entity_id[1:]) not in self.titles:
            raise ApiError("no-such-entity", f'Could not find an entity with the ID "{entity_id}".')
        return int(entity_id[1:])

    def get_claims(self, params: dict[str, str]) -> dict[str, Any]:
        check("entity" in params, "wbgetclaims without entity")
        by_property = grouped(self.statements[self.entity(params["entity"])])
        if "property" in params:
            check(re.fullmatch(r"P[1-9][0-9]*", params["property"]), "property id")
            return {"claims": {p: s for p, s in by_property.items() if p == params["property"]}}
        return {"claims": by_property}

    def edit_entity(self, params: dict[str, str]) -> dict[str, Any]:
        check("id" in params and "data" in params, "wbeditentity without id or data")
        page_id = self.entity(params["id"])
        try:
            data = json.loads(params["data"])
            qid = data["claims"][0]["mainsnak"]["datavalue"]["value"]["id"]
        except (ValueError, LookupError, TypeError) as error:
            raise AssertionError(f"data is not a claim: {params['data']}") from error
        check(isinstance(qid, str) and ITEM_ID.fullmatch(qid), f"item id {qid!r}")
        value = {"entity-type": "item", "numeric-id": int(qid[1:]), "id": qid}
        snak = {
            "snaktype": "value",
            "property": "P180",
            "datavalue": {"type": "wikibase-entityid", "value": value},
        }
        expected = {"claims": [{"mainsnak": snak, "type": "statement", "rank": "normal"}]}
        check(data == expected, f"data is not one P180 item claim: {params['data']}")
        self.statements[page_id].append(statement(page_id, "P180", qid))
        self.last_rev_id += 1
        entity = {
            "type": "mediainfo",
            "id": params["id"],
            "labels": {},
            "descriptions": {},
            "statements": grouped(self.statements[page_id]),
            "lastrevid": self.last_rev_id,
        }
        return {"entity": entity, "success": 1}

    def remove_claims(self, params: dict[str, str]) -> dict[str, Any]:
        guids = params.get("claim", "").split("|")
        matches = [GUID.fullmatch(guid) for guid in guids]
        if not all(matches):
            raise ApiError("invalid-guid", f"Invalid claim GUID in {params.get('claim')!r}.")
        entities = {match.group(1) for match in matches if match}
        check(len(entities) == 1, f"GUIDs of several entities: {guids}")
        page_id = self.entity(entities.pop())
        stored = {entry["id"] for entry in self.statements[page_id]}
        if missing := [guid for guid in guids if guid not in stored]:
            raise ApiError("no-such-claim", f"Could not find the statements {missing}.")
        self.statements[page_id] = [s for s in self.statements[page_id] if s["id"] not in guids]
        self.last_rev_id += 1
        return {"pageinfo": {"lastrevid": self.last_rev_id}, "success": 1, "claims": guids}

    def search(self, params: dict[str, str]) -> dict[str, Any]:
        check(params.get("list") == "search", f"unknown query {params}")
        check(params.get("formatversion") == "2", "search answers in formatversion 2")
        if not (match := SEARCH.fullmatch(params.get("srsearch", ""))):
            raise AssertionError(f"Wikibase stand-in: srsearch={params.get('srsearch')!r}")
        check(params.get("srnamespace") == "6", f"srnamespace={params.get('srnamespace')}")
        check(params.get("srprop", "") in ("", "size|wordcount|timestamp|snippet"), "srprop")
        limit, offset = int(params.get("srlimit", "10")), int(params.get("sroffset", "0"))
        check(0 < limit <= 500 and offset >= 0, f"srlimit={limit} sroffset={offset}")
        hits = [
            page_id
            for page_id in sorted(self.titles)
            if match.group(2) in self.depicts(page_id, match.group(1))
        ]
        page = hits[offset : offset + limit]
        found = [{"ns": 6, "title": self.titles[page_id], "pageid": page_id} for page_id in page]
        body: dict[str, Any] = {
            "batchcomplete": True,
            "query": {"searchinfo": {"totalhits": len(hits)}, "search": found},
        }
        if offset + limit < len(hits):
            body["continue"] = {"sroffset": offset + limit, "continue": "-||"}
        return body
