"""The event log: an append-only record of what happened to campaigns and by whom."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from wikiloom.db import utcnow
from wikiloom.labels.tables import Event


def record_event(
    session: Session,
    type: str,
    *,
    user_id: int | None = None,
    campaign_id: int | None = None,
    data: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Append one event in the caller's transaction."""
    session.execute(
        insert(cast(Table, Event.__table__)).values(
            type=type,
            timestamp=now or utcnow(),
            user_id=user_id,
            campaign_id=campaign_id,
            data=data or {},
        )
    )
