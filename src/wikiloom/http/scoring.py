"""What the scoring routes share: the scorer, limits per client and in all, and metrics."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import (
    Counter as PromCounter,
)

from wikiloom.config import Settings
from wikiloom.errors import AppError
from wikiloom.http.eligibility import app_wiki_client
from wikiloom.scoring.scores import Scorer, ScoreResponse, scorer_for

router = APIRouter(tags=["operations"])


class TooManyRequests(AppError):
    """A client has too many requests in flight."""

    code = "too_many_requests"
    status = 429


class Overloaded(AppError):
    """The server has too many scoring requests in flight."""

    code = "server overloaded"
    status = 503


class Metrics:
    """The Prometheus metrics of one application (its own registry: no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "wikiloom_request_seconds", "Scoring request latency", ["route", "models"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.scores = PromCounter(
            "wikiloom_scores", "Scores answered, from the cache or computed", ["wiki", "source"],
            registry=self.registry,
        )  # fmt: skip
        self.inflight = Gauge(
            "wikiloom_scoring_inflight", "Scoring requests in flight", registry=self.registry
        )
        self.refused = PromCounter(
            "wikiloom_refused", "Requests refused", ["reason"], registry=self.registry
        )
        self.loaded = Gauge(
            "wikiloom_models_loaded", "Model versions in memory", registry=self.registry
        )


def scorer(request: Request) -> Scorer:
    """The application's scorer, made on first use."""
    state = request.app.state
    if state.scorer is None:
        state.scorer = scorer_for(state.settings, state.sessions, lambda: app_wiki_client(state))
    engine: Scorer = state.scorer
    return engine


def client_of(request: Request) -> str:
    """Who is asking: `X-Client-IP` (behind a proxy, as at WMF), else the peer address."""
    forwarded = request.headers.get("x-client-ip")
    return forwarded or (request.client.host if request.client else "unknown")


@asynccontextmanager
async def track(request: Request, route: str, models: str = "all") -> AsyncIterator[None]:
    """Admit a scoring request under the limits, and time it (per route and models asked).

    Over `scoring_client_limit` requests in flight from one client: 429. Over
    `scoring_max_inflight` in all: 503 with Retry-After (load shedding).
    """
    state = request.app.state
    settings: Settings = state.settings
    metrics: Metrics = state.metrics
    who = client_of(request)
    per_client: Counter[str] = state.scoring_clients
    if per_client[who] >= settings.scoring_client_limit:
        metrics.refused.labels("client_limit").inc()
        raise TooManyRequests("A limited number of parallel connections per IP is allowed.")
    if state.scoring_inflight >= settings.scoring_max_inflight:
        metrics.refused.labels("overloaded").inc()
        raise Overloaded(
            "Cannot process your request because the server is overloaded.  Try again in a"
            "few minutes."
        )
    per_client[who] += 1
    state.scoring_inflight += 1
    metrics.inflight.inc()
    started = time.perf_counter()
    try:
        yield
    finally:
        metrics.latency.labels(route, models).observe(time.perf_counter() - started)
        metrics.inflight.dec()
        state.scoring_inflight -= 1
        per_client[who] -= 1
        if per_client[who] <= 0:
            del per_client[who]


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: latency per route, scores per source, in flight, refusals."""
    state = request.app.state
    collected: Metrics = state.metrics
    if state.scorer is not None:
        collected.loaded.set(len(state.scorer.pool.loaded))
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)


async def unload_idle_models(state: object, every: float) -> None:
    """Unload idle models every `every` seconds until cancelled (scale to zero)."""
    while True:
        await asyncio.sleep(every)
        engine = getattr(state, "scorer", None)
        if engine is not None:
            engine.pool.unload_idle()


def count_scores(request: Request, response: ScoreResponse) -> None:
    """Count a response's scores by where they came from (for the cache hit ratio)."""
    metrics: Metrics = request.app.state.metrics
    metrics.scores.labels(response.wiki, "cache").inc(response.cached)
    metrics.scores.labels(response.wiki, "computed").inc(response.computed)
