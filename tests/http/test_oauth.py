"""Login through MediaWiki OAuth 2.0 and 1.0a, end to end, against a STAND-IN provider.

This machine has no MediaWiki with the OAuth extension, so the provider is the stand-in of
`tests/support/mediawiki_oauth.py`: Authlib's server side behind MediaWiki's paths and answer
shapes, served by a real uvicorn on loopback. Our app runs in process (ASGITransport) or on
its own uvicorn; its token, profile and identify requests to the provider go over real HTTP.
A browser is played by hand: each redirect is followed explicitly.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from tests.support.mediawiki_oauth import (
    DEFAULT_ACCOUNT,
    PROVIDER_THREAD,
    Consumer,
    MediaWikiOAuth,
    WikiAccount,
    loopback_socket,
    serve_asgi,
    serve_provider,
    url_of,
)
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.faces.credentials import load_tokens, new_token_key, token_cipher
from wikiloom.faces.tables import Credential
from wikiloom.http import create_app
from wikiloom.labels.tables import User
from wikiloom.migrations import upgrade

Version = Literal["2.0", "1.0a"]
OUR_SITE = "http://wikiloom.test"
NO_STATE = "OAuth callback failed.  Are cookies disabled?"
USER_AGENT = "wikiloom-tests/0.1 (https://example.org/wikiloom; tests@example.org)"


@pytest.fixture(scope="module")
def provider() -> Iterator[MediaWikiOAuth]:
    with serve_provider() as found:
        yield found


def login_settings(
    tmp_path: Path, provider: MediaWikiOAuth, consumer: Consumer | None, **extra: Any
) -> Settings:
    """Settings for a login against the stand-in provider as `consumer`."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'wikiloom.db'}",
        "oauth_wiki": provider.url,
        "user_agent": USER_AGENT,
        "secret_key": "test-secret-key-of-the-oauth-tests",
        "token_key": None,  # whatever the environment says: the tests that keep tokens set one
    }
    if consumer is not None:
        values |= {
            "oauth_version": consumer.version,
            "oauth_consumer_key": consumer.key,
            "oauth_consumer_secret": consumer.secret,
        }
    return Settings(_env_file=None, **(values | extra))


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser as seen by the provider (our app is reached in process)."""
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def in_process(settings: Settings, site: str = OUR_SITE) -> httpx.AsyncClient:
    """A client of a fresh app served in process at `site`."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url=site)


async def to_wiki(app: httpx.AsyncClient, next_path: str | None = None) -> httpx.Response:
    """GET /auth/initiate/ and check it sends the browser to the provider."""
    params = {"next": next_path} if next_path is not None else {}
    started = await app.get("/auth/initiate/", params=params)
    assert started.status_code == 302, started.text
    return started


async def approve(browser: httpx.AsyncClient, started: httpx.Response) -> httpx.URL:
    """Follow the redirect to the provider, which approves and names our callback."""
    approved = await browser.get(started.headers["location"])
    assert approved.status_code == 302, approved.text
    return httpx.URL(approved.headers["location"])


async def back_from_wiki(app: httpx.AsyncClient, callback: httpx.URL) -> httpx.Response:
    """Follow the provider's redirect to our callback."""
    return await app.get(callback.path, params=callback.params)


async def log_in(
    app: httpx.AsyncClient, browser: httpx.AsyncClient, next_path: str | None = None
) -> httpx.Response:
    """The whole handshake; the callback's answer."""
    return await back_from_wiki(app, await approve(browser, await to_wiki(app, next_path)))


def session_of(response: httpx.Response) -> dict[str, Any]:
    """The session a response's Set-Cookie carries (signed, not encrypted: readable)."""
    cookie = response.headers["set-cookie"].split(";")[0]
    name, _, value = cookie.partition("=")
    assert name == "wikiloom_session"
    found: dict[str, Any] = json.loads(base64.b64decode(value.split(".")[0]))
    return found


