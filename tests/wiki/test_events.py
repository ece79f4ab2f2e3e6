"""EventStreams over SSE against a local stand-in server, and polling a real MediaWiki."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from tests.support.mediawiki import MediaWiki
from tests.wiki.conftest import AGENT
from wikiloom.errors import NotConfigured, WikiError, WikiUnavailable
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.events import EventStream, RecentChangesPoller, WikiChange, parse_change

TOPIC = "eqiad.mediawiki.page_change.v1"
FIXTURES = Path(__file__).parent.parent / "data" / "api_fixtures"


def page_change_event(rev_id: int, *, domain: str = "www.wikidata.org") -> dict[str, Any]:
    """An event shaped like shared/data/api_fixtures/sample_page_change_event.json."""
    editor = {
        "user_text": "Spain Up Your Life",
        "groups": ["*", "user"],
        "is_temp": False,
        "wiki_id": "wikidatawiki",
        "user_id": 8273563,
        "edit_count": 1,
        "registration_dt": "2026-06-08T08:54:30Z",
        "is_bot": False,
        "is_system": False,
        "user_central_id": 84664793,
    }
    return {
        "changelog_kind": "update",
        "page_change_kind": "edit",
        "dt": "2026-06-22T09:48:10Z",
        "wiki_id": "wikidatawiki",
        "page": {
            "page_id": 60683518,
            "page_title": "Q60828333",
            "namespace_id": 0,
            "is_redirect": False,
            "namespace_is_content": True,
        },
        "performer": editor,
        "revision": {
            "rev_id": rev_id,
            "rev_dt": "2026-06-22T09:48:10Z",
            "is_minor_edit": False,
            "rev_sha1": "pm4x865ric93o17o45s4ar6ko8z4awb",
            "rev_size": 4125,
            "rev_parent_id": rev_id - 1,
            "comment": "/* wbsetdescription-add:1|es */ Aceite de oliva español de Navarra",
            "is_content_visible": True,
            "is_editor_visible": True,
            "is_comment_visible": True,
            "editor": editor,
        },
        "prior_state": {"revision": {"rev_id": rev_id - 1, "rev_dt": "2023-05-07T17:56:00Z"}},
        "$schema": "/mediawiki/page/change/1.6.0",
        "meta": {
            "stream": "mediawiki.page_change.v1",
            "uri": "https://www.wikidata.org/wiki/Q60828333",
            "id": f"6bb5507e-90c9-47e4-a86c-{rev_id:012d}",
            "domain": domain,
            "dt": "2026-06-22T09:48:11.082Z",
            "topic": TOPIC,
            "partition": 0,
        },
    }


def revision_create_event() -> dict[str, Any]:
    """A mediawiki.revision-create event of a page creation (no parent)."""
    return {
        "$schema": "/mediawiki/revision/create/2.0.0",
        "meta": {"stream": "mediawiki.revision-create", "domain": "en.wikipedia.org"},
        "database": "enwiki",
        "page_id": 123,
        "page_title": "Talk:Weaving_loom",
        "page_namespace": 1,
        "rev_id": 9001,
        "rev_timestamp": "2026-06-22T09:48:10Z",
        "performer": {"user_text": "Tidybot", "user_is_bot": True, "user_groups": ["bot"]},
        "page_is_redirect": False,
    }


def recentchange_event(kind: str = "edit") -> dict[str, Any]:
    """A recentchange event as the public `recentchange` stream sends it."""
    return {
        "$schema": "/mediawiki/recentchange/1.0.0",
        "meta": {"stream": "mediawiki.recentchange", "domain": "en.wikipedia.org"},
        "type": kind,
        "namespace": 0,
        "title": "Weaving loom",
        "timestamp": 1782121690,
        "user": "192.0.2.7",
        "bot": False,
        "revision": {"old": 9001, "new": 9002},
        "wiki": "enwiki",
    }


def test_the_three_shapes_parse_into_one_record() -> None:
    change = parse_change({"event": page_change_event(2509134105)}, "id-1")
    assert change == WikiChange(
        wiki="wikidatawiki",
        rev_id=2509134105,
        parent_id=2509134104,
        page_id=60683518,
        namespace=0,
        title="Q60828333",
        user_text="Spain Up Your Life",
        bot=False,
        kind="edit",
        timestamp=datetime(2026, 6, 22, 9, 48, 10, tzinfo=UTC),
        event_id="id-1",
    )
    created = parse_change(revision_create_event())
    assert created is not None
    assert (created.wiki, created.rev_id, created.parent_id, created.kind) == (
        "enwiki",
        9001,
        None,
        "create",
    )
    assert (created.title, created.namespace, created.bot) == ("Talk:Weaving loom", 1, True)
    edited = parse_change(recentchange_event())
    assert edited is not None
    assert (edited.rev_id, edited.parent_id, edited.page_id, edited.kind) == (
        9002,
        9001,
        None,
        "edit",
    )
    assert edited.timestamp == datetime.fromtimestamp(1782121690, UTC)
    assert (edited.user_text, edited.bot) == ("192.0.2.7", False)


def test_the_captured_production_event_parses() -> None:
    captured = json.loads((FIXTURES / "sample_page_change_event.json").read_text())
    change = parse_change(captured, "captured")
    assert change is not None
    assert (change.wiki, change.page_id, change.title, change.kind) == (
        "wikidatawiki",
        60683518,
        "Q60828333",
        "edit",
    )
    revision = captured["event"]["revision"]
    assert (change.rev_id, change.parent_id) == (revision["rev_id"], revision["rev_parent_id"])
    assert (change.user_text, change.bot) == ("Spain Up Your Life", False)
    assert change.timestamp == datetime(2026, 6, 22, 9, 48, 10, tzinfo=UTC)


def test_canaries_logs_and_foreign_events_are_skipped() -> None:
    assert parse_change(page_change_event(5, domain="canary")) is None
    assert parse_change(recentchange_event("log")) is None
    assert parse_change({"$schema": "/mediawiki/page/delete/1.0.0", "meta": {}}) is None


def test_a_user_agent_is_required() -> None:
    with pytest.raises(NotConfigured):
        EventStream(" ")


def test_reconnect_delays_grow_from_the_servers_retry_and_are_bounded() -> None:
    stream = EventStream(AGENT, backoff=1.0, max_delay=5.0)
    assert [stream.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    stream.server_retry = 0.25
    assert [stream.delay(n) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]


def event_id(offset: int) -> str:
    """An SSE id as EventStreams sends it: Kafka topic, partition and offset."""
    return json.dumps([{"topic": TOPIC, "partition": 0, "offset": offset}])


@dataclass
class StandIn:
    """A stand-in for stream.wikimedia.org: replays `events` and drops connections on cue.

    Each connection starts after the event named by Last-Event-ID; the connection number `n`
    is cut abruptly (mid-event, without finishing the chunked body) after `drops[n]` events,
    or ended cleanly after `ends[n]` events.
    """

    events: list[dict[str, Any]]
    drops: dict[int, int] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)
    retry_ms: int = 20
    status: int = 200
    busy: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)

    async def stream(self, request: Request) -> StreamingResponse:
        connection = len(self.requests)
        self.requests.append(dict(request.headers) | {"path": request.url.path})
        if connection < self.busy:
            headers = {"Retry-After": "1"}
            return StreamingResponse(iter(["busy"]), status_code=503, headers=headers)
        last = request.headers.get("last-event-id")
        start = json.loads(last)[0]["offset"] + 1 if last else 0

        async def body() -> AsyncIterator[str]:
            yield f"retry: {self.retry_ms}\n\n"
            for sent, offset in enumerate(range(start, len(self.events))):
                data = json.dumps(self.events[offset])
                if sent == self.drops.get(connection):
                    yield f"event: message\nid: {event_id(offset)}\ndata: {data[:40]}"
                    raise ConnectionResetError("stand-in drops the connection")
                if sent == self.ends.get(connection):
                    return
                yield f"event: message\nid: {event_id(offset)}\ndata: {data}\n\n"
            await anyio.sleep(30)  # the real stream never ends

        return StreamingResponse(body(), status_code=self.status, media_type="text/event-stream")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start stand-ins with uvicorn on a free loopback port, in a background thread."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(stand_in: StandIn) -> str:
        app = Starlette(routes=[Route("/v2/stream/{streams}", stand_in.stream)])
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the stand-in did not start"
            time.sleep(0.01)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}/v2/stream"

    yield start
    for server, thread in servers:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)


async def take(stream: EventStream, count: int) -> list[WikiChange]:
    changes: list[WikiChange] = []
    with anyio.fail_after(15):
        async for change in stream.changes():
            changes.append(change)
            if len(changes) == count:
                break
    return changes


@pytest.mark.anyio
async def test_dropped_connections_resume_with_nothing_missed_or_repeated(serve: Any) -> None:
    events = [page_change_event(1000 + n) for n in range(12)]
    events[3] = page_change_event(99, domain="canary")
    events[6] = revision_create_event()
    events[9] = {"$schema": "/mediawiki/page/delete/1.0.0", "meta": {"domain": "x"}}
    stand_in = StandIn(events, drops={0: 4, 1: 3})
    url = serve(stand_in)
    # A huge backoff: reconnecting fast proves that the server's `retry:` is honoured.
    stream = EventStream(AGENT, ["mediawiki.page_change.v1"], url=url, backoff=60.0)
    started = time.monotonic()
    changes = await take(stream, 10)
    assert time.monotonic() - started < 10
    expected = [n for n in range(12) if n not in (3, 9)]
    assert [change.event_id for change in changes] == [event_id(n) for n in expected]
    assert [change.rev_id for change in changes if change.wiki == "wikidatawiki"] == [
        1000 + n for n in expected if n != 6
    ]
    assert changes[5].wiki == "enwiki"  # the revision-create event, in its place
    assert stream.last_event_id == event_id(11)
    assert stream.server_retry == 0.02
    sent = [request.get("last-event-id") for request in stand_in.requests]
    assert sent == [None, event_id(3), event_id(6)]
    assert {request["user-agent"] for request in stand_in.requests} == {AGENT}
    assert {request["path"] for request in stand_in.requests} == {
        "/v2/stream/mediawiki.page_change.v1"
    }


@pytest.mark.anyio
async def test_a_cleanly_ended_connection_is_reopened_where_it_stopped(serve: Any) -> None:
    stand_in = StandIn([page_change_event(1000 + n) for n in range(6)], ends={0: 2, 1: 0})
    stream = EventStream(AGENT, url=serve(stand_in), backoff=60.0)
    changes = await take(stream, 6)
    assert [change.rev_id for change in changes] == [1000 + n for n in range(6)]
    sent = [request.get("last-event-id") for request in stand_in.requests]
    assert sent == [None, event_id(1), event_id(1)]


@pytest.mark.anyio
async def test_an_overloaded_server_is_retried_after_its_retry_after(serve: Any) -> None:
    stand_in = StandIn([page_change_event(1000)], busy=1)
    stream = EventStream(AGENT, url=serve(stand_in), backoff=0.01)
    started = time.monotonic()
    changes = await take(stream, 1)
    assert time.monotonic() - started >= 1.0
    assert [change.rev_id for change in changes] == [1000]
    assert len(stand_in.requests) == 2


@pytest.mark.anyio
async def test_a_stream_resumes_from_a_remembered_event_id(serve: Any) -> None:
    events = [page_change_event(1000 + n) for n in range(5)]
    stand_in = StandIn(events)
    url = serve(stand_in)
    stream = EventStream(AGENT, url=url, last_event_id=event_id(2))
    changes = await take(stream, 2)
    assert [change.rev_id for change in changes] == [1003, 1004]
    assert stand_in.requests[0]["last-event-id"] == event_id(2)


@pytest.mark.anyio
async def test_an_unreachable_stream_gives_up_after_the_configured_attempts() -> None:
    stream = EventStream(AGENT, url="http://127.0.0.1:9/v2/stream", backoff=0.01, attempts=3)
    with anyio.fail_after(10), pytest.raises(WikiUnavailable):
        await take(stream, 1)
    assert stream.connections == 3


@pytest.mark.anyio
async def test_an_unknown_stream_is_an_error_not_a_retry(serve: Any) -> None:
    url = serve(StandIn([], status=404))
    stream = EventStream(AGENT, ["no.such.stream"], url=url, backoff=0.01)
    with anyio.fail_after(10), pytest.raises(WikiError) as raised:
        await take(stream, 1)
    assert raised.value.api_code == "404"


def edit(wiki: MediaWiki, title: str, text: str) -> None:
    wiki.maintenance("edit.php", "--user", "Admin", "--summary", "events test", title, stdin=text)


@pytest.mark.anyio
async def test_polling_recentchanges_yields_each_new_change_once(mediawiki: MediaWiki) -> None:
    client = WikiClient(AGENT, custom_wikis={mediawiki.dbname: mediawiki.api_url})
    title = f"Events poll test {time.monotonic_ns()}"
    try:
        poller = RecentChangesPoller(client, mediawiki.dbname, limit=1)
        assert await poller.poll() == []  # primes at the newest change
        edit(mediawiki, title, "First version of a page about looms.")
        edit(mediawiki, title, "Second version of a page about looms, longer.")
        first = [change for change in await poller.poll() if change.title == title]
        assert [change.kind for change in first] == ["create", "edit"]
        assert first[0].parent_id is None
        assert first[1].parent_id == first[0].rev_id
        assert first[0].page_id == first[1].page_id
        assert (first[1].user_text, first[1].wiki, first[1].namespace) == (
            "Admin",
            mediawiki.dbname,
            0,
        )
        assert [change for change in await poller.poll() if change.title == title] == []
        edit(mediawiki, title, "Third version.")
        again = [change for change in await poller.poll() if change.title == title]
        assert [change.parent_id for change in again] == [first[1].rev_id]
        assert poller.last_rcid == int(again[0].event_id)
    finally:
        await client.aclose()
