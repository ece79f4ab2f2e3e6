"""Application assembly: engine, session factory, error mapping, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError

import wikiloom
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory
from wikiloom.errors import AppError
from wikiloom.http import health, pages

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings) -> FastAPI:
    """Build the ASGI application for `settings`; nothing is shared between apps."""
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="wikiloom", version=wikiloom.__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.templates = Jinja2Templates(directory=HERE / "templates")

    @app.exception_handler(AppError)
    async def app_error(_: Request, error: AppError) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": error.code, "message": error.message}}, status_code=error.status
        )

    @app.exception_handler(DBAPIError)
    async def database_down(_: Request, error: DBAPIError) -> JSONResponse:
        if not error.connection_invalidated:
            raise error
        return JSONResponse(
            {"error": {"code": "unavailable", "message": "The database is unreachable."}},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.include_router(health.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