@pytest.mark.anyio
async def test_oauth2_handshake_logs_in(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient
) -> None:
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    async with await in_process(login_settings(tmp_path, provider, consumer)) as app:
        started = await to_wiki(app, "/campaigns/enwiki/?tasks")
        location = httpx.URL(started.headers["location"])
        assert str(location).startswith(f"{provider.url}/w/rest.php/oauth2/authorize?")
        assert location.params["client_id"] == consumer.key
        assert location.params["response_type"] == "code"
        assert location.params["code_challenge_method"] == "S256"
        assert "redirect_uri" not in location.params  # the consumer's registered callback
        pending = session_of(started)
        assert list(pending) == [f"_state_mediawiki_{location.params['state']}"]

        finished = await back_from_wiki(app, await approve(browser, started))
        assert finished.status_code == 302, finished.text
        assert finished.headers["location"] == "/campaigns/enwiki/?tasks"
        assert session_of(finished) == {"user": {"id": 608705, "name": "Loom Tester"}}

        whoami = await app.get("/auth/whoami/", params={"detail": ""})
        assert whoami.json() == {"user": {"id": 608705, "name": "Loom Tester"}}
        assert (await app.get("/auth/whoami/")).json() == {"user": {"id": 608705}}
        assert (await app.get("/auth/logout/")).json() == {"success": True}
        assert (await app.get("/auth/whoami/")).status_code == 403


@pytest.mark.anyio
async def test_oauth1_handshake_logs_in(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient
) -> None:
    account = WikiAccount(central_id=4242, username="Ünïcode Tester", groups=("*", "user"))
    consumer = provider.add_consumer("1.0a", f"{OUR_SITE}/auth/callback/", account)
    async with await in_process(login_settings(tmp_path, provider, consumer)) as app:
        started = await to_wiki(app)
        location = httpx.URL(started.headers["location"])
        assert location.path == "/wiki/Special:OAuth/authorize"
        assert location.params["oauth_consumer_key"] == consumer.key
        assert location.params["oauth_token"] in provider.request_tokens

        finished = await back_from_wiki(app, await approve(browser, started))
        assert finished.status_code == 302, finished.text
        assert finished.headers["location"] == "/"
        assert session_of(finished) == {"user": {"id": 4242, "name": "Ünïcode Tester"}}
        whoami = await app.get("/auth/whoami/", params={"detail": ""})
        assert whoami.json() == {"user": {"id": 4242, "name": "Ünïcode Tester"}}


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["2.0", "1.0a"])
async def test_a_callback_without_its_state_is_refused(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient, version: Version
) -> None:
    consumer = provider.add_consumer(version, f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer)
    async with await in_process(settings) as victim, await in_process(settings) as attacker:
        # The attacker's own approved callback, opened in the victim's browser (login CSRF).
        callback = await approve(browser, await to_wiki(attacker))
        await to_wiki(victim)  # the victim has a handshake of their own under way
        refused = await back_from_wiki(victim, callback)
        assert refused.status_code == 403
        assert refused.json() == {"error": {"code": "forbidden", "message": NO_STATE}}
        assert (await victim.get("/auth/whoami/")).status_code == 403

        key = "state" if version == "2.0" else "oauth_token"
        forged = callback.copy_set_param(key, "not-the-state-we-sent")
        assert (await back_from_wiki(attacker, forged)).status_code == 403
        nothing = await attacker.get("/auth/callback/")
        assert nothing.json() == {"error": {"code": "forbidden", "message": NO_STATE}}


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["2.0", "1.0a"])
async def test_a_replayed_callback_is_refused(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient, version: Version
) -> None:
    consumer = provider.add_consumer(version, f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer)
    async with await in_process(settings) as app:
        callback = await approve(browser, await to_wiki(app))
        before = app.cookies["wikiloom_session"]
        assert (await back_from_wiki(app, callback)).status_code == 302

        again = await back_from_wiki(app, callback)  # the session no longer holds the state
        assert again.status_code == 403
        assert again.json()["error"]["message"] == NO_STATE
        assert (await app.get("/auth/whoami/")).json()["user"]["id"] == DEFAULT_ACCOUNT.central_id

    # With the cookie of before the callback, the wiki refuses the used code or token.
    async with await in_process(settings) as replay:
        replay.cookies.set("wikiloom_session", before, domain="wikiloom.test")
        refused = await back_from_wiki(replay, callback)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["message"].startswith("Login failed:")
        assert (await replay.get("/auth/whoami/")).status_code == 403


