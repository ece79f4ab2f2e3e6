"""A stand-in for MediaWiki's OAuth provider (Extension:OAuth), built on Authlib's server side.

This machine has no MediaWiki with the OAuth extension (Debian's package lacks it), so the
login tests talk to this stand-in instead. It mimics what wikiloom relies on:

* OAuth 2.0 (`authlib.oauth2` AuthorizationServer + AuthorizationCodeGrant, PKCE, and
  RefreshTokenGrant): `GET /w/rest.php/oauth2/authorize`, `POST /w/rest.php/oauth2/access_token`
  (grant types `authorization_code` and `refresh_token`), and
  `GET /w/rest.php/oauth2/resource/profile` answering `sub`, `username`, `editcount`,
  `confirmed_email`, `blocked`, `registered`, `groups`, `rights`, `grants`. Access tokens
  last four hours and come with a refresh token; as MediaWiki (league/oauth2-server) does, a
  refresh ROTATES it: the answer carries a new refresh token, and the old refresh token and
  its access token are revoked (used again: `invalid_grant`).
* OAuth 1.0a (`authlib.oauth1` AuthorizationServer + ResourceProtector, HMAC-SHA1):
  `/w/index.php?title=Special:OAuth/initiate` (only `oauth_callback=oob`, as for consumers
  without a callback prefix), `/wiki/Special:OAuth/authorize?oauth_token=…&oauth_consumer_key=…`,
  `/w/index.php?title=Special:OAuth/token`, and `/w/index.php?title=Special:OAuth/identify`
  answering a JWT signed HS256 with the consumer secret: `iss` (the wiki's canonical server),
  `sub` (central user id, a number), `aud` (the consumer key), `exp`, `iat`, `nonce` (the
  request's `oauth_nonce`), `username`, `editcount`, `confirmed_email`, `blocked`,
  `registered`, `groups`, `rights`, `grants`.

The authorize endpoints show no consent page: they approve at once as the consumer's
configured user and redirect to the consumer's registered callback URL. A consumer's `forge`
makes identify answer a bad JWT (wrong `aud`, wrong `nonce`, bad signature, expired).
`serve_provider()` runs it on a real uvicorn on a free loopback port in a background thread
named `PROVIDER_THREAD` (so that tests can tell the wiki's log records from ours).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from authlib.common.urls import url_encode
from authlib.oauth1 import AuthorizationServer as OAuth1AuthorizationServer
from authlib.oauth1 import OAuth1Request, TemporaryCredential
from authlib.oauth1 import ResourceProtector as OAuth1ResourceProtector
from authlib.oauth1.rfc5849.errors import OAuth1Error
from authlib.oauth2 import AuthorizationServer as OAuth2AuthorizationServer
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2 import ResourceProtector as OAuth2ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

Forgery = Literal["aud", "nonce", "signature", "expired"]
#: The name of the thread the provider's uvicorn runs in.
PROVIDER_THREAD = "stand-in-wiki"
#: MediaWiki's access tokens last four hours.
ACCESS_TOKEN_LIFETIME = 14400


@dataclass(frozen=True)
class WikiAccount:
    """A user of the stand-in wiki, as the profile and identify answers describe them."""

    central_id: int
    username: str
    editcount: int = 1234
    groups: tuple[str, ...] = ("*", "user", "autoconfirmed")
    rights: tuple[str, ...] = ("read", "edit")
    registered: str = "20150101000000"
    confirmed_email: bool = True
    blocked: bool = False

    def describe(self, grants: list[str]) -> dict[str, Any]:
        """The fields MediaWiki's profile resource and identify JWT share."""
        return {
            "sub": self.central_id,
            "username": self.username,
            "editcount": self.editcount,
            "confirmed_email": self.confirmed_email,
            "blocked": self.blocked,
            "registered": self.registered,
            "groups": list(self.groups),
            "rights": list(self.rights),
            "grants": grants,
        }


DEFAULT_ACCOUNT = WikiAccount(central_id=608705, username="Loom Tester")


@dataclass
class Consumer:
    """A registered consumer: its version, credentials, callback URL and approving user."""

    version: Literal["2.0", "1.0a"]
    callback: str
    account: WikiAccount = DEFAULT_ACCOUNT
    key: str = field(default_factory=lambda: secrets.token_hex(16))
    secret: str = field(default_factory=lambda: secrets.token_hex(20))
    grants: list[str] = field(default_factory=lambda: ["basic"])
    forge: Forgery | None = None

    # OAuth 1.0a client model (authlib.oauth1.ClientMixin)
    def get_default_redirect_uri(self) -> str:
        return self.callback

    def get_client_secret(self) -> str:
        return self.secret

    def get_rsa_public_key(self) -> None:
        return None

    # OAuth 2 client model (authlib.oauth2.rfc6749.ClientMixin)
    def get_client_id(self) -> str:
        return self.key

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or "basic"

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.callback

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_post", "client_secret_basic"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in {"authorization_code", "refresh_token"}


