"""Kept OAuth 2.0 tokens on every engine: encrypted at rest, keys rotated, refreshed in time.

Refreshes go over real HTTP to the STAND-IN provider of `tests/support/mediawiki_oauth.py`
(Authlib's server side behind MediaWiki's paths; this machine has no MediaWiki with the OAuth
extension), which rotates refresh tokens as Wikimedia's does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from tests.support.mediawiki_oauth import (
    PROVIDER_THREAD,
    Consumer,
    MediaWikiOAuth,
    loopback_socket,
    serve_provider,
    url_of,
)
from wikiloom.cli import app
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction, utcnow
from wikiloom.errors import NotConfigured, Unauthenticated, WikiUnavailable
from wikiloom.faces.credentials import (
    KEY_SETTING,
    TokenKeeper,
    Tokens,
    forget_tokens,
    load_tokens,
    new_token_key,
    rotate_tokens,
    store_token,
    token_cipher,
)
from wikiloom.faces.tables import Credential
from wikiloom.labels.tables import User

USER = 608705
USER_AGENT = "wikiloom-tests/0.1 (https://example.org/wikiloom; tests@example.org)"
CALLBACK = "http://wikiloom.test/auth/callback/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def provider() -> Iterator[MediaWikiOAuth]:
    with serve_provider() as found:
        yield found


@pytest.fixture
def consumer(provider: MediaWikiOAuth) -> Iterator[Consumer]:
    provider.refresh_delay = 0.0
    yield provider.add_consumer("2.0", CALLBACK)
    provider.refresh_delay = 0.0


def key_settings(**values: object) -> Settings:
    """Settings with only the token key's inputs set (whatever the environment says)."""
    defaults: dict[str, object] = {"token_key": None, "dev_login": False, "secret_key": None}
    return Settings(_env_file=None, **(defaults | values))  # type: ignore[arg-type]


def cipher_of(*keys: str) -> MultiFernet:
    return token_cipher(key_settings(token_key=",".join(keys)))


KEY = new_token_key()


def keeper(
    sessions: sessionmaker[Session], provider: MediaWikiOAuth, consumer: Consumer
) -> TokenKeeper:
    return TokenKeeper(
        sessions,
        cipher_of(KEY),
        token_url=f"{provider.url}/w/rest.php/oauth2/access_token",
        client_id=consumer.key,
        client_secret=consumer.secret,
        user_agent=USER_AGENT,
        timeout=10,
    )


def keep(
    sessions: sessionmaker[Session], token: dict[str, object], cipher: MultiFernet | None = None
) -> None:
    with transaction(sessions, write=True) as session:
        store_token(session, cipher or cipher_of(KEY), USER, token, user_name="Loom Tester")


def stored(sessions: sessionmaker[Session], user_id: int = USER) -> Credential | None:
    with transaction(sessions) as session:
        return session.get(Credential, user_id)


def loaded(sessions: sessionmaker[Session], cipher: MultiFernet | None = None) -> Tokens | None:
    with transaction(sessions) as session:
        return load_tokens(session, cipher or cipher_of(KEY), USER)


# The key


def test_without_a_key_outside_development_nothing_can_be_stored() -> None:
    for settings in [key_settings(), key_settings(secret_key="s3cret"), key_settings(token_key="")]:
        with pytest.raises(NotConfigured, match=KEY_SETTING):
            token_cipher(settings)
    with pytest.raises(NotConfigured, match=KEY_SETTING):  # development needs a secret key
        token_cipher(key_settings(dev_login=True))


def test_development_derives_a_stable_key_from_the_secret_key() -> None:
    first = token_cipher(key_settings(dev_login=True, secret_key="dev-secret"))
    again = token_cipher(key_settings(dev_login=True, secret_key="dev-secret"))
    other = token_cipher(key_settings(dev_login=True, secret_key="another-secret"))
    sealed = first.encrypt(b"token")
    assert again.decrypt(sealed) == b"token"
    with pytest.raises(InvalidToken):
        other.decrypt(sealed)
    # A configured key wins, in development too.
    configured = token_cipher(key_settings(dev_login=True, secret_key="dev-secret", token_key=KEY))
    assert Fernet(KEY).decrypt(configured.encrypt(b"token")) == b"token"


@pytest.mark.parametrize(
    "value", ["not-a-key", f"{KEY},short", "x" * 44], ids=["junk", "second-short", "not-base64"]
)
def test_a_malformed_key_is_not_configured_and_never_echoed(value: str) -> None:
    with pytest.raises(NotConfigured, match=KEY_SETTING) as raised:
        token_cipher(key_settings(token_key=value))
    assert "wikiloom keys token" in raised.value.message
    for part in value.split(","):
        assert part not in raised.value.message


