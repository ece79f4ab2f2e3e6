"""The loop on real photos: detection stores what dlib finds, the matcher learns from the
answers, and only faces of the person become depicts edits (never the astronaut's patch)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction
from wikiloom.faces.answers import answer_face
from wikiloom.faces.detection import DetectedImage, detect
from wikiloom.faces.images import NewImage, add_images, encoding_of, record_detection
from wikiloom.faces.projects import Category, ProjectSettings, create_project
from wikiloom.faces.scores import rescore
from wikiloom.faces.tables import DepictsEdit, Face, FaceImage
from wikiloom.faces.writer import queue_edits

PHOTOS = Path(__file__).parent.parent / "data" / "faces"
OWNER = 7
Factory = sessionmaker[Session]


def astronaut_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.astronaut()).save(out, "JPEG", quality=95)
    return out.getvalue()


@pytest.fixture(scope="module")
def detected() -> dict[str, DetectedImage]:
    """dlib's findings on the photos (the astronaut at its own 512 px: face and patch)."""
    found = {name: detect((PHOTOS / f"{name}.jpg").read_bytes()) for name in ("obama", "obama2")}
    found["biden"] = detect((PHOTOS / "biden.jpg").read_bytes())
    found["astronaut"] = detect(astronaut_jpeg(), max_width=512)
    return found


def stored(sessions: Factory, qid: str, found: dict[str, DetectedImage]) -> tuple[int, dict]:
    """A project with one image per photo, detected; answer it and the faces by photo."""
    with transaction(sessions, write=True) as session:
        project = create_project(
            session, ProjectSettings("commonswiki", qid, qid, (Category("Test"),)), OWNER
        )
        add_images(
            session,
            project.id,
            [NewImage(100 + n, f"File:{name}.jpg", None) for n, name in enumerate(found)],
        )
        faces: dict[str, list[int]] = {}
        for n, (name, result) in enumerate(found.items()):
            image = session.scalars(
                select(FaceImage).where(
                    FaceImage.project_id == project.id, FaceImage.page_id == 100 + n
                )
            ).one()
            faces[name] = [face.id for face in record_detection(session, image.id, result)]
        return project.id, faces


def test_the_astronauts_patch_is_found_stored_and_never_written(
    sessions: Factory, detected: dict[str, DetectedImage]
) -> None:
    assert len(detected["astronaut"].faces) == 2  # the face, then the mission patch
    project_id, faces = stored(sessions, "Q76", detected)  # Barack Obama
    face, patch = faces["astronaut"]
    with transaction(sessions, write=True) as session:
        stored_patch = session.get(Face, patch)
        assert stored_patch is not None
        image = session.get(FaceImage, stored_patch.image_id)
        assert image is not None
        assert (image.width, image.height) == (512, 512)
        assert stored_patch.box_bottom <= 512
        assert stored_patch.encoding is not None
        assert np.allclose(
            encoding_of(stored_patch.encoding), detected["astronaut"].faces[1].encoding
        )
        answer_face(session, faces["obama"][0], OWNER, "yes")
        answer_face(session, faces["biden"][0], OWNER, "no")
        rescore(session, project_id)
        scores = {f.id: f.score for f in session.scalars(select(Face))}
        assert scores[faces["obama2"][0]] > 0.9  # the same man on another photo
        assert scores[face] < 0.5
        assert scores[patch] < 0.5  # under the 0.5 of a project too young to choose
        queue_edits(session, project_id, OWNER)
        edits = session.scalars(select(DepictsEdit)).all()
        assert [edit.page_id for edit in edits] == [100]  # obama.jpg only


def test_on_the_astronauts_own_project_the_edit_comes_from_her_face(
    sessions: Factory, detected: dict[str, DetectedImage]
) -> None:
    only = {"astronaut": detected["astronaut"], "biden": detected["biden"]}
    project_id, faces = stored(sessions, "Q232497", only)  # Eileen Collins
    face, patch = faces["astronaut"]
    with transaction(sessions, write=True) as session:
        answer_face(session, face, OWNER, "yes")
        answer_face(session, faces["biden"][0], OWNER, "no")
        rescore(session, project_id)
        stored_patch = session.get(Face, patch)
        assert stored_patch is not None
        assert stored_patch.score is not None
        assert stored_patch.score < 0.5  # the patch is not her
        queue_edits(session, project_id, OWNER)
        (edit,) = session.scalars(select(DepictsEdit)).all()
        assert edit.face_id == face
