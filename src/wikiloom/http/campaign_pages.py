"""Campaign pages: a campaign's statistics with plots (public), and the organizers' pages
to create a campaign (admins) and manage one (its organizers and admins).

The organizer pages are forms whose script (`static/campaigns/organizer.js`) calls the
JSON API of `wikiloom.http.organizing`; the pages only say who may use them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any
from urllib.parse import quote

import orjson
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from wikiloom.errors import NotFound
from wikiloom.http.deps import DbSession
from wikiloom.http.identity import session_user
from wikiloom.http.messages import Messages, babel_locale
from wikiloom.http.organizing import is_admin
from wikiloom.http.rendering import page_language, render
from wikiloom.labels import plots
from wikiloom.labels.campaigns import MAX_INT, MAX_LENGTH, campaign_stats, get_campaign
from wikiloom.labels.export import pseudonymizer
from wikiloom.labels.learning import LEARNABLE_KINDS, learning_of
from wikiloom.labels.organizers import is_organizer, organizers
from wikiloom.labels.requirements import requirements_of
from wikiloom.labels.statistics import CampaignStatistics, campaign_statistics
from wikiloom.labels.tables import SAMPLING_STRATEGIES, Campaign
from wikiloom.labels.views import VIEWS
from wikiloom.learn.featuresets import FEATURE_SETS
from wikiloom.learn.learningcurve import campaign_rounds
from wikiloom.learn.rounds import MIN_FIRST_ROUND
from wikiloom.wiki.registry import api_url

router = APIRouter(include_in_schema=False)
PREFIX = "wikiloom-campaigns-"
#: The form fields the page analyses, as the statistics document does by default.
KINDS = ("choice", "boolean")


def value_text(value: Hashable) -> str:
    """A label value as shown: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


class Numbers:
    """Numbers written the page language's way (English for `qqx` and unknown codes)."""

    def __init__(self, language: str) -> None:
        self.locale = babel_locale(language)

    def decimal(self, value: float | None, digits: int = 0) -> str:
        """`value` with up to `digits` decimals, "–" for None."""
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return str(format_decimal(value, format=pattern, locale=self.locale))

    def percent(self, value: float | None) -> str:
        """`value` (a fraction) as a whole percentage, "–" for None."""
        return "–" if value is None else str(format_percent(value, locale=self.locale))


def _login_url(request: Request) -> str:
    return "/auth/initiate/?next=" + quote(request.url.path, safe="/")


def _campaign(session: Session, campaign_id: int, wiki: str) -> Campaign | None:
    try:
        return get_campaign(session, campaign_id, wiki)
    except NotFound:
        return None


def _missing(request: Request, wiki: str, campaign_id: int) -> HTMLResponse:
    context = {"campaign_id": campaign_id}
    return render(request, "campaigns/missing.html", context, wiki=wiki, status=404)


def _client_config(request: Request, wiki: str, **extra: Any) -> dict[str, Any]:
    """What the organizer script needs: the wiki, the language and this area's messages."""
    language = page_language(request, wiki)
    messages: Messages = request.app.state.messages
    return {"wiki": wiki, "lang": language, "messages": messages.bundle(language, PREFIX), **extra}


