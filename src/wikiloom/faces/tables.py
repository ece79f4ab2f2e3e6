"""The faces context's tables: projects, their images and faces, answers, edits, credentials.

Coordinates: every face box is in the pixel space of the image the detection ran on, whose
size is stored with the image (`width`, `height`); a box drawn by hand is scaled into it
before it is stored or encoded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wikiloom.db import Base, UTCDateTime

PROJECT_STATES = ("active", "paused", "archived")
IMAGE_STATES = ("pending", "detected", "failed")
IMAGE_SOURCES = ("category", "bootstrap")
FACE_ORIGINS = ("detected", "drawn")
ANSWERS = ("yes", "no")
EDIT_ACTIONS = ("add", "remove")
EDIT_STATES = ("pending", "writing", "done", "failed")
ROLES = ("owner", "member")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class FaceProject(Base):
    """Faces in Commons categories that may depict one Wikidata item."""

    __tablename__ = "face_projects"
    __table_args__ = (
        UniqueConstraint("wiki", "qid", "name", name="uq_face_projects_name"),
        CheckConstraint(_in("status", PROJECT_STATES), name="ck_face_projects_status"),
        CheckConstraint(
            "target_precision > 0 AND target_precision < 1", name="ck_face_projects_precision"
        ),
        CheckConstraint(
            "random_fraction >= 0 AND random_fraction < 1", name="ck_face_projects_random"
        ),
        CheckConstraint("max_images > 0", name="ck_face_projects_max_images"),
        CheckConstraint(
            "retention_days IS NULL OR retention_days > 0", name="ck_face_projects_retention"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wiki: Mapped[str] = mapped_column(String(64))
    qid: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(255))
    label: Mapped[str | None] = mapped_column(String(255))
    #: The categories crawled: [{"name": "Barack Obama", "depth": 1}, ...].
    categories: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="active")
    target_precision: Mapped[float] = mapped_column(Double, default=0.99)
    random_fraction: Mapped[float] = mapped_column(Double, default=0.1)
    max_images: Mapped[int] = mapped_column(Integer, default=2000)
    #: Days an encoding is kept after its image was detected; None: until deleted.
    retention_days: Mapped[int | None] = mapped_column(Integer)
    #: The matcher's threshold and estimated precision, from the last re-scoring.
    threshold: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    crawled: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scored: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FaceProjectMember(Base):
    """A user who may answer and write for a project."""

    __tablename__ = "face_project_members"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_face_project_members_role"),)

    project_id: Mapped[int] = mapped_column(
        ForeignKey("face_projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    added: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FaceImage(Base):
    """A Commons file of a project, and the size of the image its faces were found on."""

    __tablename__ = "face_images"
    __table_args__ = (
        UniqueConstraint("project_id", "page_id", name="uq_face_images_page"),
        CheckConstraint(_in("status", IMAGE_STATES), name="ck_face_images_status"),
        CheckConstraint(_in("source", IMAGE_SOURCES), name="ck_face_images_source"),
        CheckConstraint(
            "status <> 'detected' OR (width > 0 AND height > 0)", name="ck_face_images_size"
        ),
        Index("ix_face_images_status", "project_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("face_projects.id", ondelete="CASCADE"))
    page_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16), default="category")
    #: The file already had a depicts statement for the item (found by the bootstrap).
    depicted: Mapped[bool] = mapped_column(Boolean, default=False)
    thumb_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    detected: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Face(Base):
    """A face box on a project's image, its encoding, the human answer and the model's score."""

    __tablename__ = "faces"
    __table_args__ = (
        CheckConstraint(_in("origin", FACE_ORIGINS), name="ck_faces_origin"),
        CheckConstraint(
            "box_left >= 0 AND box_top >= 0 AND box_right > box_left AND box_bottom > box_top",
            name="ck_faces_box",
        ),
        CheckConstraint("answer IS NULL OR " + _in("answer", ANSWERS), name="ck_faces_answer"),
        CheckConstraint("(answer IS NULL) = (answered_by IS NULL)", name="ck_faces_answered_by"),
        Index("ix_faces_project", "project_id", "answer", "id"),
        Index("ix_faces_image", "image_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("face_projects.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("face_images.id", ondelete="CASCADE"))
    box_top: Mapped[int] = mapped_column(Integer)
    box_right: Mapped[int] = mapped_column(Integer)
    box_bottom: Mapped[int] = mapped_column(Integer)
    box_left: Mapped[int] = mapped_column(Integer)
    origin: Mapped[str] = mapped_column(String(16), default="detected")
    #: 128 float64 values (dlib's ResNet), little-endian; None once deleted (privacy).
    encoding: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The human answer (the only training label): yes, this face depicts the item, or no.
    answer: Mapped[str | None] = mapped_column(String(8))
    answered_by: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    answered: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: The matcher's probability at the last re-scoring (never a training label).
    score: Mapped[float | None] = mapped_column(Double)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FaceAnswer(Base):
    """Every answer given, undone ones too: the history behind `Face.answer`."""

    __tablename__ = "face_answers"
    __table_args__ = (
        CheckConstraint(_in("answer", (*ANSWERS, "skip")), name="ck_face_answers_answer"),
        Index("ix_face_answers_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    face_id: Mapped[int] = mapped_column(ForeignKey("faces.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    answer: Mapped[str] = mapped_column(String(8))
    #: The face's answer before this one, restored by an undo.
    previous: Mapped[str | None] = mapped_column(String(8))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    undone: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DepictsEdit(Base):
    """A depicts statement to add to (or remove from) a file: one row per file, item, action."""

    __tablename__ = "depicts_edits"
    __table_args__ = (
        UniqueConstraint("wiki", "page_id", "qid", "action", name="uq_depicts_edits_key"),
        CheckConstraint(_in("action", EDIT_ACTIONS), name="ck_depicts_edits_action"),
        CheckConstraint(_in("status", EDIT_STATES), name="ck_depicts_edits_status"),
        Index("ix_depicts_edits_project", "project_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("face_projects.id", ondelete="CASCADE"))
    face_id: Mapped[int | None] = mapped_column(ForeignKey("faces.id", ondelete="SET NULL"))
    wiki: Mapped[str] = mapped_column(String(64))
    page_id: Mapped[int] = mapped_column(BigInteger)
    qid: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(8), default="add")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    #: The estimated precision shown to the user who sent the edits.
    precision: Mapped[float | None] = mapped_column(Double)
    statement: Mapped[str | None] = mapped_column(String(255))
    rev_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When a writer took the edit (status `writing`): a lease, taken over once stale.
    claimed: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    done: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Credential(Base):
    """A user's OAuth 2.0 tokens, encrypted at rest (Fernet), to edit as them."""

    __tablename__ = "credentials"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), primary_key=True)
    access_token: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scope: Mapped[str | None] = mapped_column(String(255))
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime)
