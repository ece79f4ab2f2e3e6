"""Face projects and their loop on every engine: settings, members, images, answers, scores,
edits queued, encodings deleted."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.errors import BadRequest, Conflict, Forbidden
from wikiloom.faces.answers import answer_face, answer_image, next_image, undo
from wikiloom.faces.boxes import Box
from wikiloom.faces.detection import DetectedImage
from wikiloom.faces.detection import Face as Found
from wikiloom.faces.images import NewImage, add_images, record_detection, record_failure
from wikiloom.faces.privacy import delete_encodings, purge_expired
from wikiloom.faces.projects import (
    Category,
    ProjectSettings,
    add_member,
    categories_of,
    check_settings,
    create_project,
    progress,
    project_json,
    remove_member,
    update_project,
)
from wikiloom.faces.scores import rescore
from wikiloom.faces.tables import DepictsEdit, Face, FaceAnswer, FaceImage
from wikiloom.faces.writer import queue_edits

Factory = sessionmaker[Session]
OWNER, MEMBER, STRANGER = 101, 102, 103


def person(seed: int, count: int, spread: float = 0.03) -> np.ndarray:
    """Encodings of one synthetic person: a centre and faces about 0.3-0.4 from each other."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(scale=0.09, size=128)
    return centre + rng.normal(scale=spread, size=(count, 128))


def make_project(sessions: Factory, **values: object) -> int:
    settings = ProjectSettings(
        wiki="commonswiki",
        qid=str(values.pop("qid", "Q76")),
        name=str(values.pop("name", "Obama")),
        categories=(Category("Barack Obama", 1),),
        label="Barack Obama",
        **values,  # type: ignore[arg-type]
    )
    with transaction(sessions, write=True) as session:
        project = create_project(session, settings, OWNER, "Owner")
        add_member(session, project.id, OWNER, MEMBER, "Member")
        return project.id


def add_photos(sessions: Factory, project_id: int, encodings: list[list[np.ndarray]]) -> list[int]:
    """One image per list of encodings, detected; answer the image ids."""
    with transaction(sessions, write=True) as session:
        add_images(
            session,
            project_id,
            [NewImage(1000 + i, f"File:P{i}.jpg", None) for i in range(len(encodings))],
        )
        images = list(
            session.scalars(
                select(FaceImage).where(FaceImage.project_id == project_id).order_by(FaceImage.id)
            )
        )[-len(encodings) :]
        for image, faces in zip(images, encodings, strict=True):
            found = tuple(
                Found(Box(10, 60 + 60 * k, 60, 10 + 60 * k), enc) for k, enc in enumerate(faces)
            )
            record_detection(session, image.id, DetectedImage(500, 400, found))
        return [image.id for image in images]


def faces_of_image(sessions: Factory, image_id: int) -> list[int]:
    with transaction(sessions) as session:
        return list(
            session.scalars(select(Face.id).where(Face.image_id == image_id).order_by(Face.id))
        )


def test_settings_and_categories_are_checked_with_their_reason() -> None:
    assert categories_of(["Category:Barack_Obama", {"name": "Joe Biden", "depth": 2}]) == (
        Category("Barack Obama", 0),
        Category("Joe Biden", 2),
    )
    for bad, reason in [
        ([], "non-empty"),
        ([{"name": "X", "depth": 9}], "depth must be 0 to 5"),
        ([{"name": "X", "depth": True}], "depth"),
        (["A|B"], "not a category name"),
        ([{"depth": 1}], "needs a name"),
    ]:
        with pytest.raises(BadRequest, match=reason):
            categories_of(bad)
    for values, reason in [
        ({"colour": "red"}, "unknown project settings: colour"),
        ({"target_precision": 1.0}, "target_precision must lie in"),
        ({"random_fraction": 0.7}, "random_fraction must lie in"),
        ({"max_images": 0}, "max_images must be a whole number"),
        ({"status": "gone"}, "status is one of"),
        ({"name": " "}, "project name"),
    ]:
        with pytest.raises(BadRequest, match=reason):
            check_settings(values)


