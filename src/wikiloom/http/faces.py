"""Face projects over HTTP (`/faces/`): create and configure projects, answer their faces,
draw a missing face, review the model's matches, send depicts edits to Commons.

Bodies are JSON read by hand, so that every error answers the app's envelope
`{"error": {"code", "message"}}`: 401 when nobody is logged in, 403 for a cross-site write
or a user who is not a member (an owner, for settings, members and deleting encodings).
After every yes/no answer (and an undo) the project is re-scored in the same request, so
that the next image reflects it. No answer ever carries a face encoding.

Sending edits queues one `depicts_edits` row per file, pending. The web app holds no job
engine (no Celery app, no broker connection), so it does not enqueue the writing itself: the
scheduler's `schedule_face_writes` (every `WIKILOOM_FACE_WRITE_CHECK_INTERVAL` seconds) sends
a `faces_write` job for every project with waiting rows, which writes them as the users who
sent them (`wikiloom jobs send faces_write project_id=N` does it at once).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import httpx
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest, NotFound, Unauthenticated
from wikiloom.faces import answers, images, privacy, projects, scores, writer
from wikiloom.faces.boxes import Box
from wikiloom.faces.detection import encode_box
from wikiloom.faces.downloads import DownloadPolicy, fetch_image
from wikiloom.faces.tables import DepictsEdit, Face, FaceImage
from wikiloom.http.deps import in_transaction
from wikiloom.http.faces_objects import (
    edit_json,
    face_json,
    image_with_faces,
    match_page,
)
from wikiloom.http.identity import require_user, session_user
from wikiloom.http.openapi import ErrorEnvelope

#: The largest JSON body read, in bytes.
MAX_BODY = 64 * 1024
#: Matches and edits per page.
PAGE = 50
MAX_PAGE = 200
DEFAULT_WIKI = "commonswiki"
CREATE_FIELDS = ("wiki", "qid", "name", "label", "categories", "target_precision",
                 "random_fraction", "max_images", "retention_days")  # fmt: skip


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The body is not JSON of the documented fields, or a value does not fit."),
    401: _error("Nobody is logged in."),
    403: _error("A cross-site write, or the user is not a member (owner) of the project."),
    404: _error("No such project, image or face."),
    409: _error("A project of that name for that item exists already."),
    503: _error("The database, or the image's host, is unavailable."),
}
router = APIRouter(prefix="/faces", tags=["faces"], responses=ERRORS)


def answer(body: Any, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object of the body (400 otherwise)."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the body must be at most {MAX_BODY // 1024} KiB of JSON")
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def user_of(request: Request) -> tuple[int, str | None]:
    """The logged-in user (401 otherwise), once the Origin of a cookie write is checked."""
    user = session_user(request)
    if user is None:
        raise Unauthenticated("Log in to do this: it is recorded under your account.")
    return require_user(request), str(user.get("name") or "") or None


def _project(session: Session, project_id: int) -> dict[str, Any]:
    found = projects.get_project(session, project_id)
    return projects.project_json(found, projects.progress(session, project_id))


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{what} must be an integer, not {value!r}")
    return value


def _page(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise BadRequest(f"{name} must be a whole number from 0 to {high}, not {raw!r}")
    return int(raw)


@router.get("/projects/")
async def list_projects(request: Request) -> Response:
    """Every face project, newest first (`?wiki=` one wiki's)."""
    wiki = request.query_params.get("wiki") or None

    def work(session: Session) -> dict[str, Any]:
        return {
            "projects": [
                projects.project_json(p) for p in projects.list_projects(session, wiki=wiki)
            ]
        }

    return answer(await in_transaction(request, work))


@router.post("/projects/", status_code=201)
async def create_project(request: Request) -> Response:
    """Create a project (logged in; its creator owns it): `qid`, `name`, `categories`
    (names or `{"name", "depth"}`), and optional `wiki`, `label`, `target_precision`,
    `random_fraction`, `max_images`, `retention_days`."""
    user_id, name = user_of(request)
    data = await read_body(request)
    unknown = set(data) - set(CREATE_FIELDS)
    if unknown:
        raise BadRequest(f"unknown project settings: {', '.join(sorted(unknown))}")
    wiki = data.get("wiki", DEFAULT_WIKI)
    if not isinstance(wiki, str) or not 0 < len(wiki) <= 64:
        raise BadRequest(f"wiki must be a dbname of 1 to 64 characters, not {wiki!r}")
    optional = ("label", "target_precision", "random_fraction", "max_images", "retention_days")
    settings = projects.ProjectSettings(
        wiki=wiki,
        qid=projects.item_of(data.get("qid")),
        name=data.get("name"),  # type: ignore[arg-type]  # create_project checks it
        categories=projects.categories_of(data.get("categories")),
        **{key: data[key] for key in optional if key in data},
    )

    def work(session: Session) -> dict[str, Any]:
        made = projects.create_project(session, settings, user_id, name)
        return _project(session, made.id)

    return answer(await in_transaction(request, work, write=True), 201)


@router.get("/projects/{project_id:int}")
async def get_project(request: Request, project_id: int) -> Response:
    """A project with its `progress` (images, faces, answers, edits) and threshold."""

    def work(session: Session) -> dict[str, Any]:
        found = _project(session, project_id)
        found["members"] = [
            {"user_id": user, "role": role} for user, role in projects.members(session, project_id)
        ]
        return found

    return answer(await in_transaction(request, work))


@router.patch("/projects/{project_id:int}")
async def patch_project(request: Request, project_id: int) -> Response:
    """Change a project's settings (its owners): `name`, `label`, `status`,
    `target_precision`, `random_fraction`, `max_images`, `retention_days`."""
    user_id, _ = user_of(request)
    data = await read_body(request)

    def work(session: Session) -> dict[str, Any]:
        projects.update_project(session, project_id, user_id, data)
        return _project(session, project_id)

    return answer(await in_transaction(request, work, write=True))


@router.post("/projects/{project_id:int}/members")
async def add_member(request: Request, project_id: int) -> Response:
    """Add a member (owners): `user_id`, optional `user_name` and `role` (member, owner)."""
    user_id, _ = user_of(request)
    data = await read_body(request)
    member = _integer(data.get("user_id"), "user_id")
    member_name = data.get("user_name")
    if member_name is not None and not isinstance(member_name, str):
        raise BadRequest("user_name must be text")
    role = data.get("role", "member")

    def work(session: Session) -> dict[str, Any]:
        projects.add_member(session, project_id, user_id, member, member_name, str(role))
        rows = projects.members(session, project_id)
        return {"members": [{"user_id": user, "role": role} for user, role in rows]}

    return answer(await in_transaction(request, work, write=True))


@router.get("/projects/{project_id:int}/next")
async def next_image(request: Request, project_id: int) -> Response:
    """The image the user should answer next (members), with its faces; `image` is null
    when nothing is left. Boxes are in the image's detection space (`width`, `height`)."""
    user_id, _ = user_of(request)

    def work(session: Session) -> dict[str, Any]:
        projects.require_role(session, project_id, user_id)
        found = image_with_faces(session, answers.next_image(session, project_id, user_id))
        found["threshold"] = projects.get_project(session, project_id).threshold
        return found

    return answer(await in_transaction(request, work))


def _answered(
    session: Session, project_id: int, done: answers.Answered | None, *, rescore: bool
) -> dict[str, Any]:
    """What an action changed, with the project's threshold after re-scoring it."""
    if rescore:
        scores.rescore(session, project_id)
    result = None
    if done is not None:
        result = {
            "image_id": done.image_id,
            "answers": {str(k): v for k, v in done.answers.items()},
        }
    return {"answered": result, "threshold": projects.get_project(session, project_id).threshold}


@router.post("/faces/{face_id:int}/answer")
async def answer_face(request: Request, face_id: int) -> Response:
    """Answer one face (members): `{"answer": "yes" | "no" | "skip"}`."""
    user_id, _ = user_of(request)
    data = await read_body(request)
    given = data.get("answer")
    if not isinstance(given, str):
        raise BadRequest(f"answer is one of {', '.join(answers.ANSWER_KEYS)}, not {given!r}")

    def work(session: Session) -> dict[str, Any]:
        done = answers.answer_face(session, face_id, user_id, given)
        face = session.get(Face, face_id)
        assert face is not None
        return _answered(session, face.project_id, done, rescore=given != "skip")

    return answer(await in_transaction(request, work, write=True))


@router.post("/images/{image_id:int}/answer")
async def answer_image(request: Request, image_id: int) -> Response:
    """Answer every face of an image (members): `{"pick": face_id}` depicts the item, the
    others do not; `{"pick": null}`: none of them does."""
    user_id, _ = user_of(request)
    data = await read_body(request)
    if "pick" not in data:
        raise BadRequest("pick is the face that depicts the item, or null for none")
    pick = None if data["pick"] is None else _integer(data["pick"], "pick")

    def work(session: Session) -> dict[str, Any]:
        done = answers.answer_image(session, image_id, user_id, pick)
        image = session.get(FaceImage, image_id)
        assert image is not None
        return _answered(session, image.project_id, done, rescore=True)

    return answer(await in_transaction(request, work, write=True))


@router.post("/projects/{project_id:int}/undo")
async def undo(request: Request, project_id: int) -> Response:
    """Undo the user's last action in the project (members); `answered` is null when there
    was nothing to undo, else the faces' answers after it."""
    user_id, _ = user_of(request)

    def work(session: Session) -> dict[str, Any]:
        projects.require_role(session, project_id, user_id)
        done = answers.undo(session, project_id, user_id)
        found = _answered(session, project_id, done, rescore=done is not None)
        if done is not None:
            image = session.get(FaceImage, done.image_id)
            found |= image_with_faces(session, image)
        return found

    return answer(await in_transaction(request, work, write=True))


def download_policy(request: Request) -> DownloadPolicy:
    """Where images may come from, from the settings."""
    settings = request.app.state.settings
    return DownloadPolicy.of(settings.face_image_hosts, settings.face_max_bytes)


def _box(value: Any) -> Box:
    if not isinstance(value, dict) or set(value) != {"top", "right", "bottom", "left"}:
        raise BadRequest("box must be an object of top, right, bottom and left")
    return Box(**{key: _integer(value[key], f"box {key}") for key in value})


def _display(value: Any) -> tuple[int, int]:
    if not isinstance(value, dict) or set(value) != {"width", "height"}:
        raise BadRequest("display must be an object of width and height (the shown size)")
    width, height = _integer(value["width"], "width"), _integer(value["height"], "height")
    if width <= 0 or height <= 0:
        raise BadRequest(f"display must be positive, not {width}x{height}")
    return width, height


@router.post("/images/{image_id:int}/faces", status_code=201)
async def draw_face(request: Request, image_id: int) -> Response:
    """Add a face the detector missed (members): `{"box": {top, right, bottom, left},
    "display": {width, height}}`, the box in the space of the image as displayed. It is
    scaled into the detection space, encoded from the file's thumbnail and stored."""
    user_id, _ = user_of(request)
    data = await read_body(request)
    drawn, display = _box(data.get("box")), _display(data.get("display"))

    def find(session: Session) -> tuple[str, tuple[int, int]]:
        image = session.get(FaceImage, image_id)
        if image is None:
            raise NotFound(f"image_id={image_id} does not exist")
        projects.require_role(session, image.project_id, user_id)
        if image.status != "detected" or not image.width or not image.height or not image.thumb_url:
            raise BadRequest(f"image_id={image_id} has not been detected yet: draw on it later")
        return image.thumb_url, (image.width, image.height)

    url, space = await in_transaction(request, find)
    expected = display[0] * space[1] / space[0]
    if abs(display[1] - expected) > max(1.0, 0.02 * expected):
        raise BadRequest(
            f"display {display[0]}x{display[1]} is not the shape of the image "
            f"({space[0]}x{space[1]}): was the box drawn on another image?"
        )
    box = drawn.scaled(display, space)
    settings = request.app.state.settings
    headers = {"User-Agent": settings.user_agent} if settings.user_agent else {}
    async with httpx.AsyncClient(timeout=settings.wiki_timeout, headers=headers) as http:
        body = await fetch_image(http, url, download_policy(request))
    found = await anyio.to_thread.run_sync(encode_box, body, box, space)

    def store(session: Session) -> dict[str, Any]:
        face = images.add_drawn_face(session, image_id, found.box, found.encoding)
        return {"face": face_json(face)}

    return answer(await in_transaction(request, store, write=True), 201)


@router.get("/projects/{project_id:int}/matches")
async def matches(request: Request, project_id: int) -> Response:
    """The model's matches (members): unanswered faces scoring at least the threshold, on
    files not depicting the item yet, best first; `?offset=`, `?limit=` page them."""
    user_id, _ = user_of(request)
    offset = _page(request, "offset", 0, 10**9)
    limit = max(1, _page(request, "limit", PAGE, MAX_PAGE))

    def work(session: Session) -> dict[str, Any]:
        projects.require_role(session, project_id, user_id)
        threshold = projects.get_project(session, project_id).threshold
        return {"threshold": threshold, **match_page(session, project_id, offset, limit)}

    return answer(await in_transaction(request, work))


@router.post("/projects/{project_id:int}/edits")
async def send_edits(request: Request, project_id: int) -> Response:
    """Send the project's edits to Commons (members): queue a depicts statement for every
    file with a face answered yes (and, once the estimated precision reaches the target, the
    model's matches), and removals for edited files now rejected; written as this user."""
    user_id, _ = user_of(request)

    def work(session: Session) -> dict[str, Any]:
        queued = writer.queue_edits(session, project_id, user_id)
        return {
            "additions": queued.additions,
            "removals": queued.removals,
            "precision": queued.precision,
            "model_matches": queued.model_matches,
        }

    return answer(await in_transaction(request, work, write=True))


@router.get("/projects/{project_id:int}/edits")
async def edits(request: Request, project_id: int) -> Response:
    """The project's depicts edits: counts by action and state, and the latest ones."""
    limit = max(1, _page(request, "limit", PAGE, MAX_PAGE))

    def work(session: Session) -> dict[str, Any]:
        projects.get_project(session, project_id)
        rows = session.scalars(
            select(DepictsEdit)
            .where(DepictsEdit.project_id == project_id)
            .order_by(DepictsEdit.id.desc())
            .limit(limit)
        )
        return {
            "counts": projects.progress(session, project_id).edits,
            "edits": [edit_json(edit) for edit in rows],
        }

    return answer(await in_transaction(request, work))


@router.delete("/projects/{project_id:int}/encodings")
async def delete_encodings(request: Request, project_id: int) -> Response:
    """Delete every face encoding of the project (owners): boxes and answers stay, but the
    faces can no longer be matched."""
    user_id, _ = user_of(request)

    def work(session: Session) -> dict[str, Any]:
        return {"deleted": privacy.delete_encodings(session, project_id, user_id)}

    return answer(await in_transaction(request, work, write=True))
