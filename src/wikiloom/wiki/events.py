"""Changes to wikis as they happen: Wikimedia EventStreams (SSE), or polling recentchanges."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from httpx_sse import SSEError, aconnect_sse

from wikiloom.errors import BadRequest, NotConfigured, WikiError, WikiUnavailable
from wikiloom.wiki.client import WikiClient

log = logging.getLogger(__name__)

#: Where Wikimedia serves its public event streams; the stream names follow, comma-separated.
EVENTSTREAMS_URL = "https://stream.wikimedia.org/v2/stream"
#: The streams a scorer of new edits reads (any subset works; every shape below is parsed).
DEFAULT_STREAMS = ("mediawiki.page_change.v1",)
#: HTTP statuses after which reconnecting may succeed.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: recentchange `type` -> our change kind; other types (log, categorize, external) are skipped.
RC_KINDS = {"edit": "edit", "new": "create"}
RC_PROPS = "ids|title|timestamp|user|flags|sizes|comment"


@dataclass(frozen=True, slots=True)
class WikiChange:
    """One change to a page: a new revision, or what page_change reports (move, delete…).

    `kind` is `edit` or `create` for new revisions, else page_change's `page_change_kind`.
    `title` is the full title with spaces (`Talk:Main Page`). `page_id` is None where the
    source omits it (the recentchange stream). `event_id` resumes the source after this change:
    the SSE event id for streams, the rcid for polling.
    """

    wiki: str
    rev_id: int
    parent_id: int | None
    page_id: int | None
    namespace: int
    title: str
    user_text: str
    bot: bool
    kind: str
    timestamp: datetime
    event_id: str


class MalformedEvent(BadRequest, ValueError):
    """An event of a known schema lacks a field, or has one of the wrong type."""


#: What reading a malformed event raises in the readers below (a missing key, a list where a
#: mapping belongs, a number out of range for a date...).
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError)


def parse_change(data: Mapping[str, Any], event_id: str = "") -> WikiChange | None:
    """Read a recentchange, revision-create or page_change event; None for anything else.

    Canary events (`meta.domain == "canary"`) and changes without a revision are None too.
    A ChangeProp envelope `{"event": {...}}` is unwrapped. An event of a known schema that
    lacks a field, or has one of the wrong type, raises MalformedEvent naming it.
    """
    try:
        return _parse_change(data, event_id)
    except MalformedEvent:
        raise
    except _MALFORMED as error:
        at = f" {event_id}" if event_id else ""
        what = f"missing {error}" if isinstance(error, KeyError) else f"{error}"
        raise MalformedEvent(f"malformed event{at}: {what}"[:500]) from None


def read_event(text: str, event_id: str = "") -> WikiChange | None:
    """Read one SSE `data` payload: its change, None for a foreign event, or MalformedEvent."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise MalformedEvent(f"malformed event {event_id}: not JSON: {error}") from None
    if not isinstance(data, dict):
        raise MalformedEvent(f"malformed event {event_id}: not a JSON object")
    return parse_change(data, event_id)


def _parse_change(data: Mapping[str, Any], event_id: str) -> WikiChange | None:
    if set(data) == {"event"} and isinstance(data["event"], Mapping):
        data = data["event"]
    meta = data.get("meta") or {}
    if meta.get("domain") == "canary":
        return None
    schema = str(data.get("$schema", ""))
    stream = str(meta.get("stream", ""))
    if schema.startswith("/mediawiki/page/change/") or "page_change" in stream:
        return page_change(data, event_id)
    if schema.startswith("/mediawiki/revision/create/") or stream.endswith("revision-create"):
        return revision_create(data, event_id)
    if schema.startswith("/mediawiki/recentchange/") or stream.endswith("recentchange"):
        return recent_change(data, event_id)
    return None


def page_change(data: Mapping[str, Any], event_id: str) -> WikiChange | None:
    """Read a mediawiki.page_change.v1 event (schema /mediawiki/page/change/1.x)."""
    page, revision = data.get("page") or {}, data.get("revision") or {}
    if "rev_id" not in revision:
        return None
    performer = data.get("performer") or revision.get("editor") or {}
    return WikiChange(
        wiki=str(data["wiki_id"]),
        rev_id=int(revision["rev_id"]),
        parent_id=optional_int(revision.get("rev_parent_id")),
        page_id=int(page["page_id"]),
        namespace=int(page["namespace_id"]),
        title=str(page["page_title"]).replace("_", " "),
        user_text=str(performer.get("user_text", "")),
        bot=bool(performer.get("is_bot", False)),
        kind=str(data.get("page_change_kind", "edit")),
        timestamp=parse_time(revision.get("rev_dt") or data["dt"]),
        event_id=event_id,
    )


