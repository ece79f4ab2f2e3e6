"""HTML pages: campaigns with their progress, for every wiki (`/`, `/stats/`) or one.

`/stats/<wiki>/` and `/stats/<wiki>/<id>` are the paths of Wiki labels' statistics pages,
which its conflict messages named; the campaign's page goes to its statistics document.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from wikiloom.http.deps import DbSession
from wikiloom.http.openapi import ERRORS
from wikiloom.labels.campaigns import campaign_stats, list_campaigns

router = APIRouter(tags=["pages"], responses={code: ERRORS[code] for code in (404, 503)})


def _campaigns_page(request: Request, session: Session, wiki: str | None) -> HTMLResponse:
    campaigns = list_campaigns(session, wiki, include_inactive=True)
    stats = campaign_stats(session, [c.id for c in campaigns])
    rows = [(campaign, stats[campaign.id]) for campaign in campaigns]
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, "home.html", {"rows": rows}
    )
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: DbSession) -> HTMLResponse:
    """List campaigns by wiki with their tasks, labels, labelers and assignments."""
    return _campaigns_page(request, session, None)


@router.get("/stats/", response_class=HTMLResponse)
def stats(request: Request, session: DbSession) -> HTMLResponse:
    """List every wiki's campaigns with their progress (Wiki labels' statistics path)."""
    return _campaigns_page(request, session, None)


@router.get("/stats/{wiki}/", response_class=HTMLResponse)
def wiki_stats(request: Request, session: DbSession, wiki: str) -> HTMLResponse:
    """List one wiki's campaigns with their progress."""
    return _campaigns_page(request, session, wiki)


@router.get("/stats/{wiki}/{campaign_id:int}", response_class=RedirectResponse, status_code=307)
def campaign_stats_page(wiki: str, campaign_id: int) -> RedirectResponse:
    """Send the browser to the campaign's statistics (the path has no slash, as in Wiki labels)."""
    return RedirectResponse(f"/campaigns/{wiki}/{campaign_id}/statistics/", status_code=307)
