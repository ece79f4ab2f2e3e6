"""An asynchronous client of the MediaWiki Action API, one per application."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from wikiloom.errors import NotConfigured, WikiError, WikiUnavailable
from wikiloom.wiki.registry import api_url


class WikiClient:
    """Calls the Action API of any wiki named by its dbname, with our User-Agent."""

    def __init__(
        self,
        user_agent: str | None,
        *,
        custom_wikis: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not user_agent or not user_agent.strip():
            raise NotConfigured(
                "Calls to wikis need a descriptive User-Agent: set WIKILOOM_USER_AGENT "
                "(the tool's name and a contact)."
            )
        self.custom_wikis = dict(custom_wikis or {})
        self.http = httpx.AsyncClient(
            headers={"User-Agent": user_agent}, timeout=timeout, follow_redirects=True
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def get(self, wiki: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        """One GET request to a wiki's api.php; API errors raise `WikiError`."""
        url = api_url(wiki, self.custom_wikis)
        query = {"format": "json", "formatversion": "2", **params}
        try:
            response = await self.http.get(url, params=query)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
        except httpx.HTTPError as error:
            raise WikiUnavailable(f"{wiki} could not be reached: {error}") from error
        except ValueError as error:
            raise WikiUnavailable(f"{wiki} answered something that is not JSON") from error
        if "error" in body:
            code = str(body["error"].get("code", "unknown"))
            info = body["error"].get("info", "")
            raise WikiError(f"{wiki} answered {code}: {info}", code)
        return body