@pytest.mark.anyio
async def test_a_refusal_on_the_wiki_is_a_403(tmp_path: Path, provider: MediaWikiOAuth) -> None:
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    async with await in_process(login_settings(tmp_path, provider, consumer)) as app:
        state = httpx.URL((await to_wiki(app)).headers["location"]).params["state"]
        denied = await app.get("/auth/callback/", params={"error": "access_denied", "state": state})
        assert denied.status_code == 403
        assert "access_denied" in denied.json()["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [
        ("https://evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example/path", "/"),
        ("", "/"),
        ("/campaigns/enwiki/7/?tasks&campaign=stats", "/campaigns/enwiki/7/?tasks&campaign=stats"),
    ],
)
async def test_the_callback_only_returns_to_our_own_pages(
    tmp_path: Path,
    provider: MediaWikiOAuth,
    browser: httpx.AsyncClient,
    next_path: str,
    lands_on: str,
) -> None:
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    async with await in_process(login_settings(tmp_path, provider, consumer)) as app:
        finished = await log_in(app, browser, next_path)
        assert finished.status_code == 302, finished.text
        assert finished.headers["location"] == lands_on


@pytest.mark.anyio
@pytest.mark.parametrize("forge", ["aud", "nonce", "signature", "expired"])
async def test_a_forged_identity_jwt_is_refused(
    tmp_path: Path,
    provider: MediaWikiOAuth,
    browser: httpx.AsyncClient,
    forge: Literal["aud", "nonce", "signature", "expired"],
) -> None:
    consumer = provider.add_consumer("1.0a", f"{OUR_SITE}/auth/callback/")
    consumer.forge = forge
    async with await in_process(login_settings(tmp_path, provider, consumer)) as app:
        refused = await log_in(app, browser)
        assert refused.status_code == 403, refused.text
        message = refused.json()["error"]["message"]
        assert message.startswith("Login failed: the wiki's identity answer is not valid")
        assert (await app.get("/auth/whoami/")).status_code == 403


@pytest.mark.anyio
async def test_over_https_the_cookie_is_secure_and_cross_site(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient
) -> None:
    site = "https://wikiloom.test"
    consumer = provider.add_consumer("2.0", f"{site}/auth/callback/")
    async with await in_process(login_settings(tmp_path, provider, consumer), site) as app:
        finished = await log_in(app, browser)
        flags = [part.strip() for part in finished.headers["set-cookie"].lower().split(";")[1:]]
        assert {"httponly", "secure", "samesite=none", "path=/"} <= set(flags)
        assert (await app.get("/auth/whoami/")).json() == {"user": {"id": 608705}}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("site", "extra", "secure", "same_site"),
    [
        ("http://wikiloom.test", {}, False, "lax"),
        ("https://wikiloom.test", {"session_cookie_samesite": "lax"}, True, "lax"),
        ("http://wikiloom.test", {"session_cookie_secure": True}, True, "none"),
        ("http://wikiloom.test", {"session_cookie_samesite": "none"}, True, "none"),
        ("https://wikiloom.test", {"session_cookie_secure": False}, False, "lax"),
    ],
)
async def test_cookie_flags_follow_the_scheme_and_settings(
    tmp_path: Path,
    provider: MediaWikiOAuth,
    site: str,
    extra: dict[str, Any],
    secure: bool,
    same_site: str,
) -> None:
    consumer = provider.add_consumer("2.0", f"{site}/auth/callback/")
    async with await in_process(login_settings(tmp_path, provider, consumer, **extra), site) as app:
        cookie = (await to_wiki(app)).headers["set-cookie"].lower()
        flags = {part.strip() for part in cookie.split(";")[1:]}
        assert "httponly" in flags
        assert ("secure" in flags) is secure
        assert f"samesite={same_site}" in flags


