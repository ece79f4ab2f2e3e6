"""Per-client rate limits on the expensive or abuse-prone routes: 429 with Retry-After.

The `rate_limits` setting maps route groups to a `limits` rate ("10/minute", "100/hour");
each client (its address) has a moving window per group. Counts live in memory, or in Redis
when `redis_url` is set, so that every process of an installation shares them. A Redis that
cannot be reached lets the request through: limits are a defence, not a dependency.
"""

from __future__ import annotations

import logging
import math
import re
import time

import orjson
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

#: Route groups: (methods, path pattern). Paths are matched with or without a final slash.
GROUPS: dict[str, tuple[frozenset[str], re.Pattern[str]]] = {
    "login": (frozenset({"GET"}), re.compile(r"^/auth/initiate/?$")),
    "feedback": (frozenset({"POST"}), re.compile(r"^/feedback/.*$")),
    "face_drawing": (frozenset({"POST"}), re.compile(r"^/faces/images/\d+/faces/?$")),
    "labels": (
        frozenset({"POST", "PUT"}),
        re.compile(r"^/campaigns/[^/]+/\d+/\d+/\d+/?$"),
    ),
}


def group_of(method: str, path: str) -> str | None:
    """The rate-limited group of a request, or None."""
    for name, (methods, pattern) in GROUPS.items():
        if method in methods and pattern.match(path):
            return name
    return None


class RateLimits:
    """ASGI middleware answering 429 to a client over its rate for a route group."""

    def __init__(self, app: ASGIApp, rates: dict[str, str], redis_url: str | None) -> None:
        self.app = app
        unknown = set(rates) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown rate limit groups: {', '.join(sorted(unknown))}")
        self.rates: dict[str, RateLimitItem] = {name: parse(r) for name, r in rates.items()}
        storage = storage_from_string(redis_url) if redis_url else MemoryStorage()
        assert isinstance(storage, Storage)  # a synchronous one (no async+ scheme)
        self.limiter = MovingWindowRateLimiter(storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request against its group; refuse it when over the rate."""
        group = group_of(scope.get("method", ""), scope.get("path", ""))
        if scope["type"] != "http" or group is None or group not in self.rates:
            await self.app(scope, receive, send)
            return
        rate = self.rates[group]
        client = scope.get("client")
        key = f"wikiloom-ratelimit:{group}:{client[0] if client else '-'}"
        try:
            allowed = self.limiter.hit(rate, key)
            reset = self.limiter.get_window_stats(rate, key).reset_time if not allowed else 0.0
        except Exception as error:  # a shared storage that is down: let the request in
            log.warning("rate limits unavailable: %s", type(error).__name__)
            allowed = True
        if allowed:
            await self.app(scope, receive, send)
            return
        retry = max(1, math.ceil(reset - time.time()))
        message = f"Too many requests: at most {rate} per client here. Retry in {retry} s."
        body = orjson.dumps({"error": {"code": "too many requests", "message": message}})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
