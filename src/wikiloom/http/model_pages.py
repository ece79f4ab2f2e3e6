"""Model pages: a wiki's models (`/ui/<wiki>/models/`), one model, and one of its versions.

Public and read-only. A model's page shows every version with its figures, the current
version's card (sections rendered from the card's JSON, ROC, precision-recall and
calibration plots inlined as SVG), the named thresholds, the status with its audit log, and
links to the scoring APIs. Unknown wikis, models and versions get an HTML 404 page.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal
from cachetools import LRUCache
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wikiloom.errors import NotFound
from wikiloom.http.deps import in_transaction
from wikiloom.http.governance import model_controls
from wikiloom.http.messages import babel_locale
from wikiloom.http.rendering import page_language, render
from wikiloom.learn.cards import SECTIONS, model_card
from wikiloom.learn.governance import requests_of
from wikiloom.learn.plots import PLOTS, plot_svg
from wikiloom.learn.registry import events_of, get_model, get_version, models_of, versions_of
from wikiloom.learn.tables import MODEL_STATES, Model, ModelEvent, ModelVersion
from wikiloom.svg import inline_svg
from wikiloom.wiki.registry import api_url

router = APIRouter(include_in_schema=False)

#: The figures of a version shown in tables, in order.
HEADLINE = ("roc_auc", "pr_auc", "accuracy")
#: Codex info-chip variants of the statuses.
CHIPS = {
    "proposed": "subtle",
    "trial": "progressive",
    "active": "success",
    "paused": "warning",
    "retired": "error",
}
#: Card fields with a message of their own (`wikiloom-models-field-<key>`); others show as code.
FIELDS = frozenset(
    {
        "wiki", "name", "version", "predicts", "labels", "description", "type", "backend",
        "params", "features", "feature_set", "feature_set_version", "trained", "trained_by",
        "environment", "file", "primary_uses", "primary_users", "out_of_scope", "relevant",
        "evaluated", "roc_auc", "pr_auc", "accuracy", "brier", "log_loss", "calibration_error",
        "source", "observations", "label_counts", "campaign", "seed", "status", "current",
        "threshold", "query", "precision", "recall", "match_rate", "filter_rate", "fpr", "n",
        "rate", "flagged", "method", "folds", "format", "rows", "bytes", "sha256",
    }
)  # fmt: skip
#: Plots cached per application: versions are immutable, so (version id, SHA-256, kind, label)
#: names one.
PLOT_CACHE_SIZE = 64


def positive_label(labels: Sequence[Any]) -> str | None:
    """The label a binary model predicts (`true`), None for other models."""
    keys = {str(label).lower() for label in labels}
    return "true" if keys == {"true", "false"} else None


def headline(statistics: Mapping[str, Any], labels: Sequence[Any]) -> dict[str, float | None]:
    """A version's key figures: of the positive label of a binary model, else micro-averaged."""
    positive = positive_label(labels)
    figures: dict[str, float | None] = {}
    for name in HEADLINE:
        tree = statistics.get(name) or {}
        if positive is not None and name != "accuracy":
            figures[name] = (tree.get("labels") or {}).get(positive)
        else:
            figures[name] = tree.get("micro")
    return figures


def version_summary(model: Model, version: ModelVersion) -> dict[str, Any]:
    """What the tables say about a version: when, by whom, on what data, its figures."""
    provenance = version.provenance or {}
    return {
        "version": version.version,
        "created": version.created,
        "created_by": version.created_by,
        "current": model.current_version_id == version.id,
        "data": provenance.get("training_data") or {},
        "campaign": provenance.get("campaign"),
        "observations": provenance.get("observations"),
        "label_counts": provenance.get("label_counts") or {},
        "metrics": headline(version.statistics or {}, version.labels or []),
    }


def model_summary(session: Session, model: Model) -> dict[str, Any]:
    """A model with its current version's summary (None before the first version)."""
    current = None
    if model.current_version_id is not None:
        current = version_summary(model, get_version(session, model))
    return {
        "name": model.name,
        "wiki": model.wiki,
        "target": model.target,
        "description": model.description,
        "status": model.status,
        "created": model.created,
        "current": current,
    }


def event_rows(events: Sequence[ModelEvent], versions: Sequence[ModelVersion]) -> list[Any]:
    """The audit log, newest first, each entry naming its version."""
    labels = {version.id: version.version for version in versions}
    return [
        {
            "id": event.id,
            "at": event.at,
            "kind": event.kind,
            "old": event.old,
            "new": event.new,
            "actor": event.actor,
            "reason": event.reason,
            "version": labels.get(event.version_id) if event.version_id else None,
            "request_id": event.request_id,
        }
        for event in reversed(events)
    ]


