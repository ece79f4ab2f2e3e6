"""Request dependencies: one session (one transaction) per request; path ids in range."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wikiloom.db import run_transaction, transaction
from wikiloom.errors import NotFound

T = TypeVar("T")
#: The largest id each path parameter's column holds (campaigns and worksets have 32-bit
#: ids, tasks and users 64-bit): a bigger one names nothing, and PostgreSQL or SQLite would
#: refuse to compare it.
MAX_IDS = {"campaign_id": 2**31 - 1, "workset_id": 2**31 - 1}
MAX_ID = 2**63 - 1


async def ids_in_range(request: Request) -> None:
    """Answer 404 for a numeric path id no column can hold (`campaign_id=<N>`).

    Asynchronous (it does no I/O) so that no request pays a thread-pool hop for it.
    """
    for name, value in request.path_params.items():
        if isinstance(value, int) and value > MAX_IDS.get(name, MAX_ID):
            raise NotFound(f"{name}={value}")


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
