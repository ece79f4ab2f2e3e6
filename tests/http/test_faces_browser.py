"""Classifying faces in a real browser, keyboard only: Y answers an image's one face, 2 picks
the second face of a group photo, Z undoes the last answer; axe-core checks the page.

Debian's Chromium through Playwright against a live server; the photos (real, detected by
dlib here) are served from a loopback host named in `face_image_hosts`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.http.test_faces_api import PHOTOS, photo_server
from tests.support.browser import axe_violations, live_server, screenshot
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.faces.detection import detect
from wikiloom.faces.images import NewImage, add_images, record_detection
from wikiloom.faces.projects import Category, ProjectSettings, create_project
from wikiloom.faces.tables import Face, FaceImage

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
USER = 5151
PHOTOS_USED = {1: "obama.jpg", 2: "obama_and_biden.jpg"}


def project_with_photos(settings: Settings, host: str) -> tuple[int, dict[int, list[int]]]:
    """A project of USER with two detected photos; (project id, face ids by image id)."""
    engine = make_engine(settings)
    faces: dict[int, list[int]] = {}
    with transaction(session_factory(engine), write=True) as session:
        project = create_project(
            session,
            ProjectSettings("commonswiki", "Q76", "Obama", (Category("Obama"),), "Barack Obama"),
            USER,
        )
        new = [
            NewImage(page, f"File:{name}", f"http://{host}/{name}")
            for page, name in PHOTOS_USED.items()
        ]
        add_images(session, project.id, new)
        for image in session.scalars(select(FaceImage).order_by(FaceImage.page_id)):
            found = detect((Path(PHOTOS) / PHOTOS_USED[image.page_id]).read_bytes())
            faces[image.id] = [face.id for face in record_detection(session, image.id, found)]
        project_id = project.id
    engine.dispose()
    return project_id, faces


def answers(settings: Settings) -> dict[int, str | None]:
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        found = {face.id: face.answer for face in session.scalars(select(Face))}
    engine.dispose()
    return found


def shown(page: Any, previous: str | None = None) -> str:
    """Wait for an image (other than `previous`) to be shown; its id."""
    page.wait_for_function(
        "previous => { const s = document.getElementById('faces-stage');"
        " return s.dataset.state === 'ready' && s.dataset.image !== previous; }",
        arg=previous,
    )
    return str(page.get_attribute("#faces-stage", "data-image"))


def answer_with_keys(page: Any, faces: list[int]) -> None:
    """Check the shown image's boxes, then answer it: Y for one face, 2 among several."""
    boxes = page.locator("#faces-overlay .wl-faces-face")
    assert boxes.count() == len(faces)
    # Boxes are drawn at display scale: inside the shown image.
    width = page.evaluate("document.getElementById('faces-image').clientWidth")
    for index in range(boxes.count()):
        box = boxes.nth(index).bounding_box()
        assert box is not None
        assert 0 < box["width"] < width
    if len(faces) == 1:
        page.keyboard.press("y")
        return
    page.keyboard.press("Y")  # several faces: Y asks for a number
    page.wait_for_function(
        "n => document.getElementById('faces-status').textContent.includes(`has ${n} faces`)",
        arg=len(faces),
    )
    screenshot(page, "faces-classify")
    page.keyboard.press("2")


def send_edits(page: Any, url: str) -> str:
    """Send the project's edits from its page, keyboard first; the message shown."""
    page.goto(url)
    page.wait_for_selector("#faces-precision-value")
    page.focus("#faces-send-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#faces-send [data-kind=success]")
    screenshot(page, "faces-project")
    return str(page.inner_text("#faces-send [data-kind=success]"))


def test_classify_with_the_keyboard(browser: Any, settings: Settings) -> None:
    with photo_server() as host:
        settings = settings.model_copy(update={"dev_login": True, "face_image_hosts": [host]})
        project_id, faces = project_with_photos(settings, host)
        assert sorted(len(ids) for ids in faces.values())[0] == 1
        assert len(max(faces.values(), key=len)) >= 2  # a group photo
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        with live_server(settings) as server:
            login = {"user_id": str(USER), "username": "Classifier"}
            assert context.request.post(f"{server.url}/auth/dev_login/", form=login).ok
            page.goto(f"{server.url}/ui/faces/{project_id}/classify")
            current = shown(page)
            order: list[int] = []
            for _ in range(2):
                order.append(int(current))
                answer_with_keys(page, faces[order[-1]])
                if len(order) < 2:
                    current = shown(page, current)
            page.wait_for_selector("#faces-stage[data-state=done]")
            done = answers(settings)
            single = next(i for i in faces if len(faces[i]) == 1)
            group = next(i for i in faces if len(faces[i]) > 1)
            assert done[faces[single][0]] == "yes"
            picked = ["no"] * len(faces[group])
            picked[1] = "yes"
            assert [done[face] for face in faces[group]] == picked
            # Z undoes the last answer: that image comes back, its faces unanswered.
            page.keyboard.press("z")
            again = shown(page, None)
            assert int(again) == order[-1]
            status = page.inner_text("#faces-status")
            undone = answers(settings)
            violations = axe_violations(page)
            sent = send_edits(page, f"{server.url}/ui/faces/{project_id}/")
            violations += axe_violations(page)
        context.close()
    assert "Undone" in status
    assert "Queued: 1 addition" in sent
    assert all(undone[face] is None for face in faces[order[-1]])
    assert all(undone[face] is not None for face in faces[order[0]])
    assert [f"{v['id']}: {v['help']}" for v in violations] == []
    assert errors == []
