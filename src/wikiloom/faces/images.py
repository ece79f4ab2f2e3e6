"""A project's images: added by the crawl and the bootstrap, detected once, their faces stored.

Every face box is stored in the space of the image the detection ran on, whose size is the
image's `width` and `height`; encodings are 128 little-endian float64 values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wikiloom.db import insert_ignore, utcnow
from wikiloom.errors import BadRequest, NotFound
from wikiloom.faces.boxes import Box
from wikiloom.faces.detection import DetectedImage
from wikiloom.faces.tables import Face, FaceImage, FaceProject

ENCODING_SIZE = 128
#: Detection attempts of an image before it is marked failed.
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class NewImage:
    """A file to add to a project."""

    page_id: int
    title: str
    thumb_url: str | None
    source: str = "category"
    depicted: bool = False


def encoding_bytes(encoding: npt.ArrayLike) -> bytes:
    """An encoding as stored: 128 little-endian float64 values."""
    vector = np.asarray(encoding, dtype="<f8")
    if vector.shape != (ENCODING_SIZE,) or not np.isfinite(vector).all():
        raise BadRequest(f"a face encoding is {ENCODING_SIZE} finite numbers, not {vector.shape}")
    return vector.tobytes()


def encoding_of(stored: bytes) -> npt.NDArray[np.float64]:
    """A stored encoding as a vector."""
    return np.frombuffer(stored, dtype="<f8").astype(np.float64)


def add_images(session: Session, project_id: int, images: Iterable[NewImage]) -> int:
    """Add files to a project (each page once, up to its `max_images`); answer how many."""
    project = session.get(FaceProject, project_id)
    if project is None:
        raise NotFound(f"project_id={project_id} does not exist")
    held = session.scalar(select(func.count()).where(FaceImage.project_id == project_id)) or 0
    room = max(0, project.max_images - int(held))
    now = utcnow()
    rows: list[dict[str, object]] = []
    seen: set[int] = set()
    for image in images:
        if len(rows) >= room:
            break
        if image.page_id in seen:
            continue
        seen.add(image.page_id)
        rows.append(
            {
                "project_id": project_id,
                "page_id": image.page_id,
                "title": image.title,
                "thumb_url": image.thumb_url,
                "source": image.source,
                "depicted": image.depicted,
                "status": "pending",
                "attempts": 0,
                "added": now,
            }
        )
    if not rows:
        return 0
    before = int(held)
    session.execute(insert_ignore(session, FaceImage.__table__), rows)
    after = session.scalar(select(func.count()).where(FaceImage.project_id == project_id)) or 0
    return int(after) - before


def mark_depicted(session: Session, project_id: int, page_ids: Iterable[int]) -> int:
    """Mark files already depicting the project's item (the bootstrap found them)."""
    ids = list(page_ids)
    if not ids:
        return 0
    result = session.execute(
        update(FaceImage)
        .where(FaceImage.project_id == project_id, FaceImage.page_id.in_(ids))
        .values(depicted=True)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending_images(session: Session, project_id: int, limit: int) -> list[FaceImage]:
    """Images still to detect, in insertion order."""
    return list(
        session.scalars(
            select(FaceImage)
            .where(FaceImage.project_id == project_id, FaceImage.status == "pending")
            .order_by(FaceImage.id)
            .limit(limit)
        )
    )


def record_detection(session: Session, image_id: int, found: DetectedImage) -> list[Face]:
    """Store what the detection found on an image (once: a detected image is left alone)."""
    image = session.get(FaceImage, image_id)
    if image is None:
        raise NotFound(f"image_id={image_id} does not exist")
    if image.status == "detected":
        return []
    now = utcnow()
    faces = [
        Face(
            project_id=image.project_id,
            image_id=image.id,
            box_top=face.box.top,
            box_right=face.box.right,
            box_bottom=face.box.bottom,
            box_left=face.box.left,
            origin="detected",
            encoding=encoding_bytes(face.encoding),
            created=now,
        )
        for face in found.faces
    ]
    session.add_all(faces)
    image.status, image.width, image.height = "detected", found.width, found.height
    image.detected, image.error = now, None
    session.flush()
    return faces


def record_failure(session: Session, image_id: int, error: str, *, final: bool = False) -> None:
    """Count a failed detection; the third one (or a `final` one) fails the image for good."""
    image = session.get(FaceImage, image_id)
    if image is None or image.status == "detected":
        return
    image.attempts += 1
    image.error = error[:2000]
    if final or image.attempts >= MAX_ATTEMPTS:
        image.status = "failed"
    session.flush()


def add_drawn_face(session: Session, image_id: int, box: Box, encoding: npt.ArrayLike) -> Face:
    """Store a face a human drew (its box already in the image's detection space)."""
    image = session.get(FaceImage, image_id)
    if image is None:
        raise NotFound(f"image_id={image_id} does not exist")
    if image.status != "detected" or not image.width or not image.height:
        raise BadRequest(f"image_id={image_id} has not been detected yet: draw on it later")
    if box.right > image.width or box.bottom > image.height:
        raise BadRequest(
            f"the box {box} lies outside the {image.width}x{image.height} image: "
            "scale it into the detection space first"
        )
    face = Face(
        project_id=image.project_id,
        image_id=image.id,
        box_top=box.top,
        box_right=box.right,
        box_bottom=box.bottom,
        box_left=box.left,
        origin="drawn",
        encoding=encoding_bytes(encoding),
        created=utcnow(),
    )
    session.add(face)
    session.flush()
    return face


def faces_of(session: Session, image_ids: Sequence[int]) -> dict[int, list[Face]]:
    """The faces of images, by image, in id order."""
    found: dict[int, list[Face]] = {image_id: [] for image_id in image_ids}
    if image_ids:
        for face in session.scalars(
            select(Face).where(Face.image_id.in_(list(image_ids))).order_by(Face.id)
        ):
            found[face.image_id].append(face)
    return found


def box_of(face: Face) -> Box:
    """A stored face's box."""
    return Box(face.box_top, face.box_right, face.box_bottom, face.box_left)
