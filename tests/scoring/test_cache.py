"""The score cache: ORES's keys, the in-process LRU, real Redis, and Redis being down."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from wikiloom.scoring.cache import MemoryScoreCache, RedisScoreCache, score_key

REDIS_URL = os.environ.get("WIKILOOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DOC = {"score": {"prediction": False, "probability": {"false": 0.9, "true": 0.1}}}


def redis_cache() -> RedisScoreCache:
    cache = RedisScoreCache(REDIS_URL)
    try:
        cache.redis.ping()
    except cache.errors as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the redis tier is unavailable: {error}", pytrace=False)
        pytest.skip(f"redis tier unavailable ({error}); set WIKILOOM_TEST_REDIS_URL")
    return cache


def test_keys_are_oreses_and_a_version_is_part_of_them() -> None:
    assert score_key("enwiki", "damaging", 123456, "0.5.1") == "ores:enwiki:damaging:123456:0.5.1"
    assert score_key("enwiki", "damaging", 1, "2.0") != score_key("enwiki", "damaging", 1, "1.0")


def test_the_memory_cache_keeps_the_newest() -> None:
    cache = MemoryScoreCache(size=2)
    cache.set_many({"a": 1, "b": 2})
    cache.set_many({"c": 3})
    assert cache.get_many(["a", "b", "c", "d"]) == {"b": 2, "c": 3}


def test_redis_keeps_scores_under_ores_keys_with_a_ttl() -> None:
    cache = redis_cache()
    key = score_key("enwiki", "damaging", int(uuid.uuid4().int % 10**9), "0.5.1")
    assert cache.get_many([key]) == {}
    cache.set_many({key: DOC})
    assert cache.get_many([key, key + "x"]) == {key: DOC}
    assert 0 < cache.redis.ttl(key) <= 16 * 365 * 24 * 3600
    cache.redis.delete(key)


def test_a_redis_that_is_down_is_a_miss_not_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    cache = RedisScoreCache(f"redis://127.0.0.1:{port}/0", timeout=0.2)
    cache.set_many({"k": DOC})
    assert cache.get_many(["k"]) == {}
