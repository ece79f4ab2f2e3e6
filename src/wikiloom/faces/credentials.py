"""Users' OAuth 2.0 tokens: kept encrypted at rest (Fernet), refreshed before they expire.

The login keeps each user's access and refresh tokens so that background jobs can write
depicts statements as that user long after the login (WikiVisage's worker used the stored
access token as-is and failed once it had expired, its §10 item 11; and kept tokens in
plaintext, item 12). Nothing here logs a token or puts one in an error message.

Wikimedia rotates refresh tokens: a refresh revokes the refresh token it used. Two workers
refreshing one user's token at once would both send the old refresh token and the second
would be refused, losing the credential; so `TokenKeeper` refreshes under the credential's
lock and reads the row again once it holds it (see `TokenKeeper`).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import insert_ignore, transaction, utcnow
from wikiloom.errors import BadRequest, NotConfigured, Unauthenticated, WikiError, WikiUnavailable
from wikiloom.faces.tables import Credential
from wikiloom.labels.users import ensure_user

log = logging.getLogger(__name__)

KEY_SETTING = "WIKILOOM_TOKEN_KEY"
#: Refresh an access token that expires within this many seconds.
MARGIN = 300.0
#: HKDF's `info` for the development key derived from the secret key.
_DEV_KEY_INFO = b"wikiloom: OAuth token key (development)"
#: The longest scope the `credentials.scope` column holds.
_SCOPE_LENGTH = 255
#: OAuth error codes of a refresh token the wiki will never accept again. MediaWiki's
#: OAuth server (league/oauth2-server) answers `invalid_grant`; older versions answered
#: `invalid_request` with "The refresh token is invalid." (handled in `_refused`).
_REVOKED = frozenset({"invalid_grant"})


def new_token_key() -> str:
    """A fresh Fernet key, as `WIKILOOM_TOKEN_KEY` takes it."""
    return Fernet.generate_key().decode()


def _derived_key(secret_key: str) -> bytes:
    """The development token key: HKDF-SHA256 of the secret key, as a Fernet key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DEV_KEY_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def token_cipher(settings: Settings) -> MultiFernet:
    """The cipher of kept tokens: `WIKILOOM_TOKEN_KEY`'s keys (the first encrypts).

    Without a key, development (`dev_login`) derives one from `secret_key`; anywhere else,
    or without a secret key either, and for a malformed key: `NotConfigured`. The message
    never repeats the key.
    """
    raw = settings.token_key.get_secret_value() if settings.token_key is not None else ""
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if keys:
        fernets: list[Fernet] = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except ValueError as error:  # binascii.Error is a ValueError too
                which = f"key {number} of {len(keys)}" if len(keys) > 1 else "it"
                raise NotConfigured(
                    f"{KEY_SETTING} is malformed ({which} is not a Fernet key: 32 url-safe "
                    "base64-encoded bytes); make one with `wikiloom keys token`."
                ) from error
        return MultiFernet(fernets)
    if settings.dev_login and settings.secret_key:
        return MultiFernet([Fernet(_derived_key(settings.secret_key))])
    raise NotConfigured(
        f"Users' OAuth tokens are kept encrypted: set {KEY_SETTING} to a Fernet key (make one "
        "with `wikiloom keys token`); a key is required outside development."
    )


@dataclass(frozen=True)
class Tokens:
    """A user's OAuth 2.0 tokens, decrypted; their repr hides the tokens."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires: dt.datetime | None
    scope: str | None

    def expiring(self, now: dt.datetime, margin: float = MARGIN) -> bool:
        """Whether the access token expires within `margin` seconds of `now` (or already has)."""
        return self.expires is not None and (self.expires - now).total_seconds() <= margin


def _expiry(token: Mapping[str, Any], now: dt.datetime) -> dt.datetime | None:
    """When an Authlib token expires: its `expires_at` (epoch seconds), else `expires_in`."""
    for key in ("expires_at", "expires_in"):
        value = token.get(key)
        if isinstance(value, str) and value.strip().isdecimal():
            value = int(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if key == "expires_at":
                return dt.datetime.fromtimestamp(value, dt.UTC)
            return now + dt.timedelta(seconds=value)
    return None


def _scope(value: object) -> str | None:
    """The scope as one space-separated string that fits its column (cut between words)."""
    if isinstance(value, list | tuple):
        value = " ".join(str(part) for part in value)
    if not isinstance(value, str) or not value.strip():
        return None
    value = " ".join(value.split())
    if len(value) > _SCOPE_LENGTH:
        value = value[: _SCOPE_LENGTH + 1].rsplit(" ", 1)[0][:_SCOPE_LENGTH]
    return value


def store_token(
    session: Session,
    cipher: MultiFernet,
    user_id: int,
    token: Mapping[str, Any],
    *,
    user_name: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Keep (insert or replace) a user's tokens from an Authlib token, both encrypted.

    The token carries `access_token`, and optionally `refresh_token`, `expires_at` (epoch
    seconds) or `expires_in`, and `scope`. Every store encrypts with the cipher's first key.
    """
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise BadRequest("the OAuth token has no access_token")
    refresh_token = token.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        refresh_token = None
    moment = now or utcnow()
    ensure_user(session, user_id, user_name, now=moment)
    values = {
        "access_token": cipher.encrypt(access_token.encode()),
        "refresh_token": None if refresh_token is None else cipher.encrypt(refresh_token.encode()),
        "expires": _expiry(token, moment),
        "scope": _scope(token.get("scope")),
        "updated": moment,
    }
    # Insert-or-nothing, then update: an upsert on every engine, safe under concurrent logins.
    session.execute(insert_ignore(session, Credential).values(user_id=user_id, **values))
    session.execute(update(Credential).where(Credential.user_id == user_id).values(**values))


