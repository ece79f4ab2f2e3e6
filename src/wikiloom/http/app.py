"""Application assembly: engine, session factory, error mapping, routers."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from cachetools import TTLCache
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

import wikiloom
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory
from wikiloom.errors import AppError
from wikiloom.http import (
    audit,
    campaign_pages,
    faces,
    faces_pages,
    feedback,
    feedback_pages,
    form_builder,
    governance,
    governance_pages,
    health,
    identity,
    liftwing,
    model_pages,
    ores,
    organizing,
    pages,
    reports,
    scoring,
    ui,
    wikilabels,
)
from wikiloom.http.deps import ids_in_range
from wikiloom.http.headers import DefaultContentSecurityPolicy
from wikiloom.http.limits import BodyLimit
from wikiloom.http.login import Login
from wikiloom.http.messages import Messages, load_messages
from wikiloom.http.ratelimits import RateLimits
from wikiloom.http.responses import error_body, respond
from wikiloom.http.scoring import Metrics, unload_idle_models
from wikiloom.http.sessions import SessionCookies
from wikiloom.http.slashes import PermanentSlashRedirects
from wikiloom.labels.catalog import load_catalog

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings) -> FastAPI:
    """Build the ASGI application for `settings`; nothing is shared between apps."""
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        unloader = asyncio.create_task(
            unload_idle_models(app.state, min(60.0, settings.model_idle_seconds))
        )
        yield
        unloader.cancel()
        if app.state.wiki is not None:
            await app.state.wiki.aclose()
        engine.dispose()

    app = FastAPI(
        title="wikiloom",
        version=wikiloom.__version__,
        lifespan=lifespan,
        dependencies=[Depends(ids_in_range)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.state.forms = load_catalog(settings.forms_dir)
    app.state.messages = Messages(load_messages())
    app.state.secret_key = settings.secret_key or secrets.token_urlsafe(32)
    app.state.wiki = None  # a WikiClient, made on first use (http/eligibility.py)
    app.state.wiki_users = TTLCache(maxsize=10_000, ttl=settings.wiki_user_ttl)
    app.state.login = Login(settings)
    app.state.scorer = None  # a Scorer, made on first use (http/scoring.py)
    app.state.metrics = Metrics()
    app.state.scoring_clients = Counter()
    app.state.scoring_inflight = 0

    @app.exception_handler(AppError)
    async def app_error(request: Request, error: AppError) -> Response:
        headers = {"Retry-After": "5"} if error.status == 503 else None
        return respond(request, error_body(error), error.status, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        # Unknown paths (a non-numeric id included) and wrong methods, in the same envelope.
        code = {404: "not found", 405: "method not allowed"}.get(error.status_code, "error")
        body = {"error": {"code": code, "message": f"{error.detail}: {request.url.path}"}}
        return respond(request, body, error.status_code, error.headers)

    @app.exception_handler(DBAPIError)
    async def database_down(_: Request, error: DBAPIError) -> JSONResponse:
        # A connection that broke, or that could not be made: the server restarting ("the
        # database system is shutting down", "... is starting up"), refusing or gone. The
        # DBAPI calls all of these OperationalError; pre-ping replaces the pool's connections
        # once the server answers again.
        if not (error.connection_invalidated or isinstance(error, OperationalError)):
            raise error
        return JSONResponse(
            {"error": {"code": "unavailable", "message": "The database is unreachable."}},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_middleware(PermanentSlashRedirects)
    app.add_middleware(DefaultContentSecurityPolicy)
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Content-Type", "X-Requested-With"],
    )
    app.add_middleware(
        SessionCookies,
        secret_key=app.state.secret_key,
        secure=settings.session_cookie_secure,
        same_site=settings.session_cookie_samesite,
    )
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, upload_bytes=organizing.MAX_TASKS_BODY
    )
    app.add_middleware(RateLimits, rates=settings.rate_limits, redis_url=settings.redis_url)
    for module in (
        health, pages, identity, wikilabels, reports, organizing, ores, liftwing, scoring,
        governance,
        audit,
        governance_pages,  # before ui's /ui/{wiki}/: /ui/audit/ is ours
        faces, faces_pages,  # before ui's /ui/{wiki}/: /ui/faces/ is ours
        ui, campaign_pages, model_pages,
        feedback, feedback_pages,
        form_builder,
    ):  # fmt: skip
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
