"""The labeling app: choose a wiki (`/ui/`), then label (`/ui/<wiki>/`), or on a wiki page
through the gadget loader (`/gadget/loader.js`).

Both mount the same JavaScript app (`static/ui/app.js`) with the same configuration: this
server's root, the wiki and its Action API, the page language with its fallback chain and
direction, and the UI messages in that language.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wikiloom.http.deps import DbSession, in_transaction
from wikiloom.http.identity import on_loopback
from wikiloom.http.messages import Messages
from wikiloom.http.rendering import page_language, render
from wikiloom.labels.campaigns import campaign_stats, list_campaigns
from wikiloom.wiki.languages import direction, fallback_chain
from wikiloom.wiki.registry import api_url

router = APIRouter(include_in_schema=False)


def server_root(request: Request) -> str:
    """This server's root URL as the browser reached it, without the trailing slash."""
    return str(request.base_url).rstrip("/")


def app_config(request: Request, wiki: str) -> dict[str, Any]:
    """What the labeling app needs to start on `wiki` (404 for a wiki we cannot name)."""
    settings = request.app.state.settings
    language = page_language(request, wiki)
    messages: Messages = request.app.state.messages
    return {
        "server": server_root(request),
        "wiki": wiki,
        "api": api_url(wiki, settings.wikis),
        "lang": language,
        "dir": direction(language),
        "chain": fallback_chain(language),
        "messages": messages.bundle(language),
        "devLogin": bool(settings.dev_login and on_loopback(request)),
    }


@router.get("/ui/", response_class=HTMLResponse)
def choose_wiki(request: Request, session: DbSession) -> HTMLResponse:
    """The wikis with campaigns, and how many campaigns each has open."""
    wikis = sorted(Counter(campaign.wiki for campaign in list_campaigns(session)).items())
    return render(request, "ui/wikis.html", {"wikis": wikis})


@router.get("/ui/{wiki}/", response_class=HTMLResponse)
async def labeling(request: Request, wiki: str) -> HTMLResponse:
    """The labeling app for one wiki: its campaigns, my worksets, then the tasks."""
    config = app_config(request, wiki)

    def work(session: Session) -> list[dict[str, Any]]:
        campaigns = list_campaigns(session, wiki)
        stats = campaign_stats(session, [c.id for c in campaigns])
        return [
            {
                "id": c.id,
                "name": c.name,
                "info_url": c.info_url,
                "tasks": stats[c.id].tasks,
                "labels": stats[c.id].labels,
                "needed": stats[c.id].tasks * c.labels_per_task,
            }
            for c in campaigns
        ]

    config["campaigns"] = await in_transaction(request, work)
    return render(request, "ui/labeling.html", {"config": config}, wiki=wiki)


@router.get("/ui/{wiki}/app.json")
async def labeling_config(request: Request, wiki: str) -> Response:
    """The labeling app's configuration, for the gadget loader."""
    body = orjson.dumps(app_config(request, wiki))
    return Response(body, media_type="application/json")


@router.get("/gadget/loader.js")
def gadget_loader(request: Request) -> Response:
    """The script a wiki page loads to mount the labeling app (the on-wiki gadget)."""
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        "gadget/loader.js",
        {"server": server_root(request)},
        media_type="text/javascript; charset=utf-8",
    )
    return response
