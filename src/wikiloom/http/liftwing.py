"""Lift Wing's KServe v1 protocol: `/v1/models`, `/v1/models/{wiki}-{model}:predict`.

A predict request is `{"rev_id": N, "extended_output": bool}` or `{"event": <revision-create
or page_change event>}`; the answer is one ORES v3 document of one revision and one model.
Errors are KServe's `{"error": "<message>"}`; a model paused on its wiki is "not ready"
(503, as KServe answers), a retired or proposed one 404, each saying so. A body sent without
a JSON content type is still read as JSON, as WMF's servers do.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from wikiloom.errors import AppError
from wikiloom.http.scoring import count_scores, scorer, track
from wikiloom.learn.tables import PAUSED
from wikiloom.scoring.loaded import ServedModel, not_served
from wikiloom.scoring.scores import ScoreRequest
from wikiloom.wiki.events import parse_change


class KServeError(BaseModel):
    """KServe's error body."""

    error: str


router = APIRouter(
    tags=["Lift Wing v1"],
    responses={
        400: {
            "model": KServeError,
            "description": "Not JSON, or no integer `rev_id`; a "
            "revision that does not exist or whose text is hidden.",
        },
        404: {"model": KServeError, "description": "No such model, or retired or proposed."},
        429: {"model": KServeError, "description": "Too many requests from one client."},
        503: {
            "model": KServeError,
            "description": "Overloaded, a wiki or setting it needs is unavailable, or the "
            "model is paused on its wiki (not ready).",
        },
    },
)


def kserve_error(message: str, status: int) -> JSONResponse:
    """KServe's error body."""
    return JSONResponse({"error": message}, status_code=status)


def _split(name: str) -> tuple[str, str] | None:
    """`enwiki-damaging` as (wiki, model); None when there is no dash."""
    wiki, dash, model = name.partition("-")
    return (wiki, model) if dash and wiki and model else None


async def _names(request: Request) -> list[str]:
    engine = scorer(request)
    wikis = await run_in_threadpool(engine.pool.wikis)
    return [f"{wiki}-{name}" for wiki in wikis for name in await engine.served(wiki)]


@router.get("/v1/models")
async def models(request: Request) -> dict[str, list[str]]:
    """Every served model as `{wiki}-{model}`."""
    return {"models": await _names(request)}


async def _served(request: Request, name: str) -> ServedModel | JSONResponse:
    """The served model of `{wiki}-{model}` now, or KServe's error saying why not."""
    parts = _split(name)
    if parts is None:
        return kserve_error(f"Model with name {name} does not exist.", 404)
    wiki, model_name = parts
    found = await scorer(request).models(wiki)
    if model_name in found.served:
        return found.served[model_name]
    state = found.held.get(model_name)
    if state is None:
        return kserve_error(f"Model with name {name} does not exist.", 404)
    why = not_served(wiki, model_name, state).message
    if state == PAUSED:
        return kserve_error(f"Model with name {name} is not ready. {why}", 503)
    return kserve_error(f"Model with name {name} is not available. {why}", 404)


@router.get("/v1/models/{name}")
async def model(request: Request, name: str) -> Response:
    """Whether a model is served (KServe's readiness of one model)."""
    served = await _served(request, name)
    if isinstance(served, JSONResponse):
        return served
    return JSONResponse({"name": name, "ready": True})


@router.post(
    "/v1/models/{name}:predict",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "rev_id": {"type": "integer"},
                            "extended_output": {"type": "boolean"},
                            "event": {"type": "object"},
                        },
                    }
                }
            },
        }
    },
)
async def predict(request: Request, name: str) -> Response:
    """Score one revision with one model; the ORES v3 document of that score."""
    served = await _served(request, name)
    if isinstance(served, JSONResponse):
        return served
    engine = scorer(request)
    wiki, model_name = served.wiki, served.name
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return kserve_error("Unrecognized request format: the body is not JSON.", 400)
    if not isinstance(body, dict):
        return kserve_error("Unrecognized request format: expected a JSON object.", 400)
    rev_id = _rev_id(body)
    if isinstance(rev_id, str):
        return kserve_error(rev_id, 400)
    features = bool(body.get("extended_output", False))
    try:
        async with track(request, "liftwing_predict", model_name):
            response = await engine.score(
                ScoreRequest(wiki, (rev_id,), models=(model_name,), features=features), [served]
            )
    except AppError as error:
        return kserve_error(error.message, error.status)
    count_scores(request, response)
    doc = response.scores[rev_id][model_name]
    if "error" in doc:
        problem = doc["error"]
        if problem["type"] == "RevisionNotFound":
            return kserve_error(
                f"The MW API does not have any info related to the rev-id provided as input "
                f"({rev_id}), therefore it is not possible to extract features properly. One "
                "of the reasons could be that the rev-id was deleted.",
                400,
            )
        return kserve_error(f"Missing resource for rev-id {rev_id}: {problem['message']}", 400)
    return JSONResponse(
        {
            wiki: {
                "models": {model_name: {"version": served.version}},
                "scores": {str(rev_id): {model_name: doc}},
            }
        }
    )


def _rev_id(body: dict[str, Any]) -> int | str:
    """The revision to score (from `rev_id` or an `event`), or the error message."""
    if "event" in body:
        event = body["event"]
        change = parse_change(event) if isinstance(event, dict) else None
        if change is None:
            return 'Expected "event" to be a revision-create or page_change event.'
        return change.rev_id
    if "rev_id" not in body:
        return 'Expected "rev_id" in input data.'
    value = body["rev_id"]
    if isinstance(value, bool) or not isinstance(value, int):
        return 'Expected "rev_id" to be an integer.'
    return value