@dataclass
class AuthorizationCode:
    """An OAuth 2 authorization code, with its PKCE challenge."""

    code: str
    consumer: Consumer
    redirect_uri: str | None
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class BearerToken:
    """An OAuth 2 access token and its refresh token; a refresh revokes both."""

    access_token: str
    consumer: Consumer
    scope: str
    expires_at: float
    refresh_token: str | None = None
    revoked: bool = False

    def check_client(self, client: Consumer) -> bool:
        return client is self.consumer

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> WikiAccount:
        return self.consumer.account

    def get_client(self) -> Consumer:
        return self.consumer


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An Authlib OAuth 2 request made from a Starlette request's parts."""

    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._args = dict(request.query_params)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._args, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


def to_response(status: int, body: Any, headers: list[tuple[str, str]] | None) -> Response:
    """A Starlette response from Authlib's (status, body, headers)."""
    if isinstance(body, dict):
        return JSONResponse(body, status_code=status, headers=dict(headers or []))
    if isinstance(body, list):
        body = url_encode(body)
    return Response(body or "", status_code=status, headers=dict(headers or []))


class MediaWikiOAuth:
    """The stand-in provider's state and its two Authlib servers."""

    def __init__(self) -> None:
        self.url = ""  # set once served: the wiki's canonical server, e.g. http://127.0.0.1:PORT
        self.consumers: dict[str, Consumer] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.bearer_tokens: dict[str, BearerToken] = {}
        self.refresh_tokens: dict[str, BearerToken] = {}
        #: Requests for the `refresh_token` grant received, refused ones included.
        self.refresh_requests = 0
        #: Seconds the token endpoint waits before answering a refresh (to make races).
        self.refresh_delay = 0.0
        self.request_tokens: dict[str, TemporaryCredential] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.nonces: set[tuple[str, ...]] = set()
        self.lock = threading.Lock()
        self.oauth2 = self._oauth2_server()
        self.profile_protector = OAuth2ResourceProtector()
        self.profile_protector.register_token_validator(self._bearer_validator())
        self.oauth1 = self._oauth1_server()
        self.identify_protector = self._oauth1_protector()

    def add_consumer(
        self,
        version: Literal["2.0", "1.0a"],
        callback: str,
        account: WikiAccount = DEFAULT_ACCOUNT,
    ) -> Consumer:
        """Register a consumer (as Special:OAuthConsumerRegistration would) and return it."""
        consumer = Consumer(version=version, callback=callback, account=account)
        self.consumers[consumer.key] = consumer
        return consumer

    def consumer(self, key: str | None, version: str) -> Consumer | None:
        """The consumer with `key`, if it was registered for `version`."""
        found = self.consumers.get(key or "")
        return found if found is not None and found.version == version else None

    def exists_nonce(self, nonce: str, request: OAuth1Request) -> bool:
        """Whether this nonce was seen with the same timestamp, consumer and token."""
        key = (nonce, str(request.timestamp), str(request.client_id), str(request.token))
        with self.lock:
            if key in self.nonces:
                return True
            self.nonces.add(key)
        return False

    # OAuth 2.0

    def _oauth2_server(self) -> Any:
        provider = self

        class Server(OAuth2AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> Consumer | None:
                return provider.consumer(client_id, "2.0")

            def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
                provider.keep(
                    BearerToken(
                        access_token=token["access_token"],
                        consumer=request.client,
                        scope=token.get("scope", ""),
                        expires_at=time.time() + token["expires_in"],
                        refresh_token=token.get("refresh_token"),
                    )
                )

            def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
                return request

            def handle_response(
                self, status: int, body: Any, headers: list[tuple[str, str]]
            ) -> Response:
                return to_response(status, body, headers)

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                return None

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
                provider.codes[code] = AuthorizationCode(
                    code=code,
                    consumer=request.client,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.scope or "basic",
                    code_challenge=request.payload.data.get("code_challenge"),
                    code_challenge_method=request.payload.data.get("code_challenge_method"),
                )

            def query_authorization_code(
                self, code: str, client: Consumer
            ) -> AuthorizationCode | None:
                found = provider.codes.get(code)
                return found if found is not None and found.consumer is client else None

            def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthorizationCode) -> WikiAccount:
                return authorization_code.consumer.account

        class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
            INCLUDE_NEW_REFRESH_TOKEN = True  # MediaWiki rotates refresh tokens
            TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

            def authenticate_refresh_token(self, refresh_token: str) -> BearerToken | None:
                found = provider.refresh_tokens.get(refresh_token)
                return found if found is not None and not found.revoked else None

            def authenticate_user(self, refresh_token: BearerToken) -> WikiAccount:
                return refresh_token.get_user()

            def revoke_old_credential(self, refresh_token: BearerToken) -> None:
                refresh_token.revoked = True  # the refresh token and its access token

        server = Server()
        server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(32),
                refresh_token_generator=lambda **_: secrets.token_urlsafe(32),
                expires_generator=ACCESS_TOKEN_LIFETIME,
            ),
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=False)])
        server.register_grant(RefreshGrant)
        return server

    def keep(self, token: BearerToken) -> None:
        """Remember a token issued, by its access token and its refresh token."""
        self.bearer_tokens[token.access_token] = token
        if token.refresh_token is not None:
            self.refresh_tokens[token.refresh_token] = token

    def issue(self, consumer: Consumer, expires_in: int = ACCESS_TOKEN_LIFETIME) -> dict[str, Any]:
        """Issue a token pair to `consumer`'s user, as a login would; the token response."""
        token = BearerToken(
            access_token=secrets.token_urlsafe(32),
            consumer=consumer,
            scope="basic",
            expires_at=time.time() + expires_in,
            refresh_token=secrets.token_urlsafe(32),
        )
        self.keep(token)
        return {
            "token_type": "Bearer",
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_in": expires_in,
            "scope": token.scope,
        }

    def revoke(self, refresh_token: str) -> None:
        """Revoke a token pair, as the user does at Special:OAuthManageMyGrants."""
        self.refresh_tokens[refresh_token].revoked = True

    def valid(self, access_token: str) -> bool:
        """Whether the wiki accepts this access token now."""
        found = self.bearer_tokens.get(access_token)
        return found is not None and not found.is_revoked() and not found.is_expired()

    def _bearer_validator(self) -> Any:
        provider = self

        class Validator(BearerTokenValidator):  # type: ignore[misc]
            def authenticate_token(self, token_string: str) -> BearerToken | None:
                return provider.bearer_tokens.get(token_string)

        return Validator()

    async def oauth2_authorize(self, request: Request) -> Response:
        """Approve at once as the consumer's user; redirect to its callback with a code."""
        oauth_request = StarletteOAuth2Request(request, {})
        consumer = self.consumer(request.query_params.get("client_id"), "2.0")
        try:
            grant = self.oauth2.get_consent_grant(oauth_request, end_user=None)
        except OAuth2Error as error:
            return to_response(*error())
        response: Response = self.oauth2.create_authorization_response(
            oauth_request, grant_user=consumer.account if consumer else None, grant=grant
        )
        return response

    async def oauth2_token(self, request: Request) -> Response:
        """Exchange a code (and PKCE verifier), or a refresh token, for a bearer token."""
        form = {key: str(value) for key, value in (await request.form()).items()}
        if form.get("grant_type") == "refresh_token":
            self.refresh_requests += 1
            await asyncio.sleep(self.refresh_delay)
        response: Response = self.oauth2.create_token_response(
            StarletteOAuth2Request(request, form)
        )
        return response

    async def oauth2_profile(self, request: Request) -> Response:
        """MediaWiki's profile resource for the bearer token's user."""
        try:
            token = self.profile_protector.validate_request(
                None, StarletteOAuth2Request(request, {})
            )
        except OAuth2Error as error:
            return to_response(*error())
        consumer = token.get_client()
        return JSONResponse(consumer.account.describe(consumer.grants))

    # OAuth 1.0a

    def _oauth1_server(self) -> Any:
        provider = self

        class Server(OAuth1AuthorizationServer):  # type: ignore[misc]
            def get_client_by_id(self, client_id: str) -> Consumer | None:
                return provider.consumer(client_id, "1.0a")

            def exists_nonce(self, nonce: str, request: OAuth1Request) -> bool:
                return provider.exists_nonce(nonce, request)

            def create_oauth1_request(self, request: OAuth1Request) -> OAuth1Request:
                return request

            def handle_response(
                self, status: int, body: Any, headers: list[tuple[str, str]]
            ) -> Response:
                return to_response(status, body, headers)

            def create_temporary_credential(self, request: OAuth1Request) -> TemporaryCredential:
                credential = TemporaryCredential(
                    oauth_token=secrets.token_hex(16),
                    oauth_token_secret=secrets.token_hex(20),
                    client_id=request.client_id,
                    oauth_callback=request.redirect_uri,
                )
                provider.request_tokens[credential["oauth_token"]] = credential
                return credential

            def get_temporary_credential(self, request: OAuth1Request) -> Any:
                return provider.request_tokens.get(request.token or "")

            def delete_temporary_credential(self, request: OAuth1Request) -> None:
                provider.request_tokens.pop(request.token or "", None)

            def create_authorization_verifier(self, request: OAuth1Request) -> str:
                verifier = secrets.token_hex(16)
                request.credential["oauth_verifier"] = verifier
                request.credential["account"] = request.user
                return verifier

            def create_token_credential(self, request: OAuth1Request) -> Any:
                credential = TemporaryCredential(
                    oauth_token=secrets.token_hex(16),
                    oauth_token_secret=secrets.token_hex(20),
                    client_id=request.credential.get_client_id(),
                    account=request.credential["account"],
                )
                provider.access_tokens[credential["oauth_token"]] = credential
                return credential

        return Server()

    def _oauth1_protector(self) -> Any:
        provider = self

        class Protector(OAuth1ResourceProtector):  # type: ignore[misc]
            def get_client_by_id(self, client_id: str) -> Consumer | None:
                return provider.consumer(client_id, "1.0a")

            def exists_nonce(self, nonce: str, request: OAuth1Request) -> bool:
                return provider.exists_nonce(nonce, request)

            def get_token_credential(self, request: OAuth1Request) -> Any:
                return provider.access_tokens.get(request.token or "")

        return Protector()

    async def index_php(self, request: Request) -> Response:
        """`/w/index.php?title=Special:OAuth/…`: initiate, token and identify."""
        title = request.query_params.get("title", "")
        body = (await request.body()).decode()
        try:
            oauth_request = OAuth1Request(request.method, str(request.url), body, request.headers)
            if title == "Special:OAuth/initiate":
                if oauth_request.redirect_uri != "oob":
                    return PlainTextResponse("Error: mwoauth-callback-not-oob", status_code=400)
                response: Response = self.oauth1.create_temporary_credentials_response(
                    oauth_request
                )
                return response
            if title == "Special:OAuth/token":
                response = self.oauth1.create_token_response(oauth_request)
                return response
            if title == "Special:OAuth/identify":
                checked = self.identify_protector.validate_request(
                    request.method, str(request.url), body, request.headers
                )
                return PlainTextResponse(self.identity_jwt(checked), media_type="application/jwt")
        except OAuth1Error as error:
            return to_response(error.status_code, error.get_body(), error.get_headers())
        return PlainTextResponse(f"No such special page: {title}", status_code=404)

    async def authorize_page(self, request: Request) -> Response:
        """`/wiki/Special:OAuth/authorize`: approve at once and redirect to the callback."""
        oauth_request = OAuth1Request(request.method, str(request.url), None, request.headers)
        credential = self.request_tokens.get(oauth_request.token or "")
        key = request.query_params.get("oauth_consumer_key")
        if credential is None or key != credential.get_client_id():
            return PlainTextResponse("Error: mwoauth-invalid-authorization", status_code=400)
        account = self.consumers[credential.get_client_id()].account
        response: Response = self.oauth1.create_authorization_response(
            oauth_request, grant_user=account
        )
        return response

    def identity_jwt(self, checked: OAuth1Request) -> str:
        """The identify answer: a JWT about the token's user, forged if the consumer says so."""
        consumer: Consumer = checked.client
        account: WikiAccount = checked.credential["account"]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": consumer.key,
            "exp": now + 100,
            "iat": now,
            "nonce": checked.oauth_params["oauth_nonce"],
            **account.describe(consumer.grants),
        }
        secret = consumer.secret
        if consumer.forge == "aud":
            claims["aud"] = secrets.token_hex(16)
        elif consumer.forge == "nonce":
            claims["nonce"] = secrets.token_hex(8)
        elif consumer.forge == "signature":
            secret = secrets.token_hex(20)
        elif consumer.forge == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 3500
        return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(secret))

    def app(self) -> Starlette:
        """The provider as an ASGI application with MediaWiki's paths."""
        return Starlette(
            routes=[
                Route("/w/rest.php/oauth2/authorize", self.oauth2_authorize),
                Route("/w/rest.php/oauth2/access_token", self.oauth2_token, methods=["POST"]),
                Route("/w/rest.php/oauth2/resource/profile", self.oauth2_profile),
                Route("/w/index.php", self.index_php, methods=["GET", "POST"]),
                Route("/wiki/Special:OAuth/authorize", self.authorize_page),
            ]
        )


def loopback_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1, for a server to listen on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    """The http URL of a bound loopback socket."""
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serve_asgi(
    app: Any, sock: socket.socket, timeout: float = 10.0, name: str | None = None
) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn on `sock`, in a background thread."""
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=name)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()


@contextmanager
def serve_provider() -> Iterator[MediaWikiOAuth]:
    """Run a stand-in provider on uvicorn on a free loopback port, in a background thread."""
    provider = MediaWikiOAuth()
    sock = loopback_socket()
    provider.url = url_of(sock)
    with serve_asgi(provider.app(), sock, name=PROVIDER_THREAD):
        yield provider
