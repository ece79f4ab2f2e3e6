"""Request dependencies: one session (one transaction) per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from wikiloom.db import transaction


def _session(request: Request) -> Iterator[Session]:
    with transaction(request.app.state.sessions) as session:
        yield session


DbSession = Annotated[Session, Depends(_session)]