@pytest.mark.anyio
async def test_jsonp_never_answers_as_the_logged_in_user(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient
) -> None:
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    async with await in_process(login_settings(tmp_path, provider, consumer)) as app:
        assert (await log_in(app, browser)).status_code == 302
        jsonp = await app.get("/auth/whoami/", params={"callback": "steal", "detail": ""})
        assert jsonp.text.startswith("steal(")
        assert '"http_status":403' in jsonp.text
        assert "Loom Tester" not in jsonp.text


@pytest.mark.anyio
async def test_login_unconfigured_is_a_clear_error(
    tmp_path: Path, provider: MediaWikiOAuth
) -> None:
    async with await in_process(login_settings(tmp_path, provider, None)) as app:
        index = await app.get("/auth/")
        assert index.json()["paths"] == ["initiate", "whoami", "logout"]
        for path in ["/auth/initiate/", "/auth/callback/?code=x&state=y"]:
            answer = await app.get(path)
            assert answer.status_code == 503
            error = answer.json()["error"]
            assert error["code"] == "not configured"
            assert "WIKILOOM_OAUTH_CONSUMER_KEY" in error["message"]
            assert "WIKILOOM_OAUTH_CONSUMER_SECRET" in error["message"]
    consumer = provider.add_consumer("1.0a", f"{OUR_SITE}/auth/callback/")
    no_agent = login_settings(tmp_path, provider, consumer, user_agent=None)
    async with await in_process(no_agent) as app:
        answer = await app.get("/auth/initiate/")
        assert answer.status_code == 503
        assert "WIKILOOM_USER_AGENT" in answer.json()["error"]["message"]


@pytest.mark.anyio
@pytest.mark.parametrize("version", ["2.0", "1.0a"])
async def test_a_wrong_consumer_or_an_unreachable_wiki_is_not_a_500(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient, version: Version
) -> None:
    sock = loopback_socket()  # bound, never listening: connections are refused
    nowhere = url_of(sock)
    consumer = provider.add_consumer(version, f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer, oauth_wiki=nowhere)
    async with await in_process(settings) as app:
        if version == "2.0":  # the first request to the wiki is the token exchange
            state = httpx.URL((await to_wiki(app)).headers["location"]).params["state"]
            answer = await app.get("/auth/callback/", params={"code": "x", "state": state})
        else:  # the first request to the wiki asks for a request token
            answer = await app.get("/auth/initiate/")
        assert answer.status_code == 503, answer.text
        assert "could not be reached" in answer.json()["error"]["message"]
    sock.close()

    unknown = provider.add_consumer(version, f"{OUR_SITE}/auth/callback/")
    provider.consumers.pop(unknown.key)  # the wiki does not know this consumer
    async with await in_process(login_settings(tmp_path, provider, unknown)) as app:
        if version == "1.0a":  # refused when asking for a request token
            answer = await app.get("/auth/initiate/")
            assert answer.status_code == 502, answer.text
            assert answer.json()["error"]["code"] == "wiki error"
        else:  # refused on the wiki's authorize page, before any callback
            started = await to_wiki(app)
            assert (await browser.get(started.headers["location"])).status_code == 400


@pytest.mark.anyio
async def test_handshake_against_our_app_on_a_real_server(
    tmp_path: Path, provider: MediaWikiOAuth
) -> None:
    sock = loopback_socket()
    site = url_of(sock)
    consumer = provider.add_consumer("2.0", f"{site}/auth/callback/")
    app = create_app(login_settings(tmp_path, provider, consumer))
    with serve_asgi(app, sock):
        async with httpx.AsyncClient(follow_redirects=True, timeout=10) as user:
            landed = await user.get(f"{site}/auth/initiate/", params={"next": "/auth/"})
            assert [str(hop.url).split("?")[0] for hop in landed.history] == [
                f"{site}/auth/initiate/",
                f"{provider.url}/w/rest.php/oauth2/authorize",
                f"{site}/auth/callback/",
            ]
            assert landed.url == f"{site}/auth/"
            whoami = await user.get(f"{site}/auth/whoami/", params={"detail": ""})
            assert whoami.json() == {"user": {"id": 608705, "name": "Loom Tester"}}