def plots_of(
    request: Request, version: tuple[int, str], statistics: Mapping[str, Any], labels: Sequence[str]
) -> list[dict[str, str]]:
    """The ROC, precision-recall and calibration plots of a version (cached per app)."""
    state = request.app.state
    if getattr(state, "model_plots", None) is None:
        state.model_plots = (LRUCache(maxsize=PLOT_CACHE_SIZE), threading.Lock())
    cache, lock = state.model_plots
    positive = positive_label(labels)
    plots = []
    for label in [positive] if positive else labels:
        for kind in PLOTS:
            key = (*version, kind, label)
            with lock:
                svg = cache.get(key)
            if svg is None:
                try:
                    svg = plot_svg(statistics, kind, label)
                except (NotFound, KeyError, TypeError, ValueError):
                    continue  # statistics without this plot's figures
                with lock:
                    cache[key] = svg
            name = f"plot-{kind}-{re.sub(r'[^A-Za-z0-9_-]', '_', label)}"
            plots.append(
                {
                    "id": name,
                    "kind": kind,
                    "label": label,
                    "svg": inline_svg(svg, name, labelled_by=f"{name}-caption"),
                }
            )
    return plots


def formatters(request: Request, wiki: str | None) -> dict[str, Any]:
    """`number(value)` and `when(datetime)` for templates, in the page's locale."""
    locale = babel_locale(page_language(request, wiki))

    def number(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "" if value is None else str(value)
        if isinstance(value, int):
            return format_decimal(value, locale=locale)
        return format_decimal(value, format="0.000", locale=locale)

    def when(value: dt.datetime | str | None) -> str:
        if value is None:
            return ""
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return format_datetime(moment, "medium", tzinfo=dt.UTC, locale=locale) + " UTC"

    def iso(value: dt.datetime | str | None) -> str:
        if value is None or isinstance(value, str):
            return value or ""
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()

    return {"number": number, "when": when, "iso": iso}


def _context(request: Request, wiki: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        **formatters(request, wiki),
        "chips": CHIPS,
        "fields": FIELDS,
        "sections": [key for key, _ in SECTIONS],
        "headline": HEADLINE,
        "states": MODEL_STATES,
        **values,
    }


def not_found(request: Request, wiki: str | None, message: str) -> HTMLResponse:
    """The HTML 404 page of the model pages."""
    return render(request, "models/missing.html", {"message": message}, wiki=wiki, status=404)


def _known_wiki(request: Request, wiki: str) -> bool:
    try:
        api_url(wiki, request.app.state.settings.wikis)
    except NotFound:
        return False
    return True


@router.get("/ui/{wiki}/models/", response_class=HTMLResponse)
async def wiki_models(request: Request, wiki: str) -> HTMLResponse:
    """A wiki's models: status, current version, its key figures and when it was trained."""

    def work(session: Session) -> list[dict[str, Any]]:
        return [model_summary(session, model) for model in models_of(session, wiki)]

    models = await in_transaction(request, work)
    if not models and not _known_wiki(request, wiki):
        return not_found(request, None, f"unknown wiki {wiki!r}")
    context = _context(request, wiki, {"models": models})
    return render(request, "models/list.html", context, wiki=wiki)


#: What the plots of a page are drawn from: the version (id, SHA-256), statistics and labels.
PlotSource = tuple[tuple[int, str], dict[str, Any], list[str]]


def _card_page(
    session: Session, wiki: str, name: str, label: str | None
) -> tuple[dict[str, Any], PlotSource | None]:
    """A model with its versions and log, and one version's card (the current by default)."""
    model = get_model(session, wiki, name)
    versions = versions_of(session, model)
    events = events_of(session, model)
    shown = None
    if label is not None or model.current_version_id is not None:
        shown = get_version(session, model, label)
    requests = requests_of(session, model)
    page: dict[str, Any] = {
        "model": model_summary(session, model),
        "events": event_rows(events, versions),
        "versions": [version_summary(model, v) for v in reversed(versions)],
        "requests": requests,
    }
    if shown is None:
        return page, None
    page["version"] = version_summary(model, shown)
    page["card"] = card = model_card(model, shown, events, requests)
    version = (shown.id, shown.sha256)
    return page, (version, shown.statistics or {}, card["model_details"]["labels"])


async def _page(
    request: Request, wiki: str, name: str, label: str | None, template: str
) -> HTMLResponse:

    def work(session: Session) -> tuple[dict[str, Any], PlotSource | None]:
        return _card_page(session, wiki, name, label)

    try:
        page, source = await in_transaction(request, work)
    except NotFound as error:
        return not_found(request, wiki if _known_wiki(request, wiki) else None, error.message)
    page["plots"] = [] if source is None else await run_in_threadpool(plots_of, request, *source)
    page |= model_controls(request, wiki, name, page["model"]["status"], page["events"])
    page["api"] = {
        "ores": f"/v3/scores/{wiki}/?models={name}&model_info",
        "liftwing": f"/v1/models/{wiki}-{name}",
        "predict": f"/v1/models/{wiki}-{name}:predict",
    }
    return render(request, template, _context(request, wiki, page), wiki=wiki)


@router.get("/ui/{wiki}/models/{name}/", response_class=HTMLResponse)
async def model_page(request: Request, wiki: str, name: str) -> HTMLResponse:
    """One model: its versions, the current version's card, its status and audit log."""
    return await _page(request, wiki, name, None, "models/model.html")


@router.get("/ui/{wiki}/models/{name}/versions/{version}/", response_class=HTMLResponse)
async def version_page(request: Request, wiki: str, name: str, version: str) -> HTMLResponse:
    """One version of a model: its card and figures."""
    return await _page(request, wiki, name, version, "models/version.html")