def revision_create(data: Mapping[str, Any], event_id: str) -> WikiChange:
    """Read a mediawiki.revision-create event (schema /mediawiki/revision/create/1.x or 2.x)."""
    performer = data.get("performer") or {}
    parent_id = optional_int(data.get("rev_parent_id"))
    return WikiChange(
        wiki=str(data["database"]),
        rev_id=int(data["rev_id"]),
        parent_id=parent_id,
        page_id=int(data["page_id"]),
        namespace=int(data["page_namespace"]),
        title=str(data["page_title"]).replace("_", " "),
        user_text=str(performer.get("user_text", "")),
        bot=bool(performer.get("user_is_bot", False)),
        kind="edit" if parent_id else "create",
        timestamp=parse_time(data["rev_timestamp"]),
        event_id=event_id,
    )


def recent_change(data: Mapping[str, Any], event_id: str) -> WikiChange | None:
    """Read a recentchange event (schema /mediawiki/recentchange/1.0.0); edits and new pages."""
    kind = RC_KINDS.get(str(data.get("type")))
    revision = data.get("revision") or {}
    if kind is None or "new" not in revision:
        return None
    return WikiChange(
        wiki=str(data["wiki"]),
        rev_id=int(revision["new"]),
        parent_id=optional_int(revision.get("old")),
        page_id=None,
        namespace=int(data["namespace"]),
        title=str(data["title"]),
        user_text=str(data.get("user", "")),
        bot=bool(data.get("bot", False)),
        kind=kind,
        timestamp=datetime.fromtimestamp(int(data["timestamp"]), UTC),
        event_id=event_id,
    )


def optional_int(value: Any) -> int | None:
    """An id, or None for a missing one (MediaWiki's 0 means "none" too)."""
    return int(value) if value else None


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp (`2026-06-22T09:48:10Z`) as an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class EventStream:
    """Consumes Wikimedia EventStreams (server-sent events) as `WikiChange`s.

    The id of the last event read is kept in `last_event_id` (pass it back in to resume
    after a restart). A dropped or ended connection is reopened with `Last-Event-ID`, so
    nothing is missed or repeated; the wait before reconnecting starts at the server's
    `retry:` (else `backoff` seconds), doubles after each consecutive failed connection up
    to `max_delay` (a 429/503's Retry-After is waited too, up to `max_delay`), and after
    `attempts` failures in a row without an event `WikiUnavailable` is raised
    (`attempts=None` retries forever).
    """

    def __init__(
        self,
        user_agent: str | None,
        streams: Sequence[str] = DEFAULT_STREAMS,
        *,
        url: str = EVENTSTREAMS_URL,
        last_event_id: str | None = None,
        backoff: float = 1.0,
        max_delay: float = 60.0,
        attempts: int | None = 10,
        timeout: float = 60.0,
    ) -> None:
        if not user_agent or not user_agent.strip():
            raise NotConfigured(
                "Calls to wikis need a descriptive User-Agent: set WIKILOOM_USER_AGENT "
                "(the tool's name and a contact)."
            )
        if not streams:
            raise ValueError("name at least one stream")
        self.user_agent = user_agent
        self.url = f"{url.rstrip('/')}/{','.join(streams)}"
        self.last_event_id = last_event_id
        self.backoff = backoff
        self.max_delay = max_delay
        self.attempts = attempts
        self.timeout = timeout
        #: Reconnection time in seconds the server asked for with `retry:`, if it did.
        self.server_retry: float | None = None
        #: Seconds a 429/503 answer's Retry-After asked for, used once by the next wait.
        self.retry_after = 0.0
        #: Connections opened so far, for callers and tests that count them.
        self.connections = 0

    def delay(self, failures: int) -> float:
        """Seconds to wait before reconnecting after `failures` failures in a row (≥ 1)."""
        base = self.backoff if self.server_retry is None else self.server_retry
        return min(base * 2.0 ** (failures - 1), self.max_delay)

    async def changes(self) -> AsyncIterator[WikiChange]:
        """Yield every change of the streams, reconnecting as needed; runs until closed."""
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
        headers = {"User-Agent": self.user_agent}
        async with httpx.AsyncClient(headers=headers, timeout=timeout) as http:
            failures = 0
            while True:
                read_any = False
                try:
                    async with aclosing(self.connect(http)) as events:
                        async for change in events:
                            read_any = True
                            if change is not None:
                                yield change
                except (httpx.TransportError, SSEError):
                    pass
                failures = 0 if read_any else failures + 1
                if self.attempts is not None and failures >= self.attempts:
                    raise WikiUnavailable(f"{self.url} failed {failures} times in a row")
                wait = max(self.delay(max(failures, 1)), min(self.retry_after, self.max_delay))
                self.retry_after = 0.0
                await asyncio.sleep(wait)

    async def connect(self, http: httpx.AsyncClient) -> AsyncGenerator[WikiChange | None]:
        """Open one connection and yield its changes (None for a skipped event) until it ends."""
        resumed_from = self.last_event_id
        headers = {"Last-Event-ID": resumed_from} if resumed_from else {}
        first = True
        self.connections += 1
        async with aconnect_sse(http, "GET", self.url, headers=headers) as source:
            status = source.response.status_code
            if status in RETRYABLE_STATUSES:
                seconds = source.response.headers.get("Retry-After", "").strip()
                self.retry_after = float(seconds) if seconds.isdigit() else 0.0
                raise httpx.TransportError(f"{self.url} answered HTTP {status}")
            if status != 200:
                raise WikiError(f"{self.url} answered HTTP {status}", str(status))
            async for sse in source.aiter_sse():
                if sse.retry is not None:
                    self.server_retry = sse.retry / 1000.0
                if not sse.data or sse.event != "message":
                    continue
                if first and sse.id and sse.id == resumed_from:
                    continue  # a server resuming inclusively: this one was read already
                first = False
                try:
                    change = read_event(sse.data, sse.id)
                except MalformedEvent as error:  # skipped like a foreign one, but said
                    log.warning("%s: skipped: %s", self.url, error.message)
                    change = None
                if sse.id:
                    self.last_event_id = sse.id
                yield change


