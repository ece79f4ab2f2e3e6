"""Face encodings are biometric data: deleted on request per project, or after the project's
retention period, and never exported (no route or file carries them).

Deleting encodings keeps the boxes and the human answers (what people did stays), but the
faces can no longer be matched: a project whose encodings are gone must detect again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.faces.projects import get_project, require_role
from wikiloom.faces.tables import Face, FaceImage, FaceProject


def delete_encodings(session: Session, project_id: int, user_id: int) -> int:
    """Delete every face encoding of a project (its owners only); answer how many."""
    require_role(session, project_id, user_id, owner=True)
    project = get_project(session, project_id)
    result = session.execute(
        update(Face)
        .where(Face.project_id == project_id, Face.encoding.is_not(None))
        .values(encoding=None, score=None)
    )
    project.threshold = None
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge_expired(session: Session, now: dt.datetime | None = None) -> int:
    """Delete the encodings older than their project's retention; answer how many."""
    now = now or utcnow()
    purged = 0
    projects = session.execute(
        select(FaceProject.id, FaceProject.retention_days).where(
            FaceProject.retention_days.is_not(None)
        )
    ).all()
    for project_id, days in projects:
        if days is None:
            continue
        expired = select(FaceImage.id).where(
            FaceImage.project_id == project_id,
            FaceImage.detected < now - dt.timedelta(days=int(days)),
        )
        result = session.execute(
            update(Face)
            .where(
                Face.project_id == project_id,
                Face.encoding.is_not(None),
                Face.image_id.in_(expired),
            )
            .values(encoding=None, score=None)
        )
        purged += int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.flush()
    return purged
