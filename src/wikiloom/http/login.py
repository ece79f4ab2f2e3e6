"""Login through MediaWiki OAuth 2.0 or 1.0a with Authlib, against Meta-Wiki by default.

One `Login` is made per application from its settings. It sends the browser to the wiki,
and on the way back exchanges the code (2.0) or verifier (1.0a) for a token, then asks the
wiki who the user is: the OAuth 2 profile resource, or the OAuth 1.0a identify JWT (HS256,
signed with the consumer secret, checked here). The callback URL is the one registered with
the consumer: OAuth 2 requests omit `redirect_uri` and OAuth 1.0a sends `oauth_callback=oob`,
as MediaWiki expects.

After an OAuth 2.0 login the user's tokens are kept, encrypted (`wikiloom.faces.credentials`),
for the jobs that edit as them; without a token key (outside development) they are not, a
warning says so once, and the login works as before.
"""

from __future__ import annotations

import logging
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

import httpx2
from authlib.integrations.starlette_client import OAuth, OAuthError
from cryptography.fernet import MultiFernet
from fastapi import Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.errors import InvalidClaimError, JoseError
from joserfc.jwk import OctKey

from wikiloom.config import Settings
from wikiloom.errors import Forbidden, NotConfigured, WikiError, WikiUnavailable
from wikiloom.faces.credentials import store_token, token_cipher
from wikiloom.http.deps import in_transaction

log = logging.getLogger(__name__)

CLIENT_NAME = "mediawiki"
NO_STATE = "OAuth callback failed.  Are cookies disabled?"  # Wiki labels' message
LEEWAY = 30  # seconds of clock difference tolerated on the identify JWT's iat and exp


class IdentityClaims(jwt.JWTClaimsRegistry):
    """MediaWiki's identify claims: `sub` is the central user id, a number."""

    def validate_sub(self, value: object) -> None:
        """Accept the central user id, which MediaWiki sends as a JSON number."""
        if central_id(value) is None:
            raise InvalidClaimError("sub")


