"""Faces on Commons: projects, images, faces, answers, depicts edits, OAuth credentials.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: UTC timestamps, stored naive; MariaDB keeps microseconds only when asked.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _users(column: str, *, nullable: bool = False, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        column,
        sa.BigInteger(),
        sa.ForeignKey("users.id"),
        nullable=nullable,
        primary_key=primary_key,
    )


def _project() -> sa.Column[int]:
    return sa.Column(
        "project_id",
        sa.Integer(),
        sa.ForeignKey("face_projects.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "face_projects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("wiki", sa.String(64), nullable=False),
        sa.Column("qid", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("label", sa.String(255), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("target_precision", sa.Double(), nullable=False),
        sa.Column("random_fraction", sa.Double(), nullable=False),
        sa.Column("max_images", sa.Integer(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("threshold", sa.JSON(), nullable=True),
        _users("created_by"),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("crawled", TIMESTAMP, nullable=True),
        sa.Column("scored", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("wiki", "qid", "name", name="uq_face_projects_name"),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'archived')", name="ck_face_projects_status"
        ),
        sa.CheckConstraint(
            "target_precision > 0 AND target_precision < 1", name="ck_face_projects_precision"
        ),
        sa.CheckConstraint(
            "random_fraction >= 0 AND random_fraction < 1", name="ck_face_projects_random"
        ),
        sa.CheckConstraint("max_images > 0", name="ck_face_projects_max_images"),
        sa.CheckConstraint(
            "retention_days IS NULL OR retention_days > 0", name="ck_face_projects_retention"
        ),
    )
    op.create_index("ix_face_projects_qid", "face_projects", ["qid"])
    op.create_table(
        "face_project_members",
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("face_projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _users("user_id", primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("added", TIMESTAMP, nullable=False),
        sa.CheckConstraint("role IN ('owner', 'member')", name="ck_face_project_members_role"),
    )
    op.create_table(
        "face_images",
        sa.Column("id", sa.Integer(), primary_key=True),
        _project(),
        sa.Column("page_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("depicted", sa.Boolean(), nullable=False),
        sa.Column("thumb_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("added", TIMESTAMP, nullable=False),
        sa.Column("detected", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("project_id", "page_id", name="uq_face_images_page"),
        sa.CheckConstraint(
            "status IN ('pending', 'detected', 'failed')", name="ck_face_images_status"
        ),
        sa.CheckConstraint("source IN ('category', 'bootstrap')", name="ck_face_images_source"),
        sa.CheckConstraint(
            "status <> 'detected' OR (width > 0 AND height > 0)", name="ck_face_images_size"
        ),
    )
    op.create_index("ix_face_images_status", "face_images", ["project_id", "status", "id"])
    op.create_table(
        "faces",
        sa.Column("id", sa.Integer(), primary_key=True),
        _project(),
        sa.Column(
            "image_id",
            sa.Integer(),
            sa.ForeignKey("face_images.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("box_top", sa.Integer(), nullable=False),
        sa.Column("box_right", sa.Integer(), nullable=False),
        sa.Column("box_bottom", sa.Integer(), nullable=False),
        sa.Column("box_left", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("encoding", sa.LargeBinary(), nullable=True),
        sa.Column("answer", sa.String(8), nullable=True),
        _users("answered_by", nullable=True),
        sa.Column("answered", TIMESTAMP, nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.CheckConstraint("origin IN ('detected', 'drawn')", name="ck_faces_origin"),
        sa.CheckConstraint(
            "box_left >= 0 AND box_top >= 0 AND box_right > box_left AND box_bottom > box_top",
            name="ck_faces_box",
        ),
        sa.CheckConstraint("answer IS NULL OR answer IN ('yes', 'no')", name="ck_faces_answer"),
        sa.CheckConstraint("(answer IS NULL) = (answered_by IS NULL)", name="ck_faces_answered_by"),
    )
    op.create_index("ix_faces_project", "faces", ["project_id", "answer", "id"])
    op.create_index("ix_faces_image", "faces", ["image_id"])
    op.create_table(
        "face_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "face_id", sa.Integer(), sa.ForeignKey("faces.id", ondelete="CASCADE"), nullable=False
        ),
        _users("user_id"),
        sa.Column("answer", sa.String(8), nullable=False),
        sa.Column("previous", sa.String(8), nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("undone", TIMESTAMP, nullable=True),
        sa.CheckConstraint("answer IN ('yes', 'no', 'skip')", name="ck_face_answers_answer"),
    )
    op.create_index("ix_face_answers_face_id", "face_answers", ["face_id"])
    op.create_index("ix_face_answers_user", "face_answers", ["user_id", "id"])
    op.create_table(
        "depicts_edits",
        sa.Column("id", sa.Integer(), primary_key=True),
        _project(),
        sa.Column(
            "face_id", sa.Integer(), sa.ForeignKey("faces.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("wiki", sa.String(64), nullable=False),
        sa.Column("page_id", sa.BigInteger(), nullable=False),
        sa.Column("qid", sa.String(16), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _users("user_id"),
        sa.Column("precision", sa.Double(), nullable=True),
        sa.Column("statement", sa.String(255), nullable=True),
        sa.Column("rev_id", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed", TIMESTAMP, nullable=True),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("done", TIMESTAMP, nullable=True),
        sa.UniqueConstraint("wiki", "page_id", "qid", "action", name="uq_depicts_edits_key"),
        sa.CheckConstraint("action IN ('add', 'remove')", name="ck_depicts_edits_action"),
        sa.CheckConstraint(
            "status IN ('pending', 'writing', 'done', 'failed')", name="ck_depicts_edits_status"
        ),
    )
    op.create_index("ix_depicts_edits_project", "depicts_edits", ["project_id", "status", "id"])
    op.create_table(
        "credentials",
        _users("user_id", primary_key=True),
        sa.Column("access_token", sa.LargeBinary(), nullable=False),
        sa.Column("refresh_token", sa.LargeBinary(), nullable=True),
        sa.Column("expires", TIMESTAMP, nullable=True),
        sa.Column("scope", sa.String(255), nullable=True),
        sa.Column("updated", TIMESTAMP, nullable=False),
    )


def downgrade() -> None:
    # Their indexes go with them (MariaDB refuses to drop an index a foreign key uses).
    for table in (
        "credentials",
        "depicts_edits",
        "face_answers",
        "faces",
        "face_images",
        "face_project_members",
        "face_projects",
    ):
        op.drop_table(table)
