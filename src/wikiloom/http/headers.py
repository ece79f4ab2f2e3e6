"""A Content-Security-Policy on every HTML answer, for the pages rendered without `render`."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wikiloom.http.rendering import content_security_policy


class DefaultContentSecurityPolicy:
    """Give text/html answers without a Content-Security-Policy the one of our pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; complete the headers of an HTML answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                if html and "content-security-policy" not in headers:
                    policy = content_security_policy(Request(scope))
                    headers["Content-Security-Policy"] = policy
            await send(message)

        await self.app(scope, receive, send_with_policy)
