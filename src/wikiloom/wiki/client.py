"""An asynchronous client of the MediaWiki Action API, one per application."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from wikiloom.errors import NotConfigured, WikiError, WikiUnavailable
from wikiloom.wiki.registry import api_url

#: HTTP statuses that mean "come back later" (with or without Retry-After).
RETRYABLE_STATUSES = frozenset({429, 503})

Params = Mapping[str, str | int]


class WikiClient:
    """Calls the Action API of any wiki named by its dbname, with our User-Agent.

    With `maxlag` set every request carries it; a `maxlag` error or an HTTP 429/503 is retried
    up to `attempts` times in all, sleeping as the wiki's Retry-After says (at most
    `max_delay` seconds), else `backoff` doubled on every attempt; then `WikiUnavailable`.
    """

    def __init__(
        self,
        user_agent: str | None,
        *,
        custom_wikis: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        maxlag: int | None = None,
        attempts: int = 4,
        backoff: float = 1.0,
        max_delay: float = 30.0,
        bearer_token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not user_agent or not user_agent.strip():
            raise NotConfigured(
                "Calls to wikis need a descriptive User-Agent: set WIKILOOM_USER_AGENT "
                "(the tool's name and a contact)."
            )
        self.custom_wikis = dict(custom_wikis or {})
        self.maxlag = maxlag
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_delay = max_delay
        #: Requests sent (attempts included), for callers and benchmarks that count them.
        self.requests = 0
        #: CSRF tokens by wiki, fetched once and refreshed on `badtoken`.
        self.tokens: dict[str, str] = {}
        headers = {"User-Agent": user_agent}
        if bearer_token:
            headers["Authorization"] = f"Bearer {bearer_token}"
        self.http = httpx.AsyncClient(
            headers=headers, timeout=timeout, follow_redirects=True, transport=transport
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def get(self, wiki: str, params: Params) -> dict[str, Any]:
        """One GET request to a wiki's api.php; API errors raise `WikiError`."""
        return await self.request("GET", wiki, params)

    async def post(self, wiki: str, params: Params) -> dict[str, Any]:
        """One POST request (form-encoded) to a wiki's api.php; API errors raise `WikiError`."""
        return await self.request("POST", wiki, params)

    async def request(self, method: str, wiki: str, params: Params) -> dict[str, Any]:
        """Send one API request, retrying on lag and overload as configured."""
        url = api_url(wiki, self.custom_wikis)
        query: dict[str, str | int] = {"format": "json", "formatversion": "2", **params}
        if self.maxlag is not None:
            query.setdefault("maxlag", self.maxlag)
        reason = ""
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.delay(attempt, reason))
            self.requests += 1
            try:
                if method == "GET":
                    response = await self.http.get(url, params=query)
                else:
                    response = await self.http.post(url, data=query)
            except httpx.HTTPError as error:
                raise WikiUnavailable(f"{wiki} could not be reached: {error}") from error
            retry_after = response.headers.get("Retry-After", "")
            if response.status_code in RETRYABLE_STATUSES:
                reason = retry_after
                continue
            try:
                response.raise_for_status()
                body: dict[str, Any] = response.json()
            except httpx.HTTPError as error:
                raise WikiUnavailable(f"{wiki} could not be reached: {error}") from error
            except ValueError as error:
                raise WikiUnavailable(f"{wiki} answered something that is not JSON") from error
            if "error" in body:
                code = str(body["error"].get("code", "unknown"))
                if code == "maxlag":
                    reason = retry_after
                    continue
                info = body["error"].get("info", "")
                raise WikiError(f"{wiki} answered {code}: {info}", code)
            return body
        raise WikiUnavailable(f"{wiki} stayed lagged or overloaded after {self.attempts} attempts")

    def delay(self, attempt: int, retry_after: str) -> float:
        """Seconds to wait before attempt number `attempt` (1 for the first retry)."""
        seconds = self.backoff * 2.0 ** (attempt - 1)
        if retry_after.strip().isdigit():
            seconds = max(seconds, float(retry_after))
        elif retry_after:
            try:
                when = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                seconds = max(seconds, when.timestamp() - time.time())
        return max(0.0, min(seconds, self.max_delay))

    async def continued(self, wiki: str, params: Params) -> AsyncIterator[dict[str, Any]]:
        """Yield every answer of a query, following `continue` until the API says done."""
        extra: dict[str, str | int] = {}
        while True:
            body = await self.get(wiki, {**params, **extra})
            yield body
            more = body.get("continue")
            if not more:
                return
            extra = {key: str(value) for key, value in more.items()}

    async def siteinfo(self, wiki: str) -> dict[str, Any]:
        """The wiki's general site information (`meta=siteinfo`, `siprop=general`)."""
        body = await self.get(wiki, {"action": "query", "meta": "siteinfo", "siprop": "general"})
        general: dict[str, Any] = body["query"]["general"]
        return general

    async def compare(self, wiki: str, from_rev: int, to_rev: int) -> str:
        """MediaWiki's diff HTML (table rows) between two revisions."""
        body = await self.get(
            wiki, {"action": "compare", "fromrev": from_rev, "torev": to_rev, "prop": "diff"}
        )
        return str(body["compare"].get("body", ""))

    async def recent_changes(
        self,
        wiki: str,
        *,
        types: str = "edit|new",
        namespaces: str | None = None,
        start: str | None = None,
        newest_first: bool = True,
        limit: int = 500,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield recent changes (`list=recentchanges`), following continuation to the end."""
        params: dict[str, str | int] = {
            "action": "query",
            "list": "recentchanges",
            "rctype": types,
            "rcprop": "title|ids|sizes|flags|user|userid|comment|timestamp",
            "rcdir": "older" if newest_first else "newer",
            "rclimit": limit,
        }
        if namespaces is not None:
            params["rcnamespace"] = namespaces
        if start is not None:
            params["rcstart"] = start
        async for body in self.continued(wiki, params):
            for change in body.get("query", {}).get("recentchanges", []):
                yield change

    async def login(self, wiki: str, username: str, password: str) -> str:
        """Log in with a bot password (`Name@app`); the session cookie stays in the client."""
        body = await self.get(wiki, {"action": "query", "meta": "tokens", "type": "login"})
        token = str(body["query"]["tokens"]["logintoken"])
        answer = await self.post(
            wiki,
            {"action": "login", "lgname": username, "lgpassword": password, "lgtoken": token},
        )
        login = answer.get("login", {})
        if login.get("result") != "Success":
            result = str(login.get("result", "Failed"))
            raise WikiError(f"{wiki} refused the login of {username}: {login}", result)
        self.tokens.pop(wiki, None)
        return str(login["lgusername"])

    async def csrf_token(self, wiki: str, *, refresh: bool = False) -> str:
        """The session's CSRF token on a wiki, fetched once (again with `refresh`)."""
        if refresh or wiki not in self.tokens:
            body = await self.get(wiki, {"action": "query", "meta": "tokens", "type": "csrf"})
            self.tokens[wiki] = str(body["query"]["tokens"]["csrftoken"])
        return self.tokens[wiki]

    async def edit(
        self,
        wiki: str,
        title: str,
        text: str,
        summary: str = "",
        *,
        minor: bool = False,
        bot: bool = False,
        base_rev_id: int | None = None,
    ) -> dict[str, Any]:
        """Save a page's text; a stale CSRF token (`badtoken`) is refreshed once."""
        params: dict[str, str | int] = {
            "action": "edit",
            "title": title,
            "text": text,
            "summary": summary,
        }
        if minor:
            params["minor"] = 1
        if bot:
            params["bot"] = 1
        if base_rev_id is not None:
            params["baserevid"] = base_rev_id
        body = await self.post_with_token(wiki, params)
        result: dict[str, Any] = body["edit"]
        if result.get("result") != "Success":
            raise WikiError(f"{wiki} did not save {title}: {result}", "editfailed")
        return result

    async def post_with_token(self, wiki: str, params: Params) -> dict[str, Any]:
        """POST a write with the CSRF token; a stale token (`badtoken`) is refreshed once."""
        for refresh in (False, True):
            token = await self.csrf_token(wiki, refresh=refresh)
            try:
                return await self.post(wiki, {**params, "token": token})
            except WikiError as error:
                if error.api_code == "badtoken" and not refresh:
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover
