"""The score cache: Redis with ORES's keys in production, an in-process LRU otherwise.

A key is `{prefix}:{wiki}:{model}:{rev_id}:{version}` (ORES's), so registering a new version
invalidates every older score. A cache that cannot be reached is a miss, never an error:
scoring still answers, uncached.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import orjson
from cachetools import LRUCache

from wikiloom.config import Settings

LOG = logging.getLogger(__name__)
#: ORES kept scores for 16 years; a version bump is what invalidates them.
DEFAULT_TTL = 16 * 365 * 24 * 3600


def score_key(wiki: str, model: str, rev_id: int, version: str, prefix: str = "ores") -> str:
    """The cache key of one score (ORES's layout)."""
    return f"{prefix}:{wiki}:{model}:{rev_id}:{version}"


class ScoreCache(Protocol):
    """Where scores are kept between requests; `blocking` ones are called from a thread."""

    blocking: bool

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]: ...

    def set_many(self, items: Mapping[str, Any]) -> None: ...


class MemoryScoreCache:
    """An in-process LRU of score documents, safe across threads."""

    blocking = False

    def __init__(self, size: int = 100_000) -> None:
        self.entries: LRUCache[str, Any] = LRUCache(maxsize=size)
        self.lock = threading.Lock()

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The cached documents of the keys that are cached."""
        with self.lock:
            return {key: self.entries[key] for key in keys if key in self.entries}

    def set_many(self, items: Mapping[str, Any]) -> None:
        """Cache documents."""
        with self.lock:
            self.entries.update(items)


class RedisScoreCache:
    """Scores in Redis as JSON with a TTL (`SET … EX`); an unreachable Redis is a miss."""

    blocking = True

    def __init__(self, url: str, ttl: int = DEFAULT_TTL, timeout: float = 0.5) -> None:
        import redis

        self.redis = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.ttl = ttl
        self.errors = redis.RedisError

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The cached documents of the keys that are cached (none when Redis is down)."""
        wanted = list(keys)
        if not wanted:
            return {}
        try:
            values = self.redis.mget(wanted)
        except self.errors as error:
            LOG.warning("score cache unavailable, scoring uncached: %s", error)
            return {}
        pairs = zip(wanted, values, strict=True)
        return {key: orjson.loads(value) for key, value in pairs if value}

    def set_many(self, items: Mapping[str, Any]) -> None:
        """Cache documents (dropped silently when Redis is down)."""
        if not items:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(key, orjson.dumps(value), ex=self.ttl)
            pipe.execute()
        except self.errors as error:
            LOG.warning("score cache unavailable, scores not kept: %s", error)


def make_cache(settings: Settings) -> ScoreCache:
    """Redis when `redis_url` is set (ORES's keys), else an in-process LRU."""
    if settings.redis_url:
        return RedisScoreCache(settings.redis_url)
    return MemoryScoreCache(settings.score_cache_size)
