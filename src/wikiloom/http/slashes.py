"""Slash redirects as Wiki labels sent them: 308 Permanent Redirect (method and body kept)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PermanentSlashRedirects:
    """Turn the router's 307 from a path to the same path with(out) its slash into a 308."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; rewrite the status of a slash redirect's answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        slashed = {path + "/", path.rstrip("/")}

        async def send_permanent(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 307:
                location = MutableHeaders(raw=message["headers"]).get("location", "")
                if urlsplit(location).path in slashed:
                    message = {**message, "status": 308}
            await send(message)

        await self.app(scope, receive, send_permanent)
