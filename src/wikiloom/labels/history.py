"""Label history: earlier versions of labels, kept when replaced or withdrawn."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from wikiloom.labels.tables import Label, LabelHistory


def keep_in_history(
    session: Session, label: Label, reason: Literal["relabel", "skip"], now: dt.datetime
) -> None:
    """Copy the current version of a label into the history before it changes or goes."""
    session.execute(
        insert(LabelHistory).values(
            task_id=label.task_id,
            user_id=label.user_id,
            data=label.data,
            timestamp=label.timestamp,
            replaced=now,
            reason=reason,
        )
    )
