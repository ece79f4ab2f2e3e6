"""Feedback on scores: agree or disagree with a model's score of a revision, and the labels
feedback gives revisions, for training (the disputes queue is `learn.disputes`).

One feedback per user, model and revision: giving it again changes it in place (`updated`).
A disagreement is a dispute; it is `open` until it is sent to a campaign (`queued`), then
`resolved` or `dismissed` by a reviewer. A disagreement without a correct label is kept but
flagged (`no_correct_label`): it says the score is wrong without saying what is right.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, NotFound
from wikiloom.labels.users import ensure_user
from wikiloom.learn.registry import NAME, VERSION, get_model, get_version
from wikiloom.learn.statistics import label_key
from wikiloom.learn.tables import (
    AGREE,
    DISAGREE,
    DISMISSED,
    OPEN,
    RESOLVED,
    VERDICTS,
    Feedback,
    Model,
)

#: The longest comment (and resolution note) kept, in characters.
MAX_COMMENT = 2000
#: The largest score JSON kept, in bytes.
MAX_SCORE = 4096
#: The largest correct label of a model without known labels, in bytes of JSON.
MAX_LABEL = 255
MAX_REV_ID = 2**63 - 1
WIKI = re.compile(r"[A-Za-z0-9_-]{1,64}")
SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class Author:
    """Who gives feedback or acts on a dispute: the central user id and the username."""

    id: int
    name: str | None = None


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def same_label(a: Any, b: Any) -> bool:
    """Whether two labels are the same JSON value (`true` is not `1`)."""
    return _json(a) == _json(b)


def find_model_of(session: Session, wiki: str, name: str) -> Model:
    """The model of a wiki by name; `NotFound` names it (odd names name no model)."""
    if not WIKI.fullmatch(wiki) or not NAME.fullmatch(name):
        raise NotFound(f"{wiki!r} has no model named {name!r}")
    return get_model(session, wiki, name)


def check_text(what: str, value: str | None) -> str | None:
    """A comment or note stripped (None when blank); too long, or with NUL, is refused."""
    if value is None or not value.strip():
        return None
    if len(value) > MAX_COMMENT:
        raise BadRequest(f"{what} must be at most {MAX_COMMENT} characters, not {len(value)}")
    if "\x00" in value:
        raise BadRequest(f"{what} may not contain a NUL character")
    return value.strip()


def _check_label(what: str, value: Any, labels: list[Any]) -> None:
    """Refuse a label that is not one of the model's (any small scalar when it has none)."""
    if labels:
        if not any(same_label(value, label) for label in labels):
            known = ", ".join(_json(label).decode() for label in labels)
            raise BadRequest(f"{what} must be one of the model's labels ({known}), not {value!r}")
        return
    if not isinstance(value, SCALARS) or len(_json(value)) > MAX_LABEL:
        raise BadRequest(f"{what} must be a string, number or boolean of at most {MAX_LABEL} bytes")
    if isinstance(value, str) and "\x00" in value:
        raise BadRequest(f"{what} may not contain a NUL character")


def _check_score(score: Any, labels: list[Any]) -> dict[str, Any] | None:
    """The score the user saw: `{"prediction": label, "probability": {label: p}}`, both optional."""
    if score is None:
        return None
    if not isinstance(score, dict):
        raise BadRequest("score must be a JSON object with prediction and probability")
    unknown = sorted(set(score) - {"prediction", "probability"})
    if unknown:
        raise BadRequest(f"score holds only prediction and probability, not {unknown[0]!r}")
    if len(_json(score)) > MAX_SCORE:
        raise BadRequest(f"score must be at most {MAX_SCORE} bytes of JSON")
    if "prediction" in score:
        _check_label("score.prediction", score["prediction"], labels)
    probability = score.get("probability")
    if probability is not None:
        keys = {label_key(label) for label in labels}
        if not isinstance(probability, dict):
            raise BadRequest("score.probability must map labels to probabilities")
        for key, p in probability.items():
            if keys and key not in keys:
                raise BadRequest(f"score.probability names {key!r}, not a label of the model")
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
                raise BadRequest(f"score.probability.{key} must be a number from 0 to 1")
    return dict(score)


def give_feedback(
    session: Session,
    wiki: str,
    model_name: str,
    rev_id: int,
    *,
    verdict: str,
    correct_label: Any = None,
    comment: str | None = None,
    version: str | None = None,
    score: Any = None,
    user: Author,
) -> tuple[Feedback, bool]:
    """Record a user's feedback on a score; `True` when new, `False` when it changed theirs.

    `version` is the model version whose score the user saw (the current one by default).
    Agreeing confirms the prediction of `score`; a correct label, when given, must then be
    that prediction. Disagreeing names the correct label, which differs from the prediction.
    """
    if isinstance(rev_id, bool) or not isinstance(rev_id, int) or not 0 < rev_id <= MAX_REV_ID:
        raise BadRequest(f"rev_id must be a positive integer, not {rev_id!r}")
    if verdict not in VERDICTS:
        raise BadRequest(f"verdict must be {' or '.join(VERDICTS)}, not {verdict!r}")
    model = find_model_of(session, wiki, model_name)
    if version is not None and not VERSION.fullmatch(version):
        raise BadRequest(f"{wiki} {model_name} has no version {version!r}: name a version it has")
    if model.current_version_id is None and version is None:
        raise BadRequest(f"{wiki} {model_name} has no version yet: it has scored nothing")
    try:
        seen = get_version(session, model, version)
    except NotFound as error:
        raise BadRequest(f"{error.message}: name a version it has") from None
    labels = list(seen.labels or [])
    if correct_label is not None:
        _check_label("correct_label", correct_label, labels)
    text = check_text("comment", comment)
    shown = _check_score(score, labels)
    predicted = (shown or {}).get("prediction")
    if predicted is not None and correct_label is not None:
        if verdict == DISAGREE and same_label(predicted, correct_label):
            raise BadRequest("a disagreement's correct label must differ from the prediction")
        if verdict == AGREE and not same_label(predicted, correct_label):
            raise BadRequest("agreeing confirms the prediction: correct_label must be it or none")
    ensure_user(session, user.id, user.name)
    values = {
        "version": seen.version, "verdict": verdict, "correct_label": correct_label,
        "comment": text, "score": shown, "user_name": user.name,
    }  # fmt: skip
    existing = _mine(session, model.id, rev_id, user.id)
    if existing is None:
        row = Feedback(
            model_id=model.id, wiki=model.wiki, rev_id=rev_id, user_id=user.id,
            created=utcnow(), status=OPEN, **values,
        )  # fmt: skip
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return row, True
        except IntegrityError:  # the same user's other request came first
            existing = _mine(session, model.id, rev_id, user.id)
            if existing is None:
                raise
    _update(existing, values)
    session.flush()
    return existing, False