def _statistics_context(
    request: Request, stats: CampaignStatistics, labelers: int, wiki: str
) -> dict[str, Any]:
    """The numbers, tables and plots of the statistics page."""
    language = page_language(request, wiki)
    messages: Messages = request.app.state.messages

    def msg(key: str, *params: object) -> str:
        return messages.text(language, PREFIX + key, *params)

    numbers = Numbers(language)
    pseudonym = pseudonymizer(request.app.state.secret_key)
    progress = stats.progress
    days, total = [], 0
    for day, count in stats.labels_per_day.items():
        total += count
        days.append({"day": day.isoformat(), "labels": count, "total": total})
    fields: list[dict[str, Any]] = []
    people: dict[Hashable, dict[str, Any]] = {}
    for index, (name, field) in enumerate(stats.fields.items()):
        given = sum(field.distribution.values())
        counts: dict[str, int] = {}
        for value, n in field.distribution.items():
            counts[value_text(value)] = counts.get(value_text(value), 0) + n
        values = [
            {"value": text, "count": numbers.decimal(n), "share": numbers.percent(n / given)}
            for text, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
        plot = None
        if counts:
            plot = plots.distribution_svg(
                counts, ident=f"wl-plot-distribution-{index}",
                title=msg("plot-distribution", name), xlabel=msg("axis-labels"),
            )  # fmt: skip
        alpha = field.alpha
        fields.append(
            {
                "name": name,
                "alpha": numbers.decimal(alpha.alpha, 3),
                "interval": None
                if alpha.low is None or alpha.high is None
                else (numbers.decimal(alpha.low, 3), numbers.decimal(alpha.high, 3)),
                "tasks": alpha.n_tasks,
                "labelers": alpha.n_labelers,
                "rows": values,
                "plot": plot,
            }
        )
        for user, agreement in field.labelers.items():
            row = people.setdefault(user, {"name": pseudonym(int(str(user))), "fields": {}})
            row["fields"][name] = {
                "agreed": agreement.agreed,
                "labels": agreement.labels,
                "rate": numbers.percent(agreement.rate),
            }
    alphas = {name: field.alpha for name, field in stats.fields.items()}
    rates = {
        name: [a.rate for a in field.labelers.values() if a.rate is not None]
        for name, field in stats.fields.items()
    }
    figures: dict[str, str | None] = {"progress": None, "agreement": None, "labelers": None}
    if days:
        figures["progress"] = plots.progress_svg(
            stats.labels_per_day, progress.labels_needed, ident="wl-plot-progress",
            title=msg("plot-progress"), labels_text=msg("axis-cumulative"),
            needed_text=msg("axis-needed"),
        )  # fmt: skip
    if any(a.alpha is not None for a in alphas.values()):
        figures["agreement"] = plots.agreement_svg(
            alphas, ident="wl-plot-agreement", title=msg("plot-agreement"),
            xlabel=msg("axis-alpha"),
        )  # fmt: skip
    if any(rates.values()):
        figures["labelers"] = plots.labeler_agreement_svg(
            rates, ident="wl-plot-labelers", title=msg("plot-labelers"), xlabel=msg("axis-rate"),
        )  # fmt: skip
    ranked = sorted(
        people.values(),
        key=lambda p: (-sum(f["labels"] for f in p["fields"].values()), p["name"]),
    )
    seconds = stats.median_seconds_per_task
    return {
        "progress": {
            "tasks": progress.tasks,
            "labels": progress.labels,
            "needed": progress.labels_needed,
            "done": progress.tasks_done,
            "percent": round(progress.fraction * 100, 1),
            "shown": numbers.percent(progress.fraction),
        },
        "seconds": None if seconds is None else numbers.decimal(seconds, 1),
        "labelers": labelers,
        "days": days,
        "fields": fields,
        "people": ranked,
        "figures": figures,
    }


@router.get("/ui/{wiki}/campaigns/{campaign_id:int}/", response_class=HTMLResponse)
def statistics_page(
    request: Request, session: DbSession, wiki: str, campaign_id: int
) -> HTMLResponse:
    """A campaign's progress, pace, agreement and label distribution, with plots."""
    campaign = _campaign(session, campaign_id, wiki)
    if campaign is None:
        return _missing(request, wiki, campaign_id)
    form = request.app.state.forms.get(campaign.form)
    fields = [n for n, f in (form.fields if form else {}).items() if f.kind in KINDS]
    stats = campaign_statistics(session, campaign_id, fields)
    labelers = campaign_stats(session, [campaign_id])[campaign_id].coders
    context = _statistics_context(request, stats, labelers, wiki)
    context["campaign"] = _settings(campaign)
    context["learning"] = _learning_context(request, session, campaign, wiki)
    return render(request, "campaigns/statistics.html", context, wiki=wiki)


def _learning_context(
    request: Request, session: Session, campaign: Campaign, wiki: str
) -> dict[str, Any] | None:
    """The active-learning section: settings, rounds and their plot (None for a random
    campaign that never had a round)."""
    rounds = campaign_rounds(session, campaign.id)
    if campaign.sampling == "random" and not rounds:
        return None
    language = page_language(request, wiki)
    messages: Messages = request.app.state.messages
    numbers = Numbers(language)
    rows = [
        {
            "number": r.number,
            "finished": r.finished.strftime("%Y-%m-%d %H:%M"),
            "labels": numbers.decimal(r.labels),
            "holdout_labels": numbers.decimal(r.holdout_labels),
            "roc_auc": numbers.decimal(r.holdout_roc_auc, 3),
            "pr_auc": numbers.decimal(r.holdout_pr_auc, 3),
            "agreement": numbers.decimal(r.agreement, 3),
            "rescored": numbers.decimal(r.rescored),
        }
        for r in rounds
    ]
    points = [(r.labels, r.holdout_roc_auc, r.holdout_pr_auc) for r in rounds]
    plot = None
    if any(p[1] is not None for p in points):

        def msg(key: str) -> str:
            return messages.text(language, PREFIX + key)

        plot = plots.learning_curve_svg(
            points, ident="wl-plot-learning", title=msg("plot-learning"),
            xlabel=msg("axis-labels-used"), roc_text=msg("col-roc-auc"), pr_text=msg("col-pr-auc"),
        )  # fmt: skip
    return {
        "settings": learning_of(campaign),
        "holdout": numbers.percent(campaign.holdout_fraction),
        "rounds": rows,
        "stop": bool(rounds and rounds[-1].stop_suggested),
        "first_round": MIN_FIRST_ROUND,
        "plot": plot,
    }


def _settings(campaign: Campaign) -> dict[str, Any]:
    """The campaign's settings as the organizer forms name them."""
    requirements = requirements_of(campaign)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "form": campaign.form,
        "view": campaign.view,
        "active": campaign.active,
        "info_url": campaign.info_url or "",
        "labels_per_task": campaign.labels_per_task,
        "tasks_per_assignment": campaign.tasks_per_assignment,
        "required_groups": "|".join(requirements.groups),
        "min_edit_count": requirements.min_edit_count,
        "expiry": campaign.workset_expiry,
        "sampling": campaign.sampling,
        "holdout_fraction": campaign.holdout_fraction,
        "retrain_every": campaign.retrain_every,
        "learning_field": campaign.learning_field or "",
        "feature_set": campaign.feature_set,
    }