def central_id(value: object) -> int | None:
    """A positive central user id from a JSON number or a string of digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdecimal():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


def verify_identity(
    token: str, *, secret: str, consumer_key: str, issuer: str, nonce: str
) -> dict[str, Any]:
    """The claims of an identify JWT, once its signature, iss, aud, nonce, iat, exp hold."""
    claims = IdentityClaims(
        leeway=LEEWAY,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": consumer_key},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        iat={"essential": True},
        exp={"essential": True},
        username={"essential": True},
    )
    try:
        decoded = jwt.decode(token.strip(), OctKey.import_key(secret), algorithms=["HS256"])
        claims.validate(decoded.claims)
    except (JoseError, ValueError) as error:
        reason = getattr(error, "description", None) or type(error).__name__
        message = f"Login failed: the wiki's identity answer is not valid ({reason})."
        raise Forbidden(message) from error
    return decoded.claims


def sent_nonce(request: httpx2.Request) -> str:
    """The `oauth_nonce` Authlib signed into the Authorization header of `request`."""
    header = request.headers.get("Authorization", "")
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "oauth":
        return ""
    values = parse_keqv_list(parse_http_list(params))
    return unquote(values.get("oauth_nonce", ""))


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Login:
    """The MediaWiki OAuth client of one application."""

    def __init__(self, settings: Settings) -> None:
        self.version: Literal["2.0", "1.0a"] = settings.oauth_version
        self.wiki = settings.oauth_wiki.rstrip("/")
        self.consumer_key = settings.oauth_consumer_key or ""
        secret = settings.oauth_consumer_secret
        self.consumer_secret = secret.get_secret_value() if secret else ""
        self.profile_url = f"{self.wiki}/w/rest.php/oauth2/resource/profile"
        self.identify_url = f"{self.wiki}/w/index.php?title=Special:OAuth/identify"
        missing = [
            name
            for name, value in [
                ("WIKILOOM_OAUTH_CONSUMER_KEY", self.consumer_key),
                ("WIKILOOM_OAUTH_CONSUMER_SECRET", self.consumer_secret),
                ("WIKILOOM_USER_AGENT", (settings.user_agent or "").strip()),
            ]
            if not value
        ]
        self.missing = missing
        #: The cipher of kept tokens (OAuth 2.0 only), or why there is none.
        self.cipher: MultiFernet | None = None
        self.cipher_problem = ""
        self._warned = False
        if self.version == "2.0":
            try:
                self.cipher = token_cipher(settings)
            except NotConfigured as error:
                self.cipher_problem = error.message
        self.client: Any = None
        if not missing:
            self.client = self._register(str(settings.user_agent), settings.wiki_timeout)

    def _register(self, user_agent: str, timeout: float) -> Any:
        """Register the wiki with a fresh Authlib registry (nothing shared between apps)."""
        oauth = OAuth()
        common: dict[str, Any] = {
            "client_id": self.consumer_key,
            "client_secret": self.consumer_secret,
            "user_agent": user_agent,
        }
        if self.version == "2.0":
            return oauth.register(
                CLIENT_NAME,
                authorize_url=f"{self.wiki}/w/rest.php/oauth2/authorize",
                access_token_url=f"{self.wiki}/w/rest.php/oauth2/access_token",
                client_kwargs={
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": "client_secret_post",
                    "timeout": timeout,
                },
                **common,
            )
        special = f"{self.wiki}/w/index.php?title=Special:OAuth"
        return oauth.register(
            CLIENT_NAME,
            request_token_url=f"{special}/initiate",
            authorize_url=f"{self.wiki}/wiki/Special:OAuth/authorize",
            authorize_params={"oauth_consumer_key": self.consumer_key},
            access_token_url=f"{special}/token",
            client_kwargs={"timeout": timeout},
            **common,
        )

    def _configured(self) -> Any:
        if self.client is None:
            raise NotConfigured(
                f"Login is not configured on this server: set {', '.join(self.missing)} "
                f"(register an OAuth consumer on {self.wiki})."
            )
        return self.client

    async def redirect(self, request: Request, next_path: str) -> RedirectResponse:
        """Start the handshake: remember it in the session and send the browser to the wiki."""
        client = self._configured()
        callback = "oob" if self.version == "1.0a" else None
        try:
            found: dict[str, Any] = await client.create_authorization_url(callback)
        except OAuthError as error:
            raise WikiError(
                f"{self.wiki} refused to start the login: {error.description or error.error}",
                str(error.error or "oauth"),
            ) from error
        except (KeyError, ValueError) as error:
            message = f"{self.wiki} answered the login start unexpectedly"
            raise WikiError(message, "oauth") from error
        except httpx2.HTTPError as error:
            raise WikiUnavailable(f"{self.wiki} could not be reached: {error}") from error
        url = found.pop("url")
        await client.save_authorize_data(request, redirect_uri=callback, next=next_path, **found)
        return RedirectResponse(url, status_code=302)

    async def complete(self, request: Request) -> tuple[dict[str, Any], str]:
        """Finish the handshake: the user (`id`, `name`) and the page to return to."""
        client = self._configured()
        state = request.query_params.get("state" if self.version == "2.0" else "oauth_token")
        pending = await client.framework.get_state_data(request.session, state) if state else None
        if not isinstance(pending, dict):
            raise Forbidden(NO_STATE)
        try:
            token = await client.authorize_access_token(request)
            if self.version == "2.0":
                user = await self._profile(client, token)
            else:
                user = await self._identify(client, token)
        except OAuthError as error:
            reason = ": ".join(str(part) for part in (error.error, error.description) if part)
            reason = reason.rstrip(". ") or "no"
            raise Forbidden(f"Login failed: {self.wiki} answered {reason}.") from error
        except httpx2.HTTPError as error:
            raise WikiUnavailable(f"{self.wiki} could not be reached: {error}") from error
        except (KeyError, ValueError) as error:
            message = f"{self.wiki} answered the login's completion unexpectedly"
            raise WikiError(message, "oauth") from error
        if self.version == "2.0":
            await self._keep(request, user, token)
        return user, str(pending.get("next") or "/")

    async def _keep(self, request: Request, user: dict[str, Any], token: dict[str, Any]) -> None:
        """Keep the user's OAuth 2.0 tokens, encrypted, for the jobs that edit as them."""
        cipher = self.cipher
        if cipher is None:
            if not self._warned:
                self._warned = True
                log.warning(
                    "users' OAuth tokens are not kept, so jobs cannot edit as them: %s",
                    self.cipher_problem,
                )
            return
        await in_transaction(
            request,
            lambda session: store_token(session, cipher, user["id"], token, user_name=user["name"]),
            write=True,
        )

    async def _profile(self, client: Any, token: dict[str, Any]) -> dict[str, Any]:
        """The user of an OAuth 2 access token, from the wiki's profile resource."""
        response: httpx2.Response = await client.get(self.profile_url, token=token)
        if response.status_code >= 400:
            raise Forbidden(f"Login failed: {self.wiki} refused the profile request.")
        try:
            profile = response.json()
        except ValueError as error:
            raise WikiError(f"{self.wiki} answered a profile that is not JSON", "oauth") from error
        return self._user(profile.get("sub"), profile.get("username"))

    async def _identify(self, client: Any, token: dict[str, Any]) -> dict[str, Any]:
        """The user of an OAuth 1.0a access token, from the wiki's identify JWT."""
        response: httpx2.Response = await client.post(self.identify_url, token=token)
        if response.status_code >= 400:
            raise Forbidden(f"Login failed: {self.wiki} refused the identify request.")
        claims = verify_identity(
            response.text,
            secret=self.consumer_secret,
            consumer_key=self.consumer_key,
            issuer=origin(self.wiki),
            nonce=sent_nonce(response.request),
        )
        return self._user(claims.get("sub"), claims.get("username"))

    def _user(self, sub: object, username: object) -> dict[str, Any]:
        user_id = central_id(sub)
        if user_id is None or not isinstance(username, str) or not username:
            raise WikiError(f"{self.wiki} did not name the user (sub, username)", "oauth")
        return {"id": user_id, "name": username}