def test_projects_members_and_roles(sessions: Factory) -> None:
    project_id = make_project(sessions)
    with pytest.raises(Conflict, match="exists already"), transaction(sessions) as session:
        create_project(
            session,
            ProjectSettings("commonswiki", "q76", "Obama", (Category("X"),)),
            OWNER,
        )
    with pytest.raises(BadRequest, match="not a Wikidata item"), transaction(sessions) as session:
        create_project(session, ProjectSettings("commonswiki", "P18", "X", (Category("X"),)), 1)
    with transaction(sessions, write=True) as session:
        with pytest.raises(Forbidden, match="owners"):
            update_project(session, project_id, MEMBER, {"target_precision": 0.95})
        update_project(session, project_id, OWNER, {"target_precision": 0.95})
        with pytest.raises(Conflict, match="last owner"):
            remove_member(session, project_id, OWNER, OWNER)
        project = update_project(session, project_id, OWNER, {})
        found = project_json(project, progress(session, project_id))
    assert found["target_precision"] == 0.95
    assert found["qid"] == "Q76"
    assert found["progress"]["faces"] == 0
    (image,) = add_photos(sessions, project_id, [[person(1, 1)[0]]])
    (face,) = faces_of_image(sessions, image)
    with pytest.raises(Forbidden, match="members"), transaction(sessions, write=True) as session:
        answer_face(session, face, STRANGER, "yes")


def test_images_are_added_once_and_within_the_limit(sessions: Factory) -> None:
    project_id = make_project(sessions, max_images=3)
    with transaction(sessions, write=True) as session:
        first = [NewImage(1, "File:A.jpg", "u"), NewImage(2, "File:B.jpg", "u")]
        assert add_images(session, project_id, first) == 2
        assert add_images(session, project_id, first) == 0
        more = [NewImage(3, "File:C.jpg", "u"), NewImage(4, "File:D.jpg", "u")]
        assert add_images(session, project_id, more) == 1
        image = session.scalars(select(FaceImage).where(FaceImage.page_id == 3)).one()
        record_failure(session, image.id, "network")
        assert image.status == "pending"
        record_failure(session, image.id, "not an image", final=True)
        assert image.status == "failed"
        assert image.error == "not an image"


def test_answers_undo_and_the_history_behind_them(sessions: Factory) -> None:
    project_id = make_project(sessions)
    obama = person(1, 3)
    other = person(2, 3)
    single, pair = add_photos(sessions, project_id, [[obama[0]], [other[0], obama[1]]])
    (face,) = faces_of_image(sessions, single)
    left, right = faces_of_image(sessions, pair)
    with transaction(sessions, write=True) as session:
        answer_face(session, face, MEMBER, "yes")
        answer_image(session, pair, OWNER, right)
        assert session.get(Face, left).answer == "no"
        assert session.get(Face, right).answer == "yes"
        with pytest.raises(BadRequest, match="not a face of"):
            answer_image(session, pair, OWNER, face)
        with pytest.raises(BadRequest, match="an answer is one of"):
            answer_face(session, face, OWNER, "maybe")
        # The owner changes their mind about the pair, then undoes it: back to their pick.
        answer_image(session, pair, OWNER, None)
        assert session.get(Face, right).answer == "no"
        undone = undo(session, project_id, OWNER)
        assert undone is not None
        assert undone.image_id == pair
        assert session.get(Face, right).answer == "yes"
        assert session.get(Face, right).answered_by == OWNER
        undo(session, project_id, OWNER)
        assert session.get(Face, right).answer is None
        assert session.get(Face, right).answered_by is None
        assert session.get(Face, face).answer == "yes"  # the member's answer is not theirs to undo
        assert undo(session, project_id, OWNER) is None
        history = session.scalar(select(func.count()).select_from(FaceAnswer))
    assert history == 5  # every answer kept, undone ones too