def test_keys_token_prints_a_new_key() -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["keys", "token"])
    second = runner.invoke(app, ["keys", "token"])
    assert first.exit_code == 0, first.output
    key = first.stdout.strip()
    assert Fernet(key).decrypt(Fernet(key).encrypt(b"x")) == b"x"
    assert second.stdout.strip() != key


# Storing and loading


def test_tokens_round_trip_and_a_second_store_replaces_them(
    sessions: sessionmaker[Session],
) -> None:
    now = utcnow().replace(microsecond=0)
    with transaction(sessions, write=True) as session:
        store_token(
            session,
            cipher_of(KEY),
            USER,
            {"access_token": "a1", "refresh_token": "r1", "expires_in": 14400, "scope": "basic"},
            user_name="Loom Tester",
            now=now,
        )
    assert loaded(sessions) == Tokens("a1", "r1", now + dt.timedelta(hours=4), "basic")
    with transaction(sessions) as session:
        assert session.get(User, USER) is not None
        assert session.get(User, USER).name == "Loom Tester"  # type: ignore[union-attr]

    expires_at = int(now.timestamp()) + 60
    keep(sessions, {"access_token": "a2", "expires_at": expires_at, "scope": ["basic", "editpage"]})
    tokens = loaded(sessions)
    expires = dt.datetime.fromtimestamp(expires_at, dt.UTC)
    assert tokens == Tokens("a2", None, expires, "basic editpage")
    assert "a2" not in repr(tokens)  # a logged Tokens shows no token


def test_a_long_scope_is_cut_between_words(sessions: sessionmaker[Session]) -> None:
    keep(sessions, {"access_token": "a", "scope": " ".join(["createeditmovepage"] * 20)})
    assert (tokens := loaded(sessions)) is not None
    assert tokens.scope is not None
    assert len(tokens.scope) <= 255
    assert set(tokens.scope.split()) == {"createeditmovepage"}


def test_what_the_table_holds_is_encrypted(sessions: sessionmaker[Session]) -> None:
    access, refresh = "access-" + "A" * 40, "refresh-" + "R" * 40
    keep(sessions, {"access_token": access, "refresh_token": refresh, "expires_in": 3600})
    with transaction(sessions) as session:
        raw_access, raw_refresh = session.execute(
            select(Credential.access_token, Credential.refresh_token)
        ).one()
    assert isinstance(raw_access, bytes)
    assert isinstance(raw_refresh, bytes)
    for raw, plain in [(raw_access, access), (raw_refresh, refresh)]:
        assert plain.encode() not in raw
        assert "AAAAAAAA" not in raw.decode("ascii", "replace")
        assert raw.startswith(b"gAAAAA")  # a Fernet token
        assert Fernet(KEY).decrypt(raw) == plain.encode()


def test_keys_rotate_old_keys_decrypt_and_the_next_store_uses_the_new_one(
    sessions: sessionmaker[Session],
) -> None:
    old, new = new_token_key(), new_token_key()
    keep(sessions, {"access_token": "a1", "refresh_token": "r1"}, cipher_of(old))
    assert (tokens := loaded(sessions, cipher_of(new, old))) is not None
    assert tokens.access_token == "a1"
    with pytest.raises(Unauthenticated):
        loaded(sessions, cipher_of(new))
    keep(sessions, {"access_token": "a2", "refresh_token": "r2"}, cipher_of(new, old))
    row = stored(sessions)
    assert row is not None
    assert Fernet(new).decrypt(row.access_token) == b"a2"
    assert Fernet(new).decrypt(row.refresh_token or b"") == b"r2"
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(row.access_token)


def test_rotate_encrypts_every_credential_with_the_first_key(
    sessions: sessionmaker[Session],
) -> None:
    old, new, lost = new_token_key(), new_token_key(), new_token_key()
    keep(sessions, {"access_token": "a1", "refresh_token": "r1"}, cipher_of(old))
    with transaction(sessions, write=True) as session:
        store_token(session, cipher_of(lost), 7, {"access_token": "a7"})
    with transaction(sessions, write=True) as session:
        assert rotate_tokens(session, cipher_of(new, old)) == (1, [7])
    assert (tokens := loaded(sessions, cipher_of(new))) is not None
    assert (tokens.access_token, tokens.refresh_token) == ("a1", "r1")