def _limits() -> Mapping[str, Any]:
    return {"max_int": MAX_INT, "max_length": MAX_LENGTH}


@router.get("/ui/{wiki}/campaigns/new/", response_class=HTMLResponse)
def new_campaign_page(request: Request, wiki: str) -> HTMLResponse:
    """The form that creates a campaign on `wiki` (admins only; the API checks again)."""
    api_url(wiki, request.app.state.settings.wikis)  # 404 for a wiki we cannot name
    user = session_user(request)
    context = {
        "allowed": user is not None and is_admin(request),
        "login_url": _login_url(request),
        "forms": list(request.app.state.forms),
        "views": list(VIEWS),
        "expiry": request.app.state.settings.workset_expiry,
        "limits": _limits(),
        "config": _client_config(request, wiki),
    }
    return render(request, "campaigns/new.html", context, wiki=wiki)


@router.get("/ui/{wiki}/campaigns/{campaign_id:int}/manage/", response_class=HTMLResponse)
def manage_page(request: Request, session: DbSession, wiki: str, campaign_id: int) -> HTMLResponse:
    """A campaign's settings, state, organizers and task loading, for its organizers."""
    campaign = _campaign(session, campaign_id, wiki)
    if campaign is None:
        return _missing(request, wiki, campaign_id)
    user = session_user(request)
    allowed = user is not None and (
        is_admin(request) or is_organizer(session, campaign_id, int(user["id"]))
    )
    counts = campaign_stats(session, [campaign_id])[campaign_id]
    settings = _settings(campaign)
    form = request.app.state.forms.get(campaign.form)
    context = {
        "campaign": settings,
        "learning": {
            "strategies": list(SAMPLING_STRATEGIES),
            "feature_sets": sorted(FEATURE_SETS),
            "fields": [
                n for n, f in (form.fields if form else {}).items() if f.kind in LEARNABLE_KINDS
            ],
        },
        "allowed": allowed,
        "login_url": _login_url(request),
        "organizers": organizers(session, campaign_id) if allowed else [],
        "counts": counts,
        "view_keys": list(VIEWS.get(campaign.view, {})),
        "limits": _limits(),
        "config": _client_config(request, wiki, campaign=settings),
    }
    return render(request, "campaigns/manage.html", context, wiki=wiki)
