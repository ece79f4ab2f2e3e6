"""Labelers, known by their CentralAuth user id."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
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


def lock_user(session: Session, user_id: int, *, now: dt.datetime | None = None) -> None:
    """Lock the user's row for this transaction, creating the user first if needed.

    Assignment takes this lock first, so one user's concurrent requests for a workset run
    one after another. (On PostgreSQL it is FOR NO KEY UPDATE: foreign-key checks of the
    user's rows never wait on it.)
    """
    locked = select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    if session.scalar(locked) is None:
        ensure_user(session, user_id, now=now)
        session.scalar(locked)
