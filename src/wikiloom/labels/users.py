"""Labelers, known by their CentralAuth user id."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from wikiloom.db import insert_ignore, utcnow
from wikiloom.labels.tables import User


def ensure_user(
    session: Session, user_id: int, name: str | None = None, now: dt.datetime | None = None
) -> None:
    """Make sure a user row exists; a name, when given, is recorded (users get renamed)."""
    session.execute(
        insert_ignore(session, User).values(id=user_id, name=name, created=now or utcnow())
    )
    if name is not None:
        user = session.get(User, user_id)
        if user is not None and user.name != name:
            user.name = name
