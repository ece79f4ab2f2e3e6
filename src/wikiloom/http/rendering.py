"""HTML pages: one template environment, the page's language and direction, and its CSP.

Every page is rendered in a language: `?uselang=`, else the wiki's content language for a
page of one wiki, else the browser's Accept-Language among the languages we have messages
for, else English. Templates call `msg(key, *params)`.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

from babel import negotiate_locale
from fastapi import Request
from fastapi.responses import HTMLResponse

from wikiloom.http.identity import session_user
from wikiloom.http.messages import Messages, language_code
from wikiloom.wiki.languages import DEFAULT, direction
from wikiloom.wiki.registry import wiki_language


def page_language(request: Request, wiki: str | None = None) -> str:
    """The language a page is shown in (see the module's docstring)."""
    chosen = language_code(request.query_params.get("uselang"))
    if chosen:
        return chosen
    if wiki is not None:
        return wiki_language(wiki, request.app.state.settings.wikis, DEFAULT)
    messages: Messages = request.app.state.messages
    header = request.headers.get("accept-language", "")
    preferred = [part.split(";")[0].strip() for part in header.split(",") if part.strip()]
    found = negotiate_locale(preferred, messages.languages(), sep="-")
    return found.lower() if found else DEFAULT


@cache
def _policy(wikis: tuple[str, ...]) -> str:
    origins = "".join(
        f" {o}" for o in sorted({f"{p.scheme}://{p.netloc}" for p in map(urlsplit, wikis)})
    )
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: https:{origins}; connect-src 'self' https:{origins}; "
        f"frame-src 'self' https:{origins}; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'self'"
    )


def content_security_policy(request: Request) -> str:
    """Scripts only from this server; wiki APIs, images and frames from wikis."""
    return _policy(tuple(request.app.state.settings.wikis.values()))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    wiki: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render `template` in the page's language, with `msg`, `lang`, `dir` and `user`."""
    language = page_language(request, wiki)
    messages: Messages = request.app.state.messages

    def msg(key: str, *params: object) -> str:
        return messages.text(language, key, *params)

    values = {
        "msg": msg,
        "lang": language,
        "dir": direction(language),
        "user": session_user(request),
        "wiki": wiki,
        **(context or {}),
    }
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, template, values, status_code=status
    )
    response.headers["Content-Security-Policy"] = content_security_policy(request)
    return response
