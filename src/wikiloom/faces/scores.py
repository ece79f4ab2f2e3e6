"""Re-scoring a project: fit the matcher on the human answers, choose a threshold, score all.

Training labels are human answers only, plus the faces the community has already named: the
one face of a file that already depicts the item (the bootstrap). The matcher's own scores
never become labels. The threshold is chosen from out-of-fold scores of the labelled faces,
so its estimated precision is what the user sees before any edit is sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.faces.images import encoding_of
from wikiloom.faces.matching import FaceMatcher, choose_threshold, out_of_fold_scores
from wikiloom.faces.projects import get_project
from wikiloom.faces.tables import Face, FaceImage


@dataclass(frozen=True)
class Training:
    """A project's labelled faces: ids, encodings, labels, and where each label came from."""

    ids: list[int]
    X: np.ndarray
    y: np.ndarray
    human: np.ndarray


def training_faces(session: Session, project_id: int) -> Training:
    """The faces a project's matcher learns from: human answers, and bootstrap faces."""
    answered = session.execute(
        select(Face.id, Face.encoding, Face.answer).where(
            Face.project_id == project_id, Face.answer.is_not(None), Face.encoding.is_not(None)
        )
    ).all()
    single = (
        select(Face.image_id)
        .where(Face.project_id == project_id)
        .group_by(Face.image_id)
        .having(func.count() == 1)
    )
    bootstrap = session.execute(
        select(Face.id, Face.encoding)
        .join(FaceImage, FaceImage.id == Face.image_id)
        .where(
            FaceImage.project_id == project_id,
            FaceImage.depicted.is_(True),
            Face.answer.is_(None),
            Face.encoding.is_not(None),
            Face.image_id.in_(single),
        )
    ).all()
    ids = [row.id for row in answered] + [row.id for row in bootstrap]
    X = np.asarray(
        [encoding_of(row.encoding) for row in answered]
        + [encoding_of(row.encoding) for row in bootstrap]
    ).reshape(-1, 128)
    y = np.asarray([row.answer == "yes" for row in answered] + [True] * len(bootstrap))
    human = np.asarray([True] * len(answered) + [False] * len(bootstrap))
    return Training(ids, X, y, human)


def rescore(
    session: Session, project_id: int, *, random_state: int = 0
) -> dict[str, object] | None:
    """Fit, choose the threshold, store every face's score; None while nobody is confirmed."""
    project = get_project(session, project_id)
    training = training_faces(session, project_id)
    if not training.y.any():
        project.threshold, project.scored = None, utcnow()
        session.execute(update(Face).where(Face.project_id == project_id).values(score=None))
        return None
    matcher = FaceMatcher().fit(training.X, training.y)
    rows = session.execute(
        select(Face.id, Face.encoding).where(
            Face.project_id == project_id, Face.encoding.is_not(None)
        )
    ).all()
    if rows:
        X = np.asarray([encoding_of(row.encoding) for row in rows])
        scores = matcher.predict_proba(X)[:, 1]
        session.execute(
            update(Face),
            [
                {"id": row.id, "score": float(score)}
                for row, score in zip(rows, scores, strict=True)
            ],
        )
    summary: dict[str, object] = {
        "labelled": len(training.ids),
        "confirmed": int(training.y.sum()),
        "rejected": int((~training.y).sum()),
        "bootstrap": int((~training.human).sum()),
    }
    if training.y.sum() >= 2 and (~training.y).sum() >= 1:
        oof = out_of_fold_scores(matcher, training.X, training.y, random_state=random_state)
        found = choose_threshold(training.y, oof, target_precision=project.target_precision)
        summary |= asdict(found)
    else:  # too few answers to measure anything: dlib's radius, and no estimate
        summary |= {"value": 0.5, "precision": None, "reached": False}
    project.threshold, project.scored = summary, utcnow()
    session.flush()
    return summary