def test_the_cli_rotates_keys(
    settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = new_token_key(), new_token_key()
    keep(sessions, {"access_token": "a1", "refresh_token": "r1"}, cipher_of(old))
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WIKILOOM_TOKEN_KEY", f"{new},{old}")
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "1 credentials encrypted with the first key" in result.stdout
    assert (tokens := loaded(sessions, cipher_of(new))) is not None
    assert tokens.access_token == "a1"


def test_a_wrong_key_is_a_clear_error(sessions: sessionmaker[Session]) -> None:
    keep(sessions, {"access_token": "a1", "refresh_token": "r1"})
    with pytest.raises(Unauthenticated, match="key changed") as raised:
        loaded(sessions, cipher_of(new_token_key()))
    assert KEY_SETTING in raised.value.message
    assert "log in again" in raised.value.message


def test_forgetting_deletes_the_credential(sessions: sessionmaker[Session]) -> None:
    keep(sessions, {"access_token": "a1"})
    with transaction(sessions, write=True) as session:
        assert forget_tokens(session, USER) is True
        assert forget_tokens(session, USER) is False
    assert stored(sessions) is None


# Refreshing


@pytest.mark.anyio
async def test_a_fresh_token_is_answered_as_it_is(
    sessions: sessionmaker[Session], provider: MediaWikiOAuth, consumer: Consumer
) -> None:
    token = provider.issue(consumer, expires_in=3600)
    keep(sessions, token)
    before = provider.refresh_requests
    assert await keeper(sessions, provider, consumer).access_token(USER) == token["access_token"]
    assert provider.refresh_requests == before


@pytest.mark.anyio
async def test_a_token_expiring_within_the_margin_is_refreshed_and_rotated(
    sessions: sessionmaker[Session], provider: MediaWikiOAuth, consumer: Consumer
) -> None:
    token = provider.issue(consumer, expires_in=120)  # within the five minutes' margin
    keep(sessions, token)
    before = provider.refresh_requests
    started = utcnow()
    fresh = await keeper(sessions, provider, consumer).access_token(USER)
    assert provider.refresh_requests == before + 1
    assert fresh != token["access_token"]
    assert provider.valid(fresh)
    assert not provider.valid(str(token["access_token"]))  # the refresh revoked the old pair

    tokens = loaded(sessions)
    assert tokens is not None
    assert tokens.access_token == fresh
    assert tokens.refresh_token not in (None, token["refresh_token"])  # rotated
    assert tokens.expires is not None
    assert tokens.expires - started > dt.timedelta(hours=3, minutes=59)
    async with httpx.AsyncClient() as wiki:  # the new token works on the wiki
        profile = await wiki.get(
            f"{provider.url}/w/rest.php/oauth2/resource/profile",
            headers={"Authorization": f"Bearer {fresh}"},
        )
    assert profile.json()["sub"] == consumer.account.central_id

    again = await keeper(sessions, provider, consumer).access_token(USER)
    assert again == fresh
    assert provider.refresh_requests == before + 1


@pytest.mark.anyio
async def test_the_keeper_made_from_settings_refreshes_too(
    settings: Settings,
    sessions: sessionmaker[Session],
    provider: MediaWikiOAuth,
    consumer: Consumer,
) -> None:
    consumer_settings = {
        "oauth_wiki": provider.url,
        "oauth_consumer_key": consumer.key,
        "oauth_consumer_secret": consumer.secret,
        "user_agent": USER_AGENT,
    }
    with pytest.raises(NotConfigured, match=KEY_SETTING):
        TokenKeeper.from_settings(key_settings(**consumer_settings), sessions)
    with pytest.raises(NotConfigured, match="WIKILOOM_OAUTH_CONSUMER_KEY"):
        TokenKeeper.from_settings(key_settings(token_key=KEY), sessions)
    token = provider.issue(consumer, expires_in=10)
    keep(sessions, token)
    configured = key_settings(
        database_url=settings.database_url, token_key=KEY, **consumer_settings
    )
    fresh = await TokenKeeper.from_settings(configured, sessions).access_token(USER)
    assert fresh != token["access_token"]
    assert provider.valid(fresh)


@pytest.mark.anyio
@pytest.mark.parametrize("processes", [1, 2], ids=["threads", "processes"])
async def test_concurrent_refreshes_send_one_request_and_share_its_token(
    settings: Settings,
    sessions: sessionmaker[Session],
    provider: MediaWikiOAuth,
    consumer: Consumer,
    processes: int,
) -> None:
    """Two workers at once: the second waits for the first's lock, then uses its token.

    With the old refresh token sent twice, the wiki would refuse the second (rotation) and
    the credential would be lost. `processes=2` gives each worker its own engine and pool,
    as two worker processes have (on SQLite: separate in-process locks, so the database's
    own write lock is what serializes them).
    """
    token = provider.issue(consumer, expires_in=60)
    keep(sessions, token)
    engine = make_engine(settings) if processes == 2 else None
    other = session_factory(engine) if engine is not None else sessions
    provider.refresh_delay = 0.5  # both workers see the expiring token before it is replaced
    before = provider.refresh_requests
    try:
        first, second = await asyncio.gather(
            keeper(sessions, provider, consumer).access_token(USER),
            keeper(other, provider, consumer).access_token(USER),
        )
    finally:
        if engine is not None:
            engine.dispose()
    assert provider.refresh_requests == before + 1
    assert first == second != token["access_token"]
    assert provider.valid(first)
    assert (tokens := loaded(sessions)) is not None
    assert tokens.access_token == first
    assert tokens.refresh_token is not None
    assert provider.refresh_tokens[tokens.refresh_token].revoked is False


@pytest.mark.anyio
async def test_a_revoked_refresh_token_forgets_the_credential(
    sessions: sessionmaker[Session], provider: MediaWikiOAuth, consumer: Consumer
) -> None:
    token = provider.issue(consumer, expires_in=60)
    keep(sessions, token)
    provider.revoke(str(token["refresh_token"]))
    with pytest.raises(Unauthenticated, match="log in again"):
        await keeper(sessions, provider, consumer).access_token(USER)
    assert stored(sessions) is None
    with pytest.raises(Unauthenticated, match="log in again"):  # and stays so
        await keeper(sessions, provider, consumer).access_token(USER)


@pytest.mark.anyio
async def test_an_expired_token_without_a_refresh_token_is_forgotten(
    sessions: sessionmaker[Session], provider: MediaWikiOAuth, consumer: Consumer
) -> None:
    keep(sessions, {"access_token": "old", "expires_in": -10})
    with pytest.raises(Unauthenticated, match="log in again"):
        await keeper(sessions, provider, consumer).access_token(USER)
    assert stored(sessions) is None


@pytest.mark.anyio
async def test_a_user_without_a_credential_must_log_in_again(
    sessions: sessionmaker[Session], provider: MediaWikiOAuth, consumer: Consumer
) -> None:
    with pytest.raises(Unauthenticated, match=f"User {USER} .* log in again"):
        await keeper(sessions, provider, consumer).access_token(USER)


@pytest.mark.anyio
async def test_an_unreachable_wiki_keeps_the_credential(
    sessions: sessionmaker[Session], provider: MediaWikiOAuth, consumer: Consumer
) -> None:
    """A passing failure changes nothing: a still valid token is used, else retry later."""
    token = provider.issue(consumer, expires_in=120)
    keep(sessions, token)
    sock = loopback_socket()  # bound, never listening: connections are refused
    nowhere = keeper(sessions, provider, consumer)
    nowhere.token_url = f"{url_of(sock)}/w/rest.php/oauth2/access_token"
    assert await nowhere.access_token(USER) == token["access_token"]  # still valid: used
    keep(sessions, {**token, "expires_in": -1})
    with pytest.raises(WikiUnavailable, match="try again later"):
        await nowhere.access_token(USER)
    sock.close()
    assert (tokens := loaded(sessions)) is not None
    assert tokens.refresh_token == token["refresh_token"]


@pytest.mark.anyio
async def test_no_token_is_ever_logged(
    sessions: sessionmaker[Session],
    provider: MediaWikiOAuth,
    consumer: Consumer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Over storing, refreshing, a refused refresh and a wrong key, at DEBUG.

    The stand-in wiki's own records (Authlib's server logs the tokens it issues) come from
    its thread and are not ours.
    """
    caplog.set_level(logging.DEBUG)
    token = provider.issue(consumer, expires_in=60)
    keep(sessions, token)
    fresh = await keeper(sessions, provider, consumer).access_token(USER)
    tokens = loaded(sessions)
    assert tokens is not None
    secrets = {str(token["access_token"]), str(token["refresh_token"]), fresh}
    secrets.add(str(tokens.refresh_token))
    with pytest.raises(Unauthenticated) as wrong_key:
        loaded(sessions, cipher_of(new_token_key()))
    provider.revoke(str(tokens.refresh_token))
    keep(sessions, {**dataclasses.asdict(tokens), "expires_in": 10})
    with pytest.raises(Unauthenticated) as refused:
        await keeper(sessions, provider, consumer).access_token(USER)

    ours = [record for record in caplog.records if record.threadName != PROVIDER_THREAD]
    text = "\n".join(logging.Formatter().format(record) for record in ours)
    assert "refreshed the OAuth token of user" in text  # the capture works
    assert "refused to refresh" in text
    for secret in secrets:
        assert secret not in text
        assert secret not in str(wrong_key.value)
        assert secret not in str(refused.value)