def test_the_matcher_learns_from_answers_and_the_queue_prefers_the_boundary(
    sessions: Factory,
) -> None:
    project_id = make_project(sessions, random_fraction=0.0)
    obama, other = person(1, 12), person(2, 12)
    images = add_photos(sessions, project_id, [[enc] for enc in [*obama, *other]])
    faces = [faces_of_image(sessions, image)[0] for image in images]
    with transaction(sessions, write=True) as session:
        assert rescore(session, project_id) is None  # nobody confirmed yet
        for face in faces[:4]:
            answer_face(session, face, MEMBER, "yes")
        for face in faces[12:15]:
            answer_face(session, face, MEMBER, "no")
        summary = rescore(session, project_id)
        assert summary is not None
        assert (summary["confirmed"], summary["rejected"]) == (4, 3)
        scores = {f.id: f.score for f in session.scalars(select(Face))}
        unanswered_obama = [scores[f] for f in faces[4:12]]
        unanswered_other = [scores[f] for f in faces[15:]]
        assert min(unanswered_obama) > max(unanswered_other)
        threshold = float(summary["value"])  # type: ignore[arg-type]
        chosen = next_image(session, project_id, MEMBER)
        assert chosen is not None
        nearest = min(
            (f for f in faces if session.get(Face, f).answer is None),
            key=lambda f: abs(scores[f] - threshold),
        )
        assert chosen.id == session.get(Face, nearest).image_id
        # A skipped face is not asked again of the same user.
        answer_face(session, nearest, MEMBER, "skip")
        again = next_image(session, project_id, MEMBER)
        assert again is not None
        assert again.id != chosen.id
        assert next_image(session, project_id, OWNER).id == chosen.id  # type: ignore[union-attr]


def test_sending_queues_one_edit_per_file_and_model_matches_only_when_trusted(
    sessions: Factory,
) -> None:
    project_id = make_project(sessions)
    obama = person(1, 4)
    images = add_photos(sessions, project_id, [[obama[0]], [obama[1]], [obama[2], obama[3]]])
    first = faces_of_image(sessions, images[0])[0]
    with transaction(sessions, write=True) as session:
        answer_face(session, first, MEMBER, "yes")
        rescore(session, project_id)
        queued = queue_edits(session, project_id, MEMBER)
        assert (queued.additions, queued.model_matches) == (1, False)  # too few answers
        assert queue_edits(session, project_id, MEMBER).additions == 0  # once per file
        with pytest.raises(Forbidden):
            queue_edits(session, project_id, STRANGER)
        edits = session.scalars(select(DepictsEdit)).all()
        assert [(e.page_id, e.qid, e.action, e.status) for e in edits] == [
            (1000, "Q76", "add", "pending")
        ]


def test_encodings_are_deleted_on_request_and_after_the_retention(sessions: Factory) -> None:
    project_id = make_project(sessions, retention_days=30)
    add_photos(sessions, project_id, [[enc] for enc in person(1, 3)])
    with transaction(sessions, write=True) as session:
        assert purge_expired(session) == 0
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
        image = session.scalars(select(FaceImage)).first()
        assert image is not None
        image.detected = later - dt.timedelta(days=40)
        session.flush()
        assert purge_expired(session, later) == 1
        with pytest.raises(Forbidden):
            delete_encodings(session, project_id, MEMBER)
        assert delete_encodings(session, project_id, OWNER) == 2
        assert session.scalar(select(func.count()).where(Face.encoding.is_not(None))) == 0
        assert session.scalar(select(func.count()).select_from(Face)) == 3  # boxes stay


def test_model_decisions_never_become_training_labels(sessions: Factory) -> None:
    project_id = make_project(sessions)
    obama, other = person(1, 8), person(2, 8)
    images = add_photos(sessions, project_id, [[enc] for enc in [*obama, *other]])
    faces = [faces_of_image(sessions, image)[0] for image in images]
    with transaction(sessions, write=True) as session:
        answer_face(session, faces[0], MEMBER, "yes")
        answer_face(session, faces[1], MEMBER, "yes")
        answer_face(session, faces[8], MEMBER, "no")
        first = rescore(session, project_id)
        assert first is not None
        assert session.scalar(select(func.count()).where(Face.score > 0.9)) > 3
        again = rescore(session, project_id)  # the high scores above train nothing
        assert again is not None
        assert (again["labelled"], again["confirmed"], again["rejected"]) == (3, 2, 1)
        assert again == first
        assert session.scalar(select(func.count()).where(Face.answer.is_not(None))) == 3