def _decrypt(cipher: MultiFernet, value: bytes, user_id: int) -> str:
    try:
        return cipher.decrypt(value).decode()
    except InvalidToken:
        raise Unauthenticated(
            f"The OAuth token kept for user {user_id} cannot be decrypted with {KEY_SETTING}: "
            "the key changed (to rotate keys, keep the old one after the new, comma-separated). "
            "The user must log in again."
        ) from None


def load_tokens(
    session: Session, cipher: MultiFernet, user_id: int, *, lock: bool = False
) -> Tokens | None:
    """A user's kept tokens, decrypted, or None; `lock` holds the row for the transaction.

    The lock is `SELECT … FOR UPDATE` on PostgreSQL and MariaDB; SQLite has no row locks:
    there the write transaction (BEGIN IMMEDIATE) is the lock.
    """
    query = (
        select(Credential)
        .where(Credential.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        return None
    return Tokens(
        access_token=_decrypt(cipher, row.access_token, user_id),
        refresh_token=(
            None if row.refresh_token is None else _decrypt(cipher, row.refresh_token, user_id)
        ),
        expires=row.expires,
        scope=row.scope,
    )


def forget_tokens(session: Session, user_id: int) -> bool:
    """Delete a user's kept tokens; whether there were any."""
    result = session.execute(delete(Credential).where(Credential.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


def rotate_tokens(session: Session, cipher: MultiFernet) -> tuple[int, list[int]]:
    """Encrypt every kept token again with the cipher's first key.

    Answers how many credentials were re-encrypted and the users whose tokens no key
    decrypts (left as they are: they must log in again). Once it has run, the old keys can
    be dropped from `WIKILOOM_TOKEN_KEY`.
    """
    rotated, unreadable = 0, []
    for row in session.scalars(select(Credential).order_by(Credential.user_id).with_for_update()):
        try:
            row.access_token = cipher.rotate(row.access_token)
            if row.refresh_token is not None:
                row.refresh_token = cipher.rotate(row.refresh_token)
        except InvalidToken:
            unreadable.append(row.user_id)
            continue
        rotated += 1
    session.flush()
    return rotated, unreadable


def _log_in_again(user_id: int) -> Unauthenticated:
    return Unauthenticated(
        f"User {user_id} has no usable OAuth 2.0 token kept here to edit with: they must log "
        "in again."
    )


def _refused(error: OAuthError) -> bool:
    """Whether the wiki's answer means the refresh token will never be accepted again."""
    code = str(error.error or "")
    description = str(error.description or "").lower()
    return code in _REVOKED or (code == "invalid_request" and "refresh token" in description)


class TokenKeeper:
    """Answers a usable access token for a user, refreshed through the wiki when near expiry.

    Call it from a job (or any code) outside a transaction of its own that writes: it runs
    its own short transactions. A read first; when the access token expires within `margin`
    seconds, one write transaction that locks the credential (`SELECT … FOR UPDATE` on
    PostgreSQL and MariaDB; BEGIN IMMEDIATE, SQLite's database write lock, on SQLite), reads
    it again, and only if it still needs it sends the refresh to the wiki's token endpoint
    and stores the new pair before it commits. A second worker (thread or process) waits on
    the lock, then finds the new token and uses it: one refresh request per rotation.

    The locked part runs in a thread from start to commit (Authlib's synchronous client),
    so a cancelled caller never leaves the wiki's new refresh token unstored. On SQLite the
    refresh holds the write lock for the wiki's answer (at most `timeout` seconds, once per
    token lifetime, four hours on Wikimedia).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: MultiFernet,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        user_agent: str,
        timeout: float = 10.0,
        margin: float = MARGIN,
    ) -> None:
        if not user_agent.strip():
            raise NotConfigured(
                "Calls to wikis need a descriptive User-Agent: set WIKILOOM_USER_AGENT."
            )
        self.sessions = sessions
        self.cipher = cipher
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.user_agent = user_agent
        self.timeout = timeout
        self.margin = margin

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> TokenKeeper:
        """A keeper for the OAuth 2.0 consumer and token key of `settings`."""
        secret = settings.oauth_consumer_secret
        missing = [
            name
            for name, value in [
                ("WIKILOOM_OAUTH_CONSUMER_KEY", settings.oauth_consumer_key or ""),
                ("WIKILOOM_OAUTH_CONSUMER_SECRET", secret.get_secret_value() if secret else ""),
                ("WIKILOOM_USER_AGENT", (settings.user_agent or "").strip()),
            ]
            if not value
        ]
        if settings.oauth_version != "2.0":
            missing.insert(0, "WIKILOOM_OAUTH_VERSION=2.0")
        if missing:
            raise NotConfigured(
                f"Editing as users needs an OAuth 2.0 consumer: set {', '.join(missing)}."
            )
        return cls(
            sessions,
            token_cipher(settings),
            token_url=f"{settings.oauth_wiki.rstrip('/')}/w/rest.php/oauth2/access_token",
            client_id=str(settings.oauth_consumer_key),
            client_secret=secret.get_secret_value() if secret else "",
            user_agent=str(settings.user_agent),
            timeout=settings.wiki_timeout,
        )

    async def access_token(self, user_id: int) -> str:
        """A usable access token of the user, refreshed first if it expires within the margin.

        Raises `Unauthenticated` when the user has no kept token, or the wiki refused to
        refresh it (the credential is then deleted): they must log in again.
        """
        return await asyncio.to_thread(self.access_token_blocking, user_id)

    def access_token_blocking(self, user_id: int) -> str:
        """`access_token` for synchronous callers (it blocks for the database and the wiki)."""
        with transaction(self.sessions) as session:
            tokens = load_tokens(session, self.cipher, user_id)
        if tokens is None:
            raise _log_in_again(user_id)
        if not tokens.expiring(utcnow(), self.margin):
            return tokens.access_token
        return self._refresh(user_id)

    def _refresh(self, user_id: int) -> str:
        """Refresh under the credential's lock, unless another worker just did."""
        with transaction(self.sessions, write=True) as session:
            tokens = load_tokens(session, self.cipher, user_id, lock=True)
            if tokens is None:
                raise _log_in_again(user_id)
            now = utcnow()
            if not tokens.expiring(now, self.margin):
                return tokens.access_token  # refreshed by another worker meanwhile
            still_valid = tokens.expires is not None and tokens.expires > now
            answer = None
            if tokens.refresh_token is not None:
                try:
                    answer = self._ask(user_id, tokens.refresh_token)
                except WikiUnavailable:
                    if not still_valid:
                        raise
                    log.warning("using user %d's OAuth token until it expires", user_id)
                    return tokens.access_token
            elif still_valid:
                return tokens.access_token  # nothing to refresh it with, yet usable
            if answer is not None:
                store_token(session, self.cipher, user_id, answer, now=utcnow())
                log.info("refreshed the OAuth token of user %d", user_id)
                return str(answer["access_token"])
            forget_tokens(session, user_id)  # refused, or expired with no refresh token
        raise _log_in_again(user_id)  # once the deletion is committed

    def _ask(self, user_id: int, refresh_token: str) -> dict[str, Any] | None:
        """The wiki's new token pair, or None when it refused the refresh token for good."""
        client = OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_post",
            headers={"User-Agent": self.user_agent},
            timeout=self.timeout,
        )
        try:
            with client:
                answer: dict[str, Any] = dict(
                    client.refresh_token(self.token_url, refresh_token=refresh_token)
                )
        except OAuthError as error:
            if _refused(error):
                log.warning(
                    "the wiki refused to refresh the OAuth token of user %d (%s): forgotten",
                    user_id,
                    error.error,
                )
                return None
            if error.error == "invalid_client":
                raise NotConfigured(
                    "The wiki refused our OAuth consumer (invalid_client): check "
                    "WIKILOOM_OAUTH_CONSUMER_KEY and WIKILOOM_OAUTH_CONSUMER_SECRET."
                ) from None
            raise WikiError(
                f"The wiki refused to refresh user {user_id}'s OAuth token: {error.error}",
                str(error.error or "oauth"),
            ) from None
        except (httpx2.HTTPError, ValueError) as error:
            # Neither the request nor the answer is in the message: both carry tokens.
            raise WikiUnavailable(
                f"The wiki's OAuth token endpoint failed ({type(error).__name__}); try again later."
            ) from None
        if not isinstance(answer.get("access_token"), str) or not answer["access_token"]:
            raise WikiError("The wiki's refresh answer has no access_token", "oauth")
        if not answer.get("refresh_token"):  # RFC 6749 §6: the old one stays valid then
            answer["refresh_token"] = refresh_token
        return answer
