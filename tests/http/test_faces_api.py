"""The faces API on every engine: projects, membership, the answer/undo flow with re-scoring,
a face drawn on a real photo (served from loopback), edits queued, encodings never shown."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.http.conftest import client_for
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.faces.boxes import Box
from wikiloom.faces.detection import DetectedImage, Face, detect
from wikiloom.faces.images import NewImage, add_images, encoding_of, record_detection
from wikiloom.faces.tables import DepictsEdit, FaceImage
from wikiloom.faces.tables import Face as FaceRow

pytestmark = pytest.mark.anyio
OWNER, MEMBER, STRANGER = 7001, 7002, 7003
PHOTOS = Path(__file__).resolve().parents[1] / "data" / "faces"
PROJECT = {"qid": "Q76", "name": "Obama", "label": "Barack Obama", "categories": ["Barack Obama"]}


@pytest.fixture
def faces_settings(app_settings: Settings) -> Settings:
    return app_settings


def vector(center: float, seed: int) -> np.ndarray:
    """A synthetic encoding near `center` on every axis."""
    rng = np.random.default_rng(seed)
    return np.full(128, center) + rng.normal(0, 0.01, 128)


def add_image(
    settings: Settings,
    project_id: int,
    page_id: int,
    encodings: list[np.ndarray],
    *,
    size: tuple[int, int] = (400, 300),
    thumb_url: str | None = None,
) -> tuple[int, list[int]]:
    """An image of the project, detected with a face per encoding; (image id, face ids)."""
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        url = thumb_url or f"https://upload.wikimedia.org/{page_id}.jpg"
        add_images(session, project_id, [NewImage(page_id, f"File:{page_id}.jpg", url)])
        image = session.scalars(
            select(FaceImage).where(
                FaceImage.project_id == project_id, FaceImage.page_id == page_id
            )
        ).one()
        faces = tuple(
            Face(Box(10 + 60 * i, 60 + 60 * i, 60 + 60 * i, 10 + 60 * i), encoding)
            for i, encoding in enumerate(encodings)
        )
        stored = record_detection(session, image.id, DetectedImage(size[0], size[1], faces))
        found = image.id, [face.id for face in stored]
    engine.dispose()
    return found


def stored_faces(settings: Settings) -> list[FaceRow]:
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        rows = list(session.scalars(select(FaceRow).order_by(FaceRow.id)))
        session.expunge_all()
    engine.dispose()
    return rows


def edits(settings: Settings) -> list[DepictsEdit]:
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        rows = list(session.scalars(select(DepictsEdit).order_by(DepictsEdit.id)))
        session.expunge_all()
    engine.dispose()
    return rows


async def make_project(settings: Settings, **values: Any) -> dict[str, Any]:
    async with client_for(settings, OWNER, "Owner") as client:
        made = await client.post("/faces/projects/", json={**PROJECT, **values})
        assert made.status_code == 201, made.text
        added = await client.post(
            f"/faces/projects/{made.json()['id']}/members", json={"user_id": MEMBER}
        )
        assert added.status_code == 200, added.text
    found: dict[str, Any] = made.json()
    return found


def no_encoding(body: Any) -> None:
    """Fail when any JSON answer names an encoding."""
    assert 'encoding"' not in str(body).replace("'", '"'), body


async def test_projects_are_created_listed_and_checked(faces_settings: Settings) -> None:
    project = await make_project(
        faces_settings, categories=[{"name": "Category:Obama", "depth": 1}]
    )
    assert project["wiki"] == "commonswiki"
    assert project["qid"] == "Q76"
    assert project["categories"] == [{"name": "Obama", "depth": 1}]
    assert project["progress"]["faces"] == 0
    async with client_for(faces_settings, OWNER) as client:
        listed = (await client.get("/faces/projects/")).json()["projects"]
        assert [p["id"] for p in listed] == [project["id"]]
        shown = (await client.get(f"/faces/projects/{project['id']}")).json()
        assert shown["progress"]["images"] == {}
        assert {m["user_id"]: m["role"] for m in shown["members"]} == {
            OWNER: "owner",
            MEMBER: "member",
        }
        bad = {
            "qid": ({**PROJECT, "qid": "P31"}, "not a Wikidata item id"),
            "depth": ({**PROJECT, "categories": [{"name": "X", "depth": 9}]}, "depth must be"),
            "unknown": ({**PROJECT, "colour": "red"}, "unknown project settings: colour"),
            "precision": ({**PROJECT, "name": "B", "target_precision": 2}, "target_precision"),
        }
        for body, reason in bad.values():
            answer = await client.post("/faces/projects/", json=body)
            assert answer.status_code == 400, answer.text
            assert reason in answer.json()["error"]["message"]
        again = await client.post("/faces/projects/", json=PROJECT)
        assert again.status_code == 409
        patched = await client.patch(
            f"/faces/projects/{project['id']}", json={"target_precision": 0.9}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["target_precision"] == 0.9
        unknown = await client.patch(f"/faces/projects/{project['id']}", json={"qid": "Q1"})
        assert unknown.status_code == 400
        assert "unknown project settings: qid" in unknown.json()["error"]["message"]
        foreign = await client.post(
            "/faces/projects/", json=PROJECT, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403


async def test_membership_is_required(faces_settings: Settings) -> None:
    project = await make_project(faces_settings)
    pid = project["id"]
    _, (face,) = add_image(faces_settings, pid, 1, [vector(0.1, 1)])
    async with client_for(faces_settings, None) as client:
        assert (await client.post("/faces/projects/", json=PROJECT)).status_code == 401
        assert (await client.get(f"/faces/projects/{pid}/next")).status_code == 401
        answer = await client.post(f"/faces/faces/{face}/answer", json={"answer": "yes"})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
    async with client_for(faces_settings, STRANGER) as client:
        assert (await client.get(f"/faces/projects/{pid}/next")).status_code == 403
        answer = await client.post(f"/faces/faces/{face}/answer", json={"answer": "yes"})
        assert answer.status_code == 403
        assert "members" in answer.json()["error"]["message"]
        assert (await client.post(f"/faces/projects/{pid}/edits")).status_code == 403
        patched = await client.patch(f"/faces/projects/{pid}", json={"name": "Mine"})
        assert patched.status_code == 403
    async with client_for(faces_settings, MEMBER) as client:
        patched = await client.patch(f"/faces/projects/{pid}", json={"name": "Mine"})
        assert patched.status_code == 403
        assert "owners" in patched.json()["error"]["message"]
        deleted = await client.delete(f"/faces/projects/{pid}/encodings")
        assert deleted.status_code == 403
        missing = await client.get("/faces/projects/999/next")
        assert missing.status_code == 404


async def test_answer_undo_pick_and_rescoring(faces_settings: Settings) -> None:
    pid = (await make_project(faces_settings))["id"]
    # Obama's faces near 0.1, other people's near 0.9; one group photo of both.
    _, (yes1,) = add_image(faces_settings, pid, 1, [vector(0.1, 1)])
    _, (yes2,) = add_image(faces_settings, pid, 2, [vector(0.1, 2)])
    _, (no1,) = add_image(faces_settings, pid, 3, [vector(0.9, 3)])
    group, (other, him) = add_image(faces_settings, pid, 4, [vector(0.9, 4), vector(0.1, 5)])
    async with client_for(faces_settings, MEMBER) as client:
        shown = (await client.get(f"/faces/projects/{pid}/next")).json()
        no_encoding(shown)
        assert shown["image"]["width"] == 400
        assert shown["image"]["height"] == 300
        assert shown["image"]["thumb_url"].startswith("https://upload.wikimedia.org/")
        assert shown["faces"][0]["box"] == {"top": 10, "right": 60, "bottom": 60, "left": 10}
        assert set(shown["faces"][0]) >= {"id", "box", "score", "answer"}
        for face, given in ((yes1, "yes"), (no1, "no")):
            answered = await client.post(f"/faces/faces/{face}/answer", json={"answer": given})
            assert answered.status_code == 200, answered.text
            assert answered.json()["answered"]["answers"] == {str(face): given}
        # One confirmed face: the project is scored (no estimate yet), so is every face.
        threshold = answered.json()["threshold"]
        assert threshold["confirmed"] == 1
        assert threshold["rejected"] == 1
        scores = {row.id: row.score for row in stored_faces(faces_settings)}
        assert scores[yes2] is not None
        assert scores[yes2] > scores[other]
        bad = await client.post(f"/faces/faces/{yes2}/answer", json={"answer": "maybe"})
        assert bad.status_code == 400
        # Undo the "no": its face is unanswered again, and the scores say so.
        undone = (await client.post(f"/faces/projects/{pid}/undo")).json()
        assert undone["answered"]["answers"] == {str(no1): "unanswered"}
        assert undone["image"]["id"]
        assert undone["faces"][0]["id"] == no1
        assert undone["threshold"]["rejected"] == 0
        no_encoding(undone)
        # Pick among several faces: the pick is yes, the other no.
        picked = await client.post(f"/faces/images/{group}/answer", json={"pick": him})
        assert picked.status_code == 200, picked.text
        assert picked.json()["answered"]["answers"] == {str(other): "no", str(him): "yes"}
        wrong = await client.post(f"/faces/images/{group}/answer", json={"pick": yes1})
        assert wrong.status_code == 400
        assert (await client.post(f"/faces/images/{group}/answer", json={})).status_code == 400
        answers = {row.id: row.answer for row in stored_faces(faces_settings)}
        assert answers == {yes1: "yes", yes2: None, no1: None, other: "no", him: "yes"}
        skipped = await client.post(f"/faces/faces/{yes2}/answer", json={"answer": "skip"})
        assert skipped.json()["answered"]["answers"] == {str(yes2): "skip"}
        left = (await client.get(f"/faces/projects/{pid}/next")).json()
        assert [face["id"] for face in left["faces"]] == [no1]
        matches = (await client.get(f"/faces/projects/{pid}/matches")).json()
        no_encoding(matches)
        assert matches["threshold"]["confirmed"] == 2
        assert all(m["face"]["score"] >= matches["threshold"]["value"] for m in matches["matches"])
        assert all(m["face"]["answer"] is None for m in matches["matches"])
        assert {m["face"]["id"] for m in matches["matches"]} <= {yes2, no1}
        assert (await client.get(f"/faces/projects/{pid}/matches?limit=x")).status_code == 400


async def test_edits_are_queued_then_encodings_deleted(faces_settings: Settings) -> None:
    pid = (await make_project(faces_settings))["id"]
    _, (yes1,) = add_image(faces_settings, pid, 11, [vector(0.1, 1)])
    _, (no1,) = add_image(faces_settings, pid, 12, [vector(0.9, 2)])
    async with client_for(faces_settings, MEMBER) as client:
        await client.post(f"/faces/faces/{yes1}/answer", json={"answer": "yes"})
        await client.post(f"/faces/faces/{no1}/answer", json={"answer": "no"})
        sent = await client.post(f"/faces/projects/{pid}/edits")
        assert sent.status_code == 200, sent.text
        assert sent.json() == {
            "additions": 1,
            "removals": 0,
            "precision": None,
            "model_matches": False,
        }
        statuses = (await client.get(f"/faces/projects/{pid}/edits")).json()
        assert statuses["counts"] == {"add_pending": 1}
        assert [(e["page_id"], e["action"], e["status"]) for e in statuses["edits"]] == [
            (11, "add", "pending")
        ]
    assert [(e.page_id, e.user_id, e.qid) for e in edits(faces_settings)] == [(11, MEMBER, "Q76")]
    async with client_for(faces_settings, OWNER) as client:
        deleted = await client.delete(f"/faces/projects/{pid}/encodings")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"deleted": 2}
        shown = (await client.get(f"/faces/projects/{pid}")).json()
        assert shown["threshold"] is None
    assert all(row.encoding is None for row in stored_faces(faces_settings))


@contextmanager
def photo_server() -> Iterator[str]:
    """tests/data/faces served over http on a free loopback port: `host:port`."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(PHOTOS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def photo_host() -> Iterator[str]:
    with photo_server() as host:
        yield host


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_a_drawn_face_is_scaled_into_the_detection_space(
    faces_settings: Settings, photo_host: str
) -> None:
    settings = faces_settings.model_copy(update={"face_image_hosts": [photo_host]})
    found = detect((PHOTOS / "obama.jpg").read_bytes())
    (real,) = found.faces
    pid = (await make_project(settings))["id"]
    url = f"http://{photo_host}/obama.jpg"
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        add_images(session, pid, [NewImage(5, "File:Obama.jpg", url)])
        image_id = session.scalars(select(FaceImage.id)).one()
        record_detection(session, image_id, DetectedImage(found.width, found.height, ()))
    engine.dispose()
    # The picture shown at twice its detection size: the box drawn there is twice as big.
    display = {"width": found.width * 2, "height": found.height * 2}
    box = real.box
    drawn = {
        "top": box.top * 2,
        "right": box.right * 2,
        "bottom": box.bottom * 2,
        "left": box.left * 2,
    }
    async with client_for(settings, MEMBER) as client:
        made = await client.post(
            f"/faces/images/{image_id}/faces", json={"box": drawn, "display": display}
        )
        assert made.status_code == 201, made.text
        no_encoding(made.json())
        assert made.json()["face"]["box"] == {
            "top": box.top, "right": box.right, "bottom": box.bottom, "left": box.left,
        }  # fmt: skip
        assert made.json()["face"]["origin"] == "drawn"
        outside = {"top": 0, "right": 10, "bottom": 10, "left": 0}
        refused = await client.post(
            f"/faces/images/{image_id}/faces",
            json={"box": outside, "display": {"width": found.width, "height": found.height + 99}},
        )
        assert refused.status_code == 400
        assert "shape" in refused.json()["error"]["message"]
    async with client_for(faces_settings, MEMBER) as client:  # the host is not allowed
        blocked = await client.post(
            f"/faces/images/{image_id}/faces", json={"box": drawn, "display": display}
        )
        assert blocked.status_code == 400
        assert "downloaded only from" in blocked.json()["error"]["message"]
    (row,) = stored_faces(settings)
    assert row.encoding is not None
    assert (row.box_top, row.box_right, row.box_bottom, row.box_left) == (
        box.top, box.right, box.bottom, box.left,
    )  # fmt: skip
    assert float(np.linalg.norm(encoding_of(row.encoding) - real.encoding)) < 0.1


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_pages_render_for_owners_members_and_visitors(faces_settings: Settings) -> None:
    pid = (await make_project(faces_settings))["id"]
    _, (yes1,) = add_image(faces_settings, pid, 1, [vector(0.1, 1)])
    add_image(faces_settings, pid, 2, [vector(0.1, 2)])
    _, (no1,) = add_image(faces_settings, pid, 3, [vector(0.9, 3)])
    async with client_for(faces_settings, OWNER) as client:
        await client.post(f"/faces/faces/{yes1}/answer", json={"answer": "yes"})
        await client.post(f"/faces/faces/{no1}/answer", json={"answer": "no"})
        listed = await client.get("/ui/faces/")
        assert listed.status_code == 200
        assert 'id="faces-new"' in listed.text
        assert f'id="faces-project-{pid}"' in listed.text
        page = await client.get(f"/ui/faces/{pid}/")
        assert page.status_code == 200
        text = page.text
        # The estimated precision comes before the button that sends the edits.
        assert text.index('id="faces-precision-value"') < text.index('id="faces-send-submit"')
        assert 'id="faces-settings"' in text
        assert 'id="faces-encodings"' in text
        assert 'id="faces-matches"' in text or 'id="faces-matches-none"' in text
        classify = await client.get(f"/ui/faces/{pid}/classify")
        assert classify.status_code == 200
        assert 'aria-keyshortcuts="Y"' in classify.text
        assert (await client.get("/ui/faces/999/")).status_code == 404
    async with client_for(faces_settings, MEMBER) as client:
        page = (await client.get(f"/ui/faces/{pid}/")).text
        assert 'id="faces-send-submit"' in page
        assert 'id="faces-settings"' not in page
    async with client_for(faces_settings, None) as client:
        page = (await client.get(f"/ui/faces/{pid}/")).text
        assert 'id="faces-login"' in page
        assert 'id="faces-send-submit"' not in page
        assert "faces-login" in (await client.get(f"/ui/faces/{pid}/classify")).text
