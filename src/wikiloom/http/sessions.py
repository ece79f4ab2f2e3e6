"""The signed session cookie, with Secure and SameSite flags that follow the request's scheme.

An on-wiki gadget calls us from another site with credentials, which browsers allow only for
`SameSite=None` cookies, and those must be `Secure`. Over plain http (development) a Secure
cookie would be dropped, so there the cookie is `SameSite=Lax` and the gadget path is closed.
"""

from __future__ import annotations

from typing import Literal

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "wikiloom_session"
SECURE_SCHEMES = frozenset({"https", "wss"})


class SessionCookies:
    """Starlette's signed cookie sessions, Secure (and SameSite=None) when over https."""

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        secure: bool | None = None,
        same_site: Literal["auto", "lax", "none"] = "auto",
    ) -> None:
        secure_same_site: Literal["lax", "none"] = "lax" if same_site == "lax" else "none"
        self.secure_cookie = SessionMiddleware(
            app,
            secret_key=secret_key,
            session_cookie=COOKIE,
            same_site=secure_same_site,
            https_only=True,
        )
        self.plain_cookie = SessionMiddleware(
            app, secret_key=secret_key, session_cookie=COOKIE, same_site="lax", https_only=False
        )
        self.secure = True if same_site == "none" else secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read and write the session with the flags this request's scheme calls for."""
        secure = self.secure
        if secure is None:
            secure = scope.get("scheme") in SECURE_SCHEMES
        middleware = self.secure_cookie if secure else self.plain_cookie
        await middleware(scope, receive, send)