class RecentChangesPoller:
    """Polls `list=recentchanges` of one wiki: the fallback when EventStreams is unreachable.

    Edits and page creations come out oldest first, each once: the poller remembers the
    timestamp of the newest change seen and the rcids seen at that timestamp, and asks from
    there on. Without `since` it starts at the wiki's newest change (so yields only newer ones).
    """

    def __init__(
        self,
        client: WikiClient,
        wiki: str,
        *,
        since: datetime | None = None,
        interval: float = 10.0,
        limit: int | str = "max",
    ) -> None:
        self.client = client
        self.wiki = wiki
        self.interval = interval
        self.limit = limit
        #: Timestamp of the newest change seen (MediaWiki ISO form), None before priming.
        self.last_timestamp: str | None = (
            since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if since else None
        )
        #: rcids already seen at `last_timestamp`.
        self.seen_rcids: set[int] = set()

    @property
    def last_rcid(self) -> int | None:
        """The highest rcid seen at the newest timestamp."""
        return max(self.seen_rcids, default=None)

    async def changes(self) -> AsyncIterator[WikiChange]:
        """Yield new changes forever, polling every `interval` seconds."""
        while True:
            for change in await self.poll():
                yield change
            await asyncio.sleep(self.interval)

    async def poll(self) -> list[WikiChange]:
        """Ask once (following continuation) and return the changes not returned before."""
        if self.last_timestamp is None:
            await self.prime()
            return []
        params: dict[str, str | int] = {
            "action": "query",
            "list": "recentchanges",
            "rcprop": RC_PROPS,
            "rctype": "edit|new",
            "rcdir": "newer",
            "rcstart": self.last_timestamp,
            "rclimit": self.limit,
        }
        found: list[WikiChange] = []
        async for body in self.client.continued(self.wiki, params):
            for row in body.get("query", {}).get("recentchanges", []):
                change = self.remember(row)
                if change is not None:
                    found.append(change)
        return found

    async def prime(self) -> None:
        """Start at the wiki's newest change."""
        body = await self.client.get(
            self.wiki,
            {"action": "query", "list": "recentchanges", "rcprop": "ids|timestamp", "rclimit": 1},
        )
        rows = body.get("query", {}).get("recentchanges", [])
        if rows:
            self.last_timestamp = str(rows[0]["timestamp"])
            self.seen_rcids = {int(rows[0]["rcid"])}
        else:
            self.last_timestamp = "1970-01-01T00:00:00Z"

    def remember(self, row: Mapping[str, Any]) -> WikiChange | None:
        """Record one recentchanges row as seen; its change, or None if seen before."""
        rcid, timestamp = int(row["rcid"]), str(row["timestamp"])
        if self.last_timestamp is not None and timestamp < self.last_timestamp:
            return None
        if timestamp == self.last_timestamp:
            if rcid in self.seen_rcids:
                return None
            self.seen_rcids.add(rcid)
        else:
            self.last_timestamp, self.seen_rcids = timestamp, {rcid}
        return WikiChange(
            wiki=self.wiki,
            rev_id=int(row["revid"]),
            parent_id=optional_int(row.get("old_revid")),
            page_id=int(row["pageid"]),
            namespace=int(row["ns"]),
            title=str(row["title"]),
            user_text=str(row.get("user", "")),
            bot=bool(row.get("bot", False)),
            kind=RC_KINDS.get(str(row.get("type")), str(row.get("type"))),
            timestamp=parse_time(timestamp),
            event_id=str(rcid),
        )
