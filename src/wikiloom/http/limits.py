"""A global cap on request bodies: 413 in the error envelope, before a route buffers too much.

The cap is `max_body_bytes` (docs/settings.md); task uploads (`POST .../tasks/`) may carry up
to their own larger limit. A declared Content-Length over the cap is refused before the app
runs; a body without one (chunked), or longer than it declared, is counted as it is read and
refused as soon as it passes the cap.
"""

from __future__ import annotations

import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wikiloom.errors import AppError

#: Paths whose POST bodies may be larger: the task uploads of organizers (JSON lines).
_TASK_UPLOADS = re.compile(r"^/campaigns/[^/]+/\d+/tasks/?$")


class BodyTooLarge(AppError):
    """A request body is larger than the server accepts."""

    code = "too large"
    status = 413


class BodyLimit:
    """Refuse request bodies over `max_bytes` (`upload_bytes` for task uploads) with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = max(upload_bytes, max_bytes)

    def limit(self, scope: Scope) -> int:
        """The largest body accepted for this request."""
        upload = scope["method"] == "POST" and _TASK_UPLOADS.match(scope["path"])
        return self.upload_bytes if upload else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting `receive`, or refuse it at once."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope)
        message = f"the request body must be at most {limit} bytes"
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, BodyTooLarge.code, message)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(message)  # the app's handler answers 413
            return event

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses it; the counting catches a lie anyway
    return None


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
