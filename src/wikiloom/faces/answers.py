"""Human answers on faces: yes, no, skip, a pick among several faces, undo; the review queue.

An answer is stored twice: as the face's current `answer` (the training label) and as a
`face_answers` row, undone ones included, so nothing answered is lost. One action (a pick on
an image answers all its faces) shares one timestamp, and an undo reverts that action.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.errors import BadRequest, NotFound
from wikiloom.faces.matching import review_order
from wikiloom.faces.projects import get_project, require_role
from wikiloom.faces.tables import Face, FaceAnswer, FaceImage

ANSWER_KEYS = ("yes", "no", "skip")


@dataclass(frozen=True)
class Answered:
    """What an action changed: the faces answered and their new answers."""

    image_id: int
    answers: dict[int, str]


def answer_face(session: Session, face_id: int, user_id: int, answer: str) -> Answered:
    """Answer one face: yes (it depicts the item), no, or skip (ask someone else)."""
    if answer not in ANSWER_KEYS:
        raise BadRequest(f"an answer is one of {', '.join(ANSWER_KEYS)}, not {answer!r}")
    face = _face(session, face_id)
    require_role(session, face.project_id, user_id)
    now = utcnow()
    _record(session, face, user_id, answer, now)
    return Answered(face.image_id, {face.id: answer})


def answer_image(session: Session, image_id: int, user_id: int, pick: int | None) -> Answered:
    """Answer every face of an image at once: `pick` is the face that depicts the item (the
    others do not), None says none of them does."""
    image = session.get(FaceImage, image_id)
    if image is None:
        raise NotFound(f"image_id={image_id} does not exist")
    require_role(session, image.project_id, user_id)
    faces = list(session.scalars(select(Face).where(Face.image_id == image_id).order_by(Face.id)))
    if not faces:
        raise BadRequest(f"image_id={image_id} has no faces to answer")
    if pick is not None and pick not in {face.id for face in faces}:
        raise BadRequest(f"face_id={pick} is not a face of image_id={image_id}")
    now = utcnow()
    answers = {face.id: "yes" if face.id == pick else "no" for face in faces}
    for face in faces:
        _record(session, face, user_id, answers[face.id], now)
    return Answered(image_id, answers)


def undo(session: Session, project_id: int, user_id: int) -> Answered | None:
    """Undo the user's last action in a project; None when there is nothing to undo."""
    get_project(session, project_id)
    last = session.scalar(
        select(FaceAnswer.created)
        .join(Face, Face.id == FaceAnswer.face_id)
        .where(
            Face.project_id == project_id,
            FaceAnswer.user_id == user_id,
            FaceAnswer.undone.is_(None),
        )
        .order_by(FaceAnswer.id.desc())
        .limit(1)
    )
    if last is None:
        return None
    rows = session.execute(
        select(FaceAnswer, Face)
        .join(Face, Face.id == FaceAnswer.face_id)
        .where(
            Face.project_id == project_id,
            FaceAnswer.user_id == user_id,
            FaceAnswer.undone.is_(None),
            FaceAnswer.created == last,
        )
        .order_by(FaceAnswer.id.desc())
    ).all()
    now = utcnow()
    restored: dict[int, str] = {}
    for given, face in rows:
        given.undone = now
        if given.answer != "skip":
            before = session.scalar(
                select(FaceAnswer)
                .where(
                    FaceAnswer.face_id == face.id,
                    FaceAnswer.id < given.id,
                    FaceAnswer.answer != "skip",
                    FaceAnswer.undone.is_(None),
                )
                .order_by(FaceAnswer.id.desc())
                .limit(1)
            )
            face.answer = None if before is None else before.answer
            face.answered_by = None if before is None else before.user_id
            face.answered = None if before is None else before.created
        restored[face.id] = face.answer or "unanswered"
    session.flush()
    return Answered(rows[0][1].image_id, restored)


def next_image(
    session: Session, project_id: int, user_id: int, *, exclude: frozenset[int] = frozenset()
) -> FaceImage | None:
    """The image a user should answer next: the one with the face nearest the decision
    boundary, with a random share (`random_fraction`); none a user skipped; None when done."""
    project = get_project(session, project_id)
    skipped = select(FaceAnswer.face_id).where(
        FaceAnswer.user_id == user_id, FaceAnswer.answer == "skip", FaceAnswer.undone.is_(None)
    )
    rows = session.execute(
        select(Face.id, Face.image_id, Face.score)
        .join(FaceImage, FaceImage.id == Face.image_id)
        .where(
            Face.project_id == project_id,
            Face.answer.is_(None),
            FaceImage.depicted.is_(False),
            Face.id.not_in(skipped),
        )
        .order_by(Face.id)
    ).all()
    rows = [row for row in rows if row.image_id not in exclude]
    if not rows:
        return None
    answered = session.scalar(
        select(FaceAnswer.id).where(FaceAnswer.user_id == user_id).order_by(FaceAnswer.id.desc())
    )
    seed = [project_id, user_id, int(answered or 0)]
    threshold = float((project.threshold or {}).get("value", 0.5))
    scores = np.asarray([0.5 if row.score is None else row.score for row in rows])
    if all(row.score is None for row in rows):  # no model yet: every face is as good
        scores = np.random.default_rng(seed).random(len(rows))
        threshold = 0.5
    order = review_order(
        scores,
        threshold,
        random_fraction=project.random_fraction,
        random_state=int(np.random.default_rng(seed).integers(2**31 - 1)),
    )
    return session.get(FaceImage, rows[int(order[0])].image_id)


def _face(session: Session, face_id: int) -> Face:
    face = session.get(Face, face_id)
    if face is None:
        raise NotFound(f"face_id={face_id} does not exist")
    return face


def _record(session: Session, face: Face, user_id: int, answer: str, now: dt.datetime) -> None:
    session.add(
        FaceAnswer(
            face_id=face.id, user_id=user_id, answer=answer, previous=face.answer, created=now
        )
    )
    if answer != "skip":
        face.answer, face.answered_by, face.answered = answer, user_id, now
    session.flush()
