"""HTML pages: the home page lists every campaign with its progress."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wikiloom.http.deps import DbSession
from wikiloom.labels.campaigns import campaign_stats, list_campaigns

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, session: DbSession) -> HTMLResponse:
    """List campaigns by wiki with their tasks, labels, labelers and assignments."""
    campaigns = list_campaigns(session, include_inactive=True)
    stats = campaign_stats(session, [c.id for c in campaigns])
    rows = [(campaign, stats[campaign.id]) for campaign in campaigns]
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, "home.html", {"rows": rows}
    )
    return response
