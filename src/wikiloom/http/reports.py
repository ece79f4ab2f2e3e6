"""Campaign reports beside the Wiki labels API: streamed label exports and statistics."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from wikiloom.db import transaction
from wikiloom.errors import BadRequest
from wikiloom.http.openapi import RESPONSES, extra, flag, text_param
from wikiloom.http.responses import STREAM_CHUNK, respond
from wikiloom.labels.campaigns import epoch, get_campaign
from wikiloom.labels.export import FORMATS, export_labels, pseudonymizer
from wikiloom.labels.forms import Form
from wikiloom.labels.statistics import CampaignStatistics, FieldStatistics, campaign_statistics

router = APIRouter(tags=["reports"], responses=RESPONSES)
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def _form_of(request: Request, wiki: str, campaign_id: int) -> tuple[str, Form | None]:
    with transaction(request.app.state.sessions) as session:
        name = get_campaign(session, campaign_id, wiki).form
    return name, request.app.state.forms.get(name)


@router.get(
    "/campaigns/{wiki}/{campaign_id:int}/export/",
    openapi_extra=extra(
        text_param("format", "`jsonl` (default) or `csv`.", enum=list(FORMATS)),
        flag("pseudonymous", "Replace user ids by keyed hashes and leave names out."),
        jsonp=False,
    ),
    responses={
        200: {
            "description": "The labels, one per line, streamed.",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        }
    },
)
def export(request: Request, wiki: str, campaign_id: int) -> StreamingResponse:
    """Stream a campaign's labels: `?format=jsonl|csv`, `?pseudonymous` hides user ids."""
    fmt = request.query_params.get("format", "jsonl")
    if fmt not in FORMATS:
        raise BadRequest(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    _, form = _form_of(request, wiki, campaign_id)
    fields = list(form.fields) if form is not None else []
    pseudonym = None
    if "pseudonymous" in request.query_params:
        pseudonym = pseudonymizer(request.app.state.secret_key)

    def chunks() -> Iterator[str]:
        # Lines go out in chunks of about STREAM_CHUNK: one thread hop per line took 9 s for
        # 40,000 labels.
        with transaction(request.app.state.sessions) as session:
            batch: list[str] = []
            size = 0
            for line in export_labels(session, campaign_id, fmt, fields, pseudonym):
                batch.append(line)
                size += len(line)
                if size >= STREAM_CHUNK:
                    yield "".join(batch)
                    batch, size = [], 0
            if batch:
                yield "".join(batch)

    name = f"{wiki}-campaign-{campaign_id}-labels.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(chunks(), media_type=MEDIA[fmt], headers=headers)


def _key(value: Hashable) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _field(stats: FieldStatistics) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for task, consensus in stats.majority.items():
        tasks[_key(task)] = {"majority": dataclasses.asdict(consensus) | {"value": consensus.value}}
    for task, posterior in stats.dawid_skene.posteriors.items():
        entry = tasks.setdefault(_key(task), {})
        entry["dawid_skene"] = {_key(v): p for v, p in posterior.items()}
    model = stats.dawid_skene
    return {
        "distribution": {_key(v): n for v, n in stats.distribution.items()},
        "alpha": dataclasses.asdict(stats.alpha),
        "labelers": {
            _key(u): dataclasses.asdict(a) | {"rate": a.rate} for u, a in stats.labelers.items()
        },
        "dawid_skene": {
            "priors": {_key(v): p for v, p in model.priors.items()},
            "iterations": model.iterations,
            "converged": model.converged,
        },
        "tasks": tasks,
    }


def _document(stats: CampaignStatistics) -> dict[str, Any]:
    progress = dataclasses.asdict(stats.progress) | {"fraction": stats.progress.fraction}
    return {
        "campaign_id": stats.campaign_id,
        "generated": epoch(stats.generated),
        "progress": progress,
        "labels_per_day": {day.isoformat(): n for day, n in sorted(stats.labels_per_day.items())},
        "median_seconds_per_task": stats.median_seconds_per_task,
        "fields": {name: _field(field) for name, field in stats.fields.items()},
    }


@router.get(
    "/campaigns/{wiki}/{campaign_id:int}/statistics/",
    openapi_extra=extra(text_param("fields", "Form fields to analyse, `|`-separated.")),
)
def statistics(request: Request, wiki: str, campaign_id: int) -> Response:
    """Progress, pace, agreement (Krippendorff's α with a 95 % interval), labelers'
    agreement with the others, and majority and Dawid–Skene labels per task.

    `?fields=a|b` chooses the form fields; by default every choice or yes/no field.
    """
    _, form = _form_of(request, wiki, campaign_id)
    asked = request.query_params.get("fields")
    if asked:
        fields = [f for f in asked.split("|") if f]
        unknown = [f for f in fields if form is not None and f not in form.fields]
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} for this campaign's form")
    else:
        kinds = ("choice", "boolean")
        fields = [n for n, f in (form.fields if form else {}).items() if f.kind in kinds]
    with transaction(request.app.state.sessions) as session:
        stats = campaign_statistics(session, campaign_id, fields)
    return respond(request, {"statistics": _document(stats)})
