"""Health: is the process up, and can it reach its database?"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import wikiloom
from wikiloom.http.deps import DbSession

router = APIRouter()


@router.get("/healthz", tags=["health"])
def healthz(session: DbSession) -> JSONResponse:
    """Answer 200 when the database answers, 503 otherwise."""
    body: dict[str, Any] = {"status": "ok", "version": wikiloom.__version__}
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        body |= {"status": "unavailable", "database": "unreachable"}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    body["database"] = session.get_bind().dialect.name
    return JSONResponse(body)
