"""Responses in the shapes clients expect: JSON, or JSONP when `?callback=` is given."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from wikiloom.errors import AppError

_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,63}$")
#: Bytes gathered before a streamed body is handed to the server (one thread hop each).
STREAM_CHUNK = 64 * 1024


def respond(
    request: Request,
    body: dict[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Answer JSON, or `callback(body);` with status 200 (JSONP), as Wiki labels did: an
    error's status then travels inside the body as `http_status`, a success's does not."""
    callback = request.query_params.get("callback")
    if callback is None or not _CALLBACK.match(callback):  # never echo arbitrary script
        return Response(
            orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
        )
    payload = orjson.dumps(body if status < 400 else {**body, "http_status": status}).decode()
    return Response(f"{callback}({payload});", media_type="application/javascript; charset=utf-8")


def respond_streamed(
    request: Request, head: dict[str, Any], name: str, items: Iterable[Any]
) -> StreamingResponse:
    """Answer the bytes `respond` would for `{**head, name: [*items]}`, without the list.

    The items are encoded one by one and sent in chunks of about `STREAM_CHUNK` bytes as
    they come (`items` may hold a database cursor: it is read in the thread pool). The
    status is 200: whatever can fail with an error envelope must fail before this.
    """
    callback = request.query_params.get("callback")
    jsonp = callback is not None and _CALLBACK.match(callback) is not None
    opening = orjson.dumps(head)[:-1] + (b"," if head else b"") + orjson.dumps(name) + b":["
    closing = b"]}"
    if jsonp:
        opening = f"{callback}(".encode() + opening
        closing = b"]});"

    def chunks() -> Iterator[bytes]:
        parts, size, separator = [opening], 0, b""
        for item in items:
            encoded = orjson.dumps(item)
            parts += (separator, encoded)
            separator = b","
            size += len(encoded) + 1
            if size >= STREAM_CHUNK:
                yield b"".join(parts)
                parts, size = [], 0
        parts.append(closing)
        yield b"".join(parts)

    media = "application/javascript; charset=utf-8" if jsonp else "application/json"
    return StreamingResponse(chunks(), media_type=media)


def error_body(error: AppError) -> dict[str, Any]:
    """The Wiki labels (and ORES) error envelope."""
    return {"error": {"code": error.code, "message": error.message}}