def _mine(session: Session, model_id: int, rev_id: int, user_id: int) -> Feedback | None:
    return session.scalar(
        select(Feedback).where(
            Feedback.model_id == model_id, Feedback.rev_id == rev_id, Feedback.user_id == user_id
        )
    )


def _update(row: Feedback, values: Mapping[str, Any]) -> None:
    """Change a feedback in place; a settled dispute whose judgment changed opens again."""
    changed = row.verdict != values["verdict"] or not same_label(
        row.correct_label, values["correct_label"]
    )
    for name, value in values.items():
        setattr(row, name, value)
    row.updated = utcnow()
    if changed and row.status in (RESOLVED, DISMISSED):
        row.status, row.resolution, row.resolved_by, row.resolved = OPEN, None, None, None


def feedback_of(session: Session, model: Model, rev_id: int, user_id: int) -> Feedback | None:
    """A user's feedback on a model's score of a revision, if any."""
    return _mine(session, model.id, rev_id, user_id)


def flags_of(row: Feedback) -> list[str]:
    """What a reviewer should know of a feedback: `no_correct_label`."""
    return ["no_correct_label"] if row.verdict == DISAGREE and row.correct_label is None else []


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def feedback_record(
    row: Feedback, model: str, user: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A feedback as the API shows it; `user` replaces the author (pseudonymous lists)."""
    return {
        "id": row.id,
        "wiki": row.wiki,
        "model": model,
        "version": row.version,
        "rev_id": row.rev_id,
        "verdict": row.verdict,
        "correct_label": row.correct_label,
        "comment": row.comment,
        "score": row.score,
        "user": dict(user) if user is not None else {"id": row.user_id, "name": row.user_name},
        "created": _iso(row.created),
        "updated": _iso(row.updated),
        "status": row.status,
        "campaign_id": row.campaign_id,
        "resolution": row.resolution,
        "resolved_by": row.resolved_by,
        "resolved": _iso(row.resolved),
        "flags": flags_of(row),
    }


@dataclass(frozen=True)
class FeedbackTargets:
    """Labels of revisions from feedback: one value per revision, with what it came from."""

    wiki: str
    field: str
    targets: dict[int, Hashable]
    #: rev_id -> the ids of the feedback behind its value, and of their users.
    feedback_ids: dict[int, list[int]]
    users: dict[int, set[int]]
    #: Revisions left out because their users disagreed evenly.
    ties: int


def _value(row: Feedback) -> Any:
    """The label a feedback gives its revision: the correct one, or the confirmed prediction."""
    if row.correct_label is not None:
        return row.correct_label
    if row.verdict == AGREE and isinstance(row.score, dict):
        return row.score.get("prediction")
    return None


def _latest_per_user(rows: Iterable[Feedback]) -> dict[int, list[Feedback]]:
    """Per revision, each user's latest feedback that gives a label."""
    latest: dict[tuple[int, int], Feedback] = {}
    for row in rows:
        if not isinstance(_value(row), SCALARS):
            continue
        key = (row.rev_id, row.user_id)
        seen = latest.get(key)
        if seen is None or (row.updated or row.created) >= (seen.updated or seen.created):
            latest[key] = row
    votes: dict[int, list[Feedback]] = {}
    for (rev_id, _), row in latest.items():
        votes.setdefault(rev_id, []).append(row)
    return votes


def feedback_targets(session: Session, wiki: str, field: str) -> FeedbackTargets:
    """The labels feedback gives revisions of a wiki for the models predicting `field`.

    Disagreements count with their correct label, agreements with the prediction they
    confirm; dismissed feedback does not count. Each user counts once per revision (their
    latest feedback); the majority value wins, and revisions whose users tie are left out.
    """
    query = (
        select(Feedback)
        .join(Model, Model.id == Feedback.model_id)
        .where(Feedback.wiki == wiki, Model.target == field, Feedback.status != DISMISSED)
        .order_by(Feedback.id)
    )
    targets: dict[int, Hashable] = {}
    ids: dict[int, list[int]] = {}
    users: dict[int, set[int]] = {}
    ties = 0
    for rev_id, rows in sorted(_latest_per_user(session.scalars(query)).items()):
        counted = Counter(_json(_value(row)) for row in rows).most_common()
        if len(counted) > 1 and counted[0][1] == counted[1][1]:
            ties += 1
            continue
        winners = [row for row in rows if _json(_value(row)) == counted[0][0]]
        targets[rev_id] = _value(winners[0])
        ids[rev_id] = sorted(row.id for row in winners)
        users[rev_id] = {row.user_id for row in winners}
    return FeedbackTargets(wiki, field, targets, ids, users, ties)
