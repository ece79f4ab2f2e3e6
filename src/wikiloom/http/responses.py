"""Responses in the shapes clients expect: JSON, or JSONP when `?callback=` is given."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from wikiloom.errors import AppError

_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,63}$")


def respond(
    request: Request,
    body: dict[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Answer JSON, or `callback(body);` with status 200 and `http_status` inside (JSONP)."""
    callback = request.query_params.get("callback")
    if callback is None or not _CALLBACK.match(callback):  # never echo arbitrary script
        return Response(
            orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
        )
    payload = orjson.dumps({**body, "http_status": status}).decode()
    return Response(f"{callback}({payload});", media_type="application/javascript; charset=utf-8")


def error_body(error: AppError) -> dict[str, Any]:
    """The Wiki labels (and ORES) error envelope."""
    return {"error": {"code": error.code, "message": error.message}}
