"""The faces API's JSON objects: images, faces (never their encodings), matches, edits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wikiloom.faces import images, projects
from wikiloom.faces.tables import DepictsEdit, Face, FaceImage


def image_json(image: FaceImage) -> dict[str, Any]:
    """An image as JSON: its file, and the size of its detection space."""
    return {
        "id": image.id,
        "project_id": image.project_id,
        "page_id": image.page_id,
        "title": image.title,
        "thumb_url": image.thumb_url,
        "width": image.width,
        "height": image.height,
        "status": image.status,
        "depicted": image.depicted,
    }


def face_json(face: Face) -> dict[str, Any]:
    """A face as JSON: its box in its image's detection space (never its encoding)."""
    return {
        "id": face.id,
        "image_id": face.image_id,
        "box": {
            "top": face.box_top,
            "right": face.box_right,
            "bottom": face.box_bottom,
            "left": face.box_left,
        },
        "origin": face.origin,
        "score": face.score,
        "answer": face.answer,
        "encoded": face.encoding is not None,
    }


def image_with_faces(session: Session, image: FaceImage | None) -> dict[str, Any]:
    if image is None:
        return {"image": None, "faces": []}
    faces = images.faces_of(session, [image.id])[image.id]
    return {"image": image_json(image), "faces": [face_json(face) for face in faces]}


def match_page(session: Session, project_id: int, offset: int, limit: int) -> dict[str, Any]:
    """One page of a project's model matches: `matches` (face and image), `total`, `next`."""
    threshold = projects.get_project(session, project_id).threshold or {}
    if threshold.get("value") is None:
        return {"matches": [], "total": 0, "next_offset": None}
    where = (
        Face.project_id == project_id,
        Face.answer.is_(None),
        Face.score >= float(threshold["value"]),
        FaceImage.depicted.is_(False),
    )
    total = session.scalar(
        select(func.count()).select_from(Face).join(FaceImage, FaceImage.id == Face.image_id)
        .where(*where)
    )  # fmt: skip
    rows = session.execute(
        select(Face, FaceImage)
        .join(FaceImage, FaceImage.id == Face.image_id)
        .where(*where)
        .order_by(Face.score.desc(), Face.id)
        .offset(offset)
        .limit(limit)
    ).all()
    found = [{"face": face_json(face), "image": image_json(image)} for face, image in rows]
    more = offset + len(found) < int(total or 0)
    return {
        "matches": found,
        "total": int(total or 0),
        "next_offset": offset + limit if more else None,
    }


def edit_json(edit: DepictsEdit) -> dict[str, Any]:
    """A depicts edit as JSON."""
    return {
        "id": edit.id,
        "page_id": edit.page_id,
        "face_id": edit.face_id,
        "qid": edit.qid,
        "action": edit.action,
        "status": edit.status,
        "precision": edit.precision,
        "rev_id": edit.rev_id,
        "error": edit.error,
        "created": edit.created.isoformat(),
        "done": None if edit.done is None else edit.done.isoformat(),
    }
