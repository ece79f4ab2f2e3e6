"""Feedback pages of a model: its score of a revision with the Agree / Disagree control
(`/ui/<wiki>/models/<model>/score?rev_id=N`), and its disputes (`…/disputes/`).

The score comes from the in-process scorer, as the ORES routes answer it. The forms' script
(`static/ui/feedback.js`) posts to the JSON API of `wikiloom.http.feedback`; the pages only
say who may use which form (logged in for feedback, admins for a campaign).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from wikiloom.errors import AppError, NotFound
from wikiloom.http.deps import in_transaction
from wikiloom.http.feedback import default_name
from wikiloom.http.identity import session_user
from wikiloom.http.messages import Messages
from wikiloom.http.model_pages import CHIPS, formatters, model_summary, not_found
from wikiloom.http.organizing import is_admin
from wikiloom.http.rendering import page_language, render
from wikiloom.http.scoring import count_scores, scorer, track
from wikiloom.learn.disputes import disputes
from wikiloom.learn.feedback import (
    MAX_COMMENT,
    feedback_of,
    feedback_record,
    find_model_of,
    same_label,
)
from wikiloom.learn.registry import SERVED_STATES, get_version
from wikiloom.learn.statistics import label_key
from wikiloom.learn.tables import FEEDBACK_STATES, OPEN
from wikiloom.scoring.scores import ScoreRequest
from wikiloom.wiki.registry import api_url

router = APIRouter(include_in_schema=False)
PREFIX = "wikiloom-feedback-"
#: Disputes per page of the disputes page.
PAGE = 100
MAX_REV_ID = 2**63 - 1


def _login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/auth/initiate/?next=" + quote(here, safe="")


def _known(request: Request, wiki: str) -> str | None:
    try:
        api_url(wiki, request.app.state.settings.wikis)
    except NotFound:
        return None
    return wiki


def _config(request: Request, wiki: str, **values: Any) -> dict[str, Any]:
    language = page_language(request, wiki)
    messages: Messages = request.app.state.messages
    return {"wiki": wiki, "lang": language, "messages": messages.bundle(language, PREFIX), **values}


def _label_text(value: Any) -> str:
    return (
        label_key(value)
        if isinstance(value, bool | int | float | str)
        else orjson.dumps(value).decode()
    )


def _rev_id(raw: str | None) -> int | None:
    if raw is None or not raw.strip().isdigit():
        return None
    value = int(raw.strip())
    return value if 0 < value <= MAX_REV_ID else None


def diff_url(request: Request, wiki: str, rev_id: int) -> str | None:
    """The revision's diff on its wiki (`index.php?diff=N`), None for an unknown wiki."""
    try:
        api = api_url(wiki, request.app.state.settings.wikis)
    except NotFound:
        return None
    return f"{api.removesuffix('api.php')}index.php?diff={rev_id}"


async def _score(
    request: Request, wiki: str, name: str, rev_id: int
) -> tuple[Any, str, str | None]:
    """The served model's score of the revision, the version that gave it, or the problem."""
    engine = scorer(request)
    try:
        async with track(request, "ui_score", name):
            response = await engine.score(ScoreRequest(wiki, (rev_id,), models=(name,)))
    except AppError as error:
        return None, "", error.message
    count_scores(request, response)
    doc = response.scores[rev_id][name]
    version = response.models[0].version
    if "error" in doc:
        return None, version, str(doc["error"].get("message") or doc["error"].get("type"))
    return doc["score"], version, None


@router.get("/ui/{wiki}/models/{name}/score", response_class=HTMLResponse)
async def score_page(request: Request, wiki: str, name: str) -> HTMLResponse:
    """A model's score of `?rev_id=N`, with the Agree / Disagree control next to it."""
    raw = request.query_params.get("rev_id")
    rev_id = _rev_id(raw)
    user = session_user(request)

    def work(session: Session) -> dict[str, Any]:
        model = find_model_of(session, wiki, name)
        labels = []
        if model.current_version_id is not None:
            labels = list(get_version(session, model).labels or [])
        mine = None
        if user is not None and rev_id is not None:
            found = feedback_of(session, model, rev_id, int(user["id"]))
            mine = None if found is None else feedback_record(found, model.name)
        return {"model": model_summary(session, model), "labels": labels, "mine": mine}

    try:
        page = await in_transaction(request, work)
    except NotFound as error:
        return not_found(request, _known(request, wiki), error.message)
    model = page["model"]
    score, version, problem = None, "", None
    served = model["status"] in SERVED_STATES and model["current"] is not None
    if rev_id is not None and served:
        score, version, problem = await _score(request, wiki, name, rev_id)
    mine = page["mine"]
    options = [
        {
            "value": orjson.dumps(label).decode(),
            "text": _label_text(label),
            "selected": mine is not None and same_label(mine["correct_label"], label),
        }
        for label in page["labels"]
    ]  # fmt: skip
    context = {
        **formatters(request, wiki),
        "chips": CHIPS,
        "model": model,
        "rev_id": rev_id,
        "raw_rev_id": raw if raw is not None and rev_id is None else None,
        "served": served,
        "score": score,
        "prediction": None if score is None else _label_text(score.get("prediction")),
        "version": version,
        "problem": problem,
        "options": options,
        "mine": mine,
        "diff_url": None if rev_id is None else diff_url(request, wiki, rev_id),
        "login_url": _login_url(request),
        "max_comment": MAX_COMMENT,
        "config": _config(request, wiki, model=name, version=version, revId=rev_id, score=score),
    }
    return render(request, "models/score.html", context, wiki=wiki)


@router.get("/ui/{wiki}/models/{name}/disputes/", response_class=HTMLResponse)
async def disputes_page(request: Request, wiki: str, name: str) -> HTMLResponse:
    """A model's disputes in one state (`?status=`, open by default), oldest first; admins
    can turn the open ones into a labeling campaign."""
    status = request.query_params.get("status") or OPEN
    status = status if status in FEEDBACK_STATES else OPEN
    after = _rev_id(request.query_params.get("after"))
    forms = request.app.state.forms

    def work(session: Session) -> dict[str, Any]:
        model = find_model_of(session, wiki, name)
        found = disputes(session, model, status, limit=PAGE, after=after)
        rows = []
        for row in found.items:
            record = feedback_record(row, model.name)
            predicted = (row.score or {}).get("prediction")
            record["prediction"] = None if predicted is None else _label_text(predicted)
            label = row.correct_label
            record["correct"] = None if label is None else _label_text(label)
            rows.append(record)
        return {
            "model": model_summary(session, model),
            "rows": rows,
            "counts": found.counts,
            "after": found.next_after,
            "forms": [key for key, form in forms.items() if model.target in form.fields],
        }

    try:
        page = await in_transaction(request, work)
    except NotFound as error:
        return not_found(request, _known(request, wiki), error.message)
    admin = session_user(request) is not None and is_admin(request)
    context = {
        **formatters(request, wiki),
        "chips": CHIPS,
        **page,
        "status": status,
        "states": FEEDBACK_STATES,
        "admin": admin,
        "default_name": default_name(name),
        "config": _config(request, wiki, model=name),
    }
    return render(request, "models/disputes.html", context, wiki=wiki)
