"""The Action API client against a real MediaWiki (the `mediawiki` tier).

OAuth bearer tokens are checked against a local stand-in (`httpx.MockTransport`), because
Debian's MediaWiki has no OAuth extension.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.support.mediawiki import MediaWiki
from tests.wiki.conftest import AGENT, client_of
from wikiloom.errors import WikiError, WikiUnavailable
from wikiloom.wiki.client import WikiClient


@pytest.mark.anyio
async def test_maxlag_errors_are_retried_with_backoff_then_unavailable(
    mediawiki: MediaWiki,
) -> None:
    # A single-database wiki reports a lag of -1 (no replicas), so maxlag=-1 passes (checked
    # here) and maxlag=-2 always draws a `maxlag` error, with `Retry-After: 5`.
    lagless = client_of(mediawiki, maxlag=-1)
    assert (await lagless.siteinfo(mediawiki.dbname))["wikiid"] == mediawiki.dbname
    await lagless.aclose()
    client = client_of(mediawiki, maxlag=-2, attempts=3, backoff=0.01, max_delay=0.05)
    started = time.monotonic()
    with pytest.raises(WikiUnavailable, match="after 3 attempts"):
        await client.siteinfo(mediawiki.dbname)
    assert client.requests == 3
    assert time.monotonic() - started >= 0.03  # slept 0.01 then 0.02 (Retry-After capped)
    await client.aclose()


@pytest.mark.anyio
async def test_a_sane_maxlag_is_sent_and_answered(mediawiki: MediaWiki) -> None:
    client = client_of(mediawiki, maxlag=5)
    general = await client.siteinfo(mediawiki.dbname)
    await client.aclose()
    assert client.requests == 1
    assert general["wikiid"] == mediawiki.dbname
    assert general["sitename"] == mediawiki.sitename


def test_retry_after_is_honoured_within_bounds() -> None:
    client = WikiClient(AGENT, backoff=1, max_delay=10)
    assert client.delay(1, "") == 1
    assert client.delay(3, "") == 4
    assert client.delay(1, "5") == 5
    assert client.delay(1, "3600") == 10
    assert client.delay(1, "Wed, 21 Oct 2015 07:28:00 GMT") == 1  # in the past
    assert client.delay(1, "nonsense") == 1


@pytest.mark.anyio
async def test_overloaded_answers_are_retried(mediawiki: MediaWiki) -> None:
    """A stand-in answering 503 with Retry-After twice, then the real wiki's answer."""
    calls: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= 2:
            return httpx.Response(503, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"query": {"general": {"wikiid": "standin"}}})

    client = WikiClient(
        AGENT,
        custom_wikis={"standin": "http://standin.invalid/api.php"},
        backoff=0.01,
        transport=httpx.MockTransport(handler),
    )
    assert (await client.siteinfo("standin"))["wikiid"] == "standin"
    assert client.requests == len(calls) == 3
    await client.aclose()


@pytest.mark.anyio
async def test_compare_returns_mediawikis_diff_html(mediawiki: MediaWiki) -> None:
    loom = mediawiki.pages["Loom"].revisions
    client = client_of(mediawiki)
    diff = await client.compare(mediawiki.dbname, loom[0].rev_id, loom[1].rev_id)
    await client.aclose()
    assert "diff-addedline" in diff
    assert "History" in diff


@pytest.mark.anyio
async def test_recent_changes_follow_continuation(mediawiki: MediaWiki) -> None:
    client = client_of(mediawiki)
    changes = [
        change
        async for change in client.recent_changes(
            mediawiki.dbname, namespaces="0", newest_first=False, limit=2
        )
    ]
    await client.aclose()
    assert client.requests > 3  # two changes per answer
    rev_ids = [change["revid"] for change in changes]
    assert len(rev_ids) == len(set(rev_ids))
    seeded = [rev.rev_id for page in mediawiki.pages.values() for rev in page.revisions]
    assert set(seeded) <= set(rev_ids)
    assert [change["timestamp"] for change in changes] == sorted(
        change["timestamp"] for change in changes
    )


@pytest.mark.anyio
async def test_bot_password_logs_in_and_edits_with_a_refreshed_token(
    mediawiki: MediaWiki,
) -> None:
    client = client_of(mediawiki)
    name = await client.login(mediawiki.dbname, mediawiki.bot.username, mediawiki.bot.password)
    assert name == mediawiki.admin.name
    title = f"Client test {uuid.uuid4().hex[:8]}"
    first = await client.edit(mediawiki.dbname, title, "First version.", "Create")
    assert first["new"] is True
    assert first["newrevid"] > 0
    # A second edit reuses the cached token: one request.
    before = client.requests
    second = await client.edit(mediawiki.dbname, title, "Second version.", "Change")
    assert client.requests == before + 1
    # A corrupted cached token costs one refresh: edit, token, edit again.
    client.tokens[mediawiki.dbname] = "0123456789abcdef+\\"
    before = client.requests
    third = await client.edit(mediawiki.dbname, title, "Third version.", "Change again")
    assert client.requests == before + 3
    assert third["oldrevid"] == second["newrevid"]
    diff = await client.compare(mediawiki.dbname, first["newrevid"], third["newrevid"])
    assert "Third </ins>version." in diff
    await client.aclose()


@pytest.mark.anyio
async def test_a_wrong_bot_password_is_refused(mediawiki: MediaWiki) -> None:
    client = client_of(mediawiki)
    with pytest.raises(WikiError) as error:
        await client.login(mediawiki.dbname, mediawiki.bot.username, "wrong" * 6 + "xx")
    assert error.value.api_code == "Failed"
    await client.aclose()


@pytest.mark.anyio
async def test_an_oauth_bearer_token_is_sent_on_every_request() -> None:
    """A stand-in that, like Extension:OAuth, identifies the user by the bearer token."""
    seen: list[str | None] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        assert request.headers["User-Agent"] == AGENT
        assert request.url.params["meta"] == "userinfo"
        return httpx.Response(200, json={"query": {"userinfo": {"id": 7, "name": "Someone"}}})

    client = WikiClient(
        AGENT,
        custom_wikis={"standin": "http://standin.invalid/api.php"},
        bearer_token="abc.def.ghi",
        transport=httpx.MockTransport(handler),
    )
    body = await client.get("standin", {"action": "query", "meta": "userinfo"})
    await client.aclose()
    assert body["query"]["userinfo"]["name"] == "Someone"
    assert seen == ["Bearer abc.def.ghi"]