def kept_credentials(settings: Settings) -> list[Credential]:
    """The credentials rows of the app's database."""
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        rows = list(session.scalars(select(Credential)))
    engine.dispose()
    return rows


def issued_to(provider: MediaWikiOAuth, consumer: Consumer) -> list[Any]:
    """The OAuth 2 tokens the provider issued to a consumer."""
    return [token for token in provider.bearer_tokens.values() if token.consumer is consumer]


@pytest.mark.anyio
async def test_an_oauth2_login_keeps_the_tokens_encrypted(
    tmp_path: Path,
    provider: MediaWikiOAuth,
    browser: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = new_token_key()
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer, token_key=key)
    upgrade(settings.database_url)
    async with await in_process(settings) as app:
        finished = await log_in(app, browser)
        assert finished.status_code == 302, finished.text
        assert (await app.get("/auth/whoami/")).json() == {"user": {"id": 608705}}

    [issued] = issued_to(provider, consumer)
    assert issued.refresh_token is not None
    [row] = kept_credentials(settings)
    assert row.user_id == DEFAULT_ACCOUNT.central_id
    for raw, plain in [
        (row.access_token, issued.access_token),
        (row.refresh_token, issued.refresh_token),
    ]:
        assert raw is not None
        assert plain.encode() not in raw
        assert Fernet(key).decrypt(raw) == plain.encode()
    assert row.expires is not None
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        tokens = load_tokens(session, token_cipher(settings), DEFAULT_ACCOUNT.central_id)
        user = session.get(User, DEFAULT_ACCOUNT.central_id)
        assert user is not None
        assert user.name == DEFAULT_ACCOUNT.username
    engine.dispose()
    assert tokens is not None
    assert tokens.access_token == issued.access_token
    assert provider.valid(tokens.access_token)

    ours = [record for record in caplog.records if record.threadName != PROVIDER_THREAD]
    text = "\n".join(logging.Formatter().format(record) for record in ours)
    assert "HTTP Request: POST" in text  # the capture saw the token exchange
    assert issued.access_token not in text
    assert issued.refresh_token not in text


@pytest.mark.anyio
async def test_without_a_token_key_login_works_and_warns_once(
    tmp_path: Path,
    provider: MediaWikiOAuth,
    browser: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="wikiloom")
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer, token_key=None)
    upgrade(settings.database_url)
    async with await in_process(settings) as app:
        for _ in range(2):
            finished = await log_in(app, browser)
            assert finished.status_code == 302, finished.text
            assert (await app.get("/auth/whoami/")).json() == {"user": {"id": 608705}}
    warnings = [r.getMessage() for r in caplog.records if r.name == "wikiloom.http.login"]
    assert len(warnings) == 1
    assert "WIKILOOM_TOKEN_KEY" in warnings[0]
    assert kept_credentials(settings) == []
    for token in issued_to(provider, consumer):
        assert token.access_token not in warnings[0]


@pytest.mark.anyio
async def test_in_development_the_key_comes_from_the_secret_key(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient
) -> None:
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer, token_key=None, dev_login=True)
    upgrade(settings.database_url)
    async with await in_process(settings) as app:
        assert (await log_in(app, browser)).status_code == 302
    [issued] = issued_to(provider, consumer)
    [row] = kept_credentials(settings)
    assert token_cipher(settings).decrypt(row.access_token) == issued.access_token.encode()


@pytest.mark.anyio
async def test_an_oauth1_login_keeps_no_token(
    tmp_path: Path, provider: MediaWikiOAuth, browser: httpx.AsyncClient
) -> None:
    consumer = provider.add_consumer("1.0a", f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer, token_key=new_token_key())
    upgrade(settings.database_url)
    async with await in_process(settings) as app:
        assert (await log_in(app, browser)).status_code == 302
        assert (await app.get("/auth/whoami/")).status_code == 200
    assert kept_credentials(settings) == []
