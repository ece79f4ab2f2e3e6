"""Who is calling: the user in the signed session cookie, and the development login."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wikiloom.errors import BadRequest, Forbidden, NotFound
from wikiloom.http.responses import respond

router = APIRouter(prefix="/auth", tags=["auth"])


def session_user(request: Request) -> dict[str, Any] | None:
    """The logged-in user (`id` = CentralAuth id, `name`), or None."""
    user = request.session.get("user")
    return user if isinstance(user, dict) and isinstance(user.get("id"), int) else None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_origin(request: Request) -> None:
    """Refuse a cookie-authenticated write sent by a page of another site (CSRF).

    Browsers name the page's origin on every cross-site write; it must be ours or one of
    the configured gadget origins. Clients that are not browsers send no Origin and
    cannot be tricked into sending the user's cookie, so they pass.
    """
    origin = request.headers.get("origin")
    if request.method in SAFE_METHODS or origin is None:
        return
    own = f"{request.url.scheme}://{request.url.netloc}"
    allowed = request.app.state.settings.cors_origins
    if origin != own and not re.fullmatch(allowed, origin):
        raise Forbidden(f"Cross-site request refused: origin {origin} may not write here.")


def require_user(request: Request) -> int:
    """The caller's central user id; Wiki labels' 403 when nobody is logged in."""
    user = session_user(request)
    if user is None:
        raise Forbidden("This request requires authentication.")
    check_origin(request)
    return int(user["id"])


@router.get("/")
async def auth_index(request: Request) -> Response:
    """What the auth module offers."""
    info = "Welcome to the auth module.  This module provides authentication via OAuth."
    return respond(request, {"info": info, "paths": ["initiate", "whoami", "logout"]})


@router.get("/whoami/")
async def whoami(request: Request) -> Response:
    """`{"user": {"id": N}}`; `?detail` adds the username."""
    user_id = require_user(request)
    user: dict[str, Any] = {"id": user_id}
    if "detail" in request.query_params:
        user["name"] = (session_user(request) or {}).get("name")
    return respond(request, {"user": user})


@router.get("/logout/")
async def logout(request: Request) -> Response:
    """End the session."""
    require_user(request)
    request.session.clear()
    return respond(request, {"success": True})


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _on_loopback(request: Request) -> bool:
    """The server is configured for loopback and the caller came from there."""
    caller = request.client.host if request.client else ""
    return _is_loopback(request.app.state.settings.host) and _is_loopback(caller)


@router.post("/dev_login/", include_in_schema=False)
async def dev_login(request: Request) -> Response:
    """Log in as any user: only with WIKILOOM_DEV_LOGIN=1 and from loopback; else 404."""
    if not request.app.state.settings.dev_login or not _on_loopback(request):
        raise NotFound("/auth/dev_login/")
    form = await request.form()
    try:
        user_id = int(str(form.get("user_id", "")))
    except ValueError as error:
        raise BadRequest("user_id must be an integer") from error
    if user_id <= 0:
        raise BadRequest("user_id must be positive")
    request.session["user"] = {"id": user_id, "name": str(form.get("username") or "")}
    return respond(request, {"user": {"id": user_id}})
