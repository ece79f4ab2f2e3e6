"""ORES v3: `/v3/scores/…` and `/v3/precache/`, in the shapes ORES clients parse.

Parameters come from the query string or a form body, `|`-separated (`models`, `revids`,
`model_info`); `features`, `precache` and `format=json` are flags; `inject` is JSON keyed by
rev_id, and `feature.<name>=<json>` parameters inject into the one revision of a route.
Request errors answer `{"error": {"code", "message"}}` with ORES's texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from wikiloom.errors import BadRequest
from wikiloom.http.openapi import ErrorEnvelope, extra, flag, text_param
from wikiloom.http.scoring import count_scores, scorer, track
from wikiloom.learn.thresholds import model_info_path, split_fields
from wikiloom.scoring.loaded import ServedModel
from wikiloom.scoring.precache import precache_models
from wikiloom.scoring.scores import ScoreRequest, ScoreResponse

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorEnvelope,
        "description": "Unreadable parameters, too many revids, a "
        "model_info path that leads nowhere, an event without its fields.",
    },
    404: {
        "model": ErrorEnvelope,
        "description": "No scorers for the wiki, models it lacks, or a model it holds "
        "back: paused, retired or proposed there (code `model not served`).",
    },
    429: {"model": ErrorEnvelope, "description": "Too many requests in flight from one client."},
    503: {
        "model": ErrorEnvelope,
        "description": "Overloaded (Retry-After), or a wiki or setting "
        "the request needs is unavailable.",
    },
}
router = APIRouter(tags=["ORES v3"], responses=ERRORS)
PARAMETERS = extra(
    text_param("models", "Model names separated by `|` (default: every model of the wiki)."),
    text_param("revids", "Revision ids separated by `|`, at most 50."),
    text_param(
        "model_info",
        "Dotted paths into the model information, `|`-separated; "
        'quote threshold queries: `statistics.thresholds.true."maximum recall @ '
        'precision >= 0.9"` (default: `version`).',
    ),
    flag("features", "Add each score's feature values and its largest contributions."),
    text_param("inject", "Feature values to use instead of the extracted ones: JSON by rev_id."),
    flag("precache", "Mark the request as a precache one."),
    text_param("format", "`json`: minified JSON (default: indented)."),
    jsonp=False,
)
#: ORES refused more revisions per request than this.
MAX_REVIDS = 50


def ores_json(request: Request, body: Any, status: int = 200) -> Response:
    """JSON, pretty-printed unless `format=json` (ORES's `minifiable`)."""
    options = 0 if request.query_params.get("format") == "json" else orjson.OPT_INDENT_2
    return Response(orjson.dumps(body, option=options), status, media_type="application/json")


async def _params(request: Request) -> dict[str, str]:
    """The query string and, for a POST, the form body (the query string wins)."""
    values: dict[str, str] = {}
    if request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if "form" in content_type:
            form = await request.form()
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
    values.update(request.query_params)
    return values


def _bar(values: Mapping[str, str], name: str) -> list[str] | None:
    raw = values.get(name)
    return None if raw is None else raw.split("|")


def _info_paths(values: Mapping[str, str]) -> list[str] | None:
    """The `model_info` paths, split on `|` outside quotes (None when absent)."""
    raw = values.get("model_info")
    if raw is None:
        return None
    return split_fields(raw) if raw else [""]


def _rev_ids(values: Mapping[str, str]) -> list[int]:
    items = _bar(values, "revids") or []
    try:
        rev_ids = [int(item) for item in items]
    except ValueError as error:
        raise BadRequest(f"Could not interpret revids. {error}") from None
    if len(rev_ids) > MAX_REVIDS:
        raise BadRequest(f"Too many values for 'revids' parameter.  Max of {MAX_REVIDS}.")
    return rev_ids


def _inject(values: Mapping[str, str], rev_id: int | None) -> dict[int, dict[str, Any]] | None:
    """ORES's injection: `inject` (JSON by rev_id) and, on a one-revision route, `feature.*`."""
    cache: dict[str, Any] = {}
    if "inject" in values:
        try:
            cache = orjson.loads(values["inject"])
        except orjson.JSONDecodeError as error:
            raise BadRequest(f"Could not interpret inject. {error}") from None
        if not isinstance(cache, dict):
            raise BadRequest("Could not interpret inject. Expected a JSON object.")
    if rev_id is not None:
        mine = dict(cache)
        for key, value in values.items():
            if key.startswith(("feature.", "datasource.")):
                try:
                    mine[key] = orjson.loads(value)
                except orjson.JSONDecodeError as error:
                    raise BadRequest(f"Could not interpret {key}. {error}") from None
        return {rev_id: mine} if mine else None
    try:
        return {int(k): dict(v) for k, v in cache.items()} or None
    except (TypeError, ValueError) as error:
        raise BadRequest(f"Could not interpret inject. {error}") from None


def model_info(model: ServedModel, paths: list[str] | None) -> dict[str, Any]:
    """The parts of a model's info asked for (`version` by default; `model_info=` all of it)."""
    if paths is None:
        paths = ["version"]
    if paths == [""]:
        return model.info
    return model_info_path(model.info, paths)


def _document(response: ScoreResponse, paths: list[str] | None) -> dict[str, Any]:
    """The v3 document of a scoring response."""
    body: dict[str, Any] = {
        "models": {model.name: model_info(model, paths) for model in response.models}
    }
    if response.scores:
        body["scores"] = {str(rev_id): scores for rev_id, scores in response.scores.items()}
    return {response.wiki: body}


async def _score(
    request: Request, wiki: str, rev_id: int | None = None, model: str | None = None
) -> Response:
    values = await _params(request)
    paths = _info_paths(values)
    names = [model] if model is not None else _bar(values, "models")
    rev_ids = [rev_id] if rev_id is not None else _rev_ids(values)
    engine = scorer(request)
    served = await engine.resolve(wiki, names)  # unknown wikis and models: 404 before anything
    if not rev_ids:
        body = {wiki: {"models": {m.name: model_info(m, paths) for m in served}}}
        return ores_json(request, body)
    score_request = ScoreRequest(
        wiki=wiki,
        rev_ids=tuple(rev_ids),
        models=None if names is None else tuple(names),
        features="features" in values,
        inject=_inject(values, rev_id),
        precache="precache" in values,
    )
    async with track(request, "ores_v3", "|".join(m.name for m in served)):
        response = await engine.score(score_request, served)
    count_scores(request, response)
    return ores_json(request, _document(response, paths))


@router.get(
    "/v3/scores/",
    openapi_extra=extra(
        text_param("model_info", "Dotted paths into the model information (default: `version`)."),
        text_param("format", "`json`: minified JSON (default: indented)."),
        jsonp=False,
    ),
)
async def contexts(request: Request) -> Response:
    """Every wiki with its served models (`model_info` as asked, `version` by default)."""
    engine = scorer(request)
    paths = _info_paths(request.query_params)
    body = {}
    for wiki in await _wikis(request):
        body[wiki] = {
            "models": {m.name: model_info(m, paths) for m in (await engine.served(wiki)).values()}
        }
    return ores_json(request, body)


async def _wikis(request: Request) -> list[str]:
    return await run_in_threadpool(scorer(request).pool.wikis)


async def wiki_scores(request: Request, wiki: str) -> Response:
    """A wiki's models, or scores of `revids` with `models` (all by default)."""
    return await _score(request, wiki)


async def revision_scores(request: Request, wiki: str, rev_id: int) -> Response:
    """Scores of one revision with `models` (all by default)."""
    return await _score(request, wiki, rev_id)


async def model_score(request: Request, wiki: str, rev_id: int, model: str) -> Response:
    """One model's score of one revision; `features` adds its values and explanation."""
    return await _score(request, wiki, rev_id, model)


for _path, _handler in (
    ("/v3/scores/{wiki}/", wiki_scores),
    ("/v3/scores/{wiki}/{rev_id}/", revision_scores),
    ("/v3/scores/{wiki}/{rev_id}/{model}/", model_score),
):
    router.add_api_route(_path, _handler, methods=["GET"], openapi_extra=PARAMETERS)
    router.add_api_route(
        _path, _handler, methods=["POST"], name=f"{_handler.__name__}_post",
        openapi_extra=PARAMETERS,
    )  # fmt: skip


@router.post(
    "/v3/precache/",
    responses={204: {"description": "Nothing is precached for this wiki or event."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def precache(request: Request) -> Response:
    """Score a new revision from its event with the models configured for its kind of edit.

    204 when the wiki or the kind of event has no model to precache.
    """
    try:
        event = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"The body is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise BadRequest("The body must be a JSON object (an event)")
    engine = scorer(request)
    plan = precache_models(event, request.app.state.settings.precache)
    if plan is None:
        return Response(status_code=204)
    wiki, rev_id, names = plan
    available = await engine.served(wiki)  # a paused model is left out at once
    served = [available[name] for name in names if name in available]
    if not served:
        return Response(status_code=204)
    names = [model.name for model in served]
    async with track(request, "ores_precache", "|".join(names)):
        response = await engine.score(
            ScoreRequest(wiki, (rev_id,), models=tuple(names), precache=True), served
        )
    return ores_json(request, _document(response, None))
