"""Who is calling: the session's user, the OAuth login and the development login."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from wikiloom.errors import BadRequest, Forbidden, NotFound
from wikiloom.http.login import Login
from wikiloom.http.openapi import RESPONSES, extra, flag, text_param
from wikiloom.http.responses import respond
from wikiloom.labels.organizers import MAX_USER_ID

router = APIRouter(prefix="/auth", tags=["auth"], responses=RESPONSES)
REDIRECT: dict[int | str, dict[str, Any]] = {
    302: {"description": "A redirect: to the wiki's login, or back to our page."}
}


def session_user(request: Request) -> dict[str, Any] | None:
    """The logged-in user (`id` = CentralAuth id, `name`), or None; JSONP calls are anonymous.

    Any page can include a JSONP URL as a script, and with SameSite=None the browser sends
    the cookie along: answering it as the user would tell every site who its visitor is.
    """
    if "callback" in request.query_params:
        return None
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


@router.get("/", openapi_extra=extra())
async def auth_index(request: Request) -> Response:
    """What the auth module offers (Wiki labels' text and paths)."""
    info = (
        "Welcome to the auth module.  You can /auth/initiate an oauth handshake.  You can ask "
        "/auth/whoami?  If you are already logged in, you can /auth/logout."
    )
    return respond(request, {"info": info, "paths": ["initiate", "whoami", "logout"]})


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this site, else "/": never a redirect to another site."""
    if (
        not value
        or len(value) > 2000
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(char == "\\" or char.isspace() or not char.isprintable() for char in value)
    ):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def login_of(request: Request) -> Login:
    """The application's OAuth login."""
    login: Login = request.app.state.login
    return login


@router.get(
    "/initiate/",
    responses=REDIRECT,
    openapi_extra=extra(
        text_param("next", "Our page to come back to after the login (a path, else `/`)."),
        jsonp=False,
    ),
)
async def initiate(request: Request) -> Response:
    """Send the browser to the wiki to log in; `?next=` names our page to come back to."""
    return await login_of(request).redirect(request, safe_next(request.query_params.get("next")))


@router.get(
    "/callback/",
    responses=REDIRECT,
    openapi_extra=extra(
        text_param("code", "OAuth 2.0: the authorization code the wiki sends back."),
        text_param("state", "OAuth 2.0: the state of the login started here."),
        text_param("oauth_token", "OAuth 1.0a: the request token of the login started here."),
        text_param("oauth_verifier", "OAuth 1.0a: the verifier the wiki sends back."),
        jsonp=False,
    ),
)
async def callback(request: Request) -> Response:
    """Finish the login; keep the central user id and username in a fresh session."""
    user, next_path = await login_of(request).complete(request)
    request.session.clear()  # nothing from before the login survives it
    request.session["user"] = user
    return RedirectResponse(safe_next(next_path), status_code=302)


@router.get("/whoami/", openapi_extra=extra(flag("detail", "Adds the username.")))
async def whoami(request: Request) -> Response:
    """`{"user": {"id": N}}`; `?detail` adds the username."""
    user_id = require_user(request)
    user: dict[str, Any] = {"id": user_id}
    if "detail" in request.query_params:
        user["name"] = (session_user(request) or {}).get("name")
    return respond(request, {"user": user})


@router.get("/logout/", openapi_extra=extra())
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


def on_loopback(request: Request) -> bool:
    """The server is configured for loopback and the caller came from there."""
    caller = request.client.host if request.client else ""
    return _is_loopback(request.app.state.settings.host) and _is_loopback(caller)


@router.post("/dev_login/", include_in_schema=False)
async def dev_login(request: Request) -> Response:
    """Log in as any user: only with WIKILOOM_DEV_LOGIN=1 and from loopback; else 404."""
    if not request.app.state.settings.dev_login or not on_loopback(request):
        raise NotFound("/auth/dev_login/")
    form = await request.form()
    try:
        user_id = int(str(form.get("user_id", "")))
    except ValueError as error:
        raise BadRequest("user_id must be an integer") from error
    if not 0 < user_id <= MAX_USER_ID:
        raise BadRequest(f"user_id must be between 1 and {MAX_USER_ID}")
    request.session["user"] = {"id": user_id, "name": str(form.get("username") or "")}
    return respond(request, {"user": {"id": user_id}})
