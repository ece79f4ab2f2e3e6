"""Request dependencies: one session (one transaction) per request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wikiloom.db import run_transaction, transaction

T = TypeVar("T")


def _session(request: Request) -> Iterator[Session]:
    with transaction(request.app.state.sessions) as session:
        yield session


DbSession = Annotated[Session, Depends(_session)]


async def in_transaction(
    request: Request, work: Callable[[Session], T], *, write: bool = False
) -> T:
    """Run `work` in one transaction in the thread pool (again if the server aborted it)."""
    factory = request.app.state.sessions
    return await run_in_threadpool(run_transaction, factory, work, write=write)
