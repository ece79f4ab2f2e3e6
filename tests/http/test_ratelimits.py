"""Per-client rate limits: over its rate a client gets 429 with Retry-After, then it resets."""

from __future__ import annotations

import time

import pytest

from tests.http.conftest import client_for
from wikiloom.config import Settings
from wikiloom.http.ratelimits import GROUPS, RateLimits, group_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("GET", "/auth/initiate/", "login"),
        ("POST", "/feedback/", "feedback"),
        ("POST", "/feedback/enwiki/damaging/disputes/3", "feedback"),
        ("POST", "/faces/images/12/faces", "face_drawing"),
        ("POST", "/campaigns/enwiki/1/2/3/", "labels"),
        ("PUT", "/campaigns/enwiki/1/2/3/", "labels"),
        ("GET", "/campaigns/enwiki/1/2/3/", None),
        ("GET", "/feedback/", None),
        ("POST", "/campaigns/enwiki/1/", None),
    ],
)
def test_routes_fall_in_their_groups(method: str, path: str, group: str | None) -> None:
    assert group_of(method, path) == group


def test_the_default_rates_name_known_groups_and_parse() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert set(settings.rate_limits) == set(GROUPS)
    RateLimits(lambda *_: None, settings.rate_limits, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown rate limit groups: nope"):
        RateLimits(lambda *_: None, {"nope": "1/minute"}, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_a_burst_over_the_rate_gets_429_then_the_window_resets(
    app_settings: Settings,
) -> None:
    limited = app_settings.model_copy(
        update={"rate_limits": {"login": "3/second", "feedback": "2/second"}}
    )
    async with client_for(limited, 5) as client:
        statuses = [(await client.get("/auth/initiate/")).status_code for _ in range(5)]
        assert statuses[:3] == [503] * 3  # not configured, but counted
        assert statuses[3:] == [429, 429]
        refused = await client.get("/auth/initiate/")
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 1
        error = refused.json()["error"]
        assert error["code"] == "too many requests"
        assert "3 per 1 second" in error["message"]
        # Other groups and other routes keep their own counts.
        assert (await client.get("/auth/whoami/")).status_code == 200
        feedback = [(await client.post("/feedback/", json={})).status_code for _ in range(3)]
        assert 429 not in feedback[:2]
        assert feedback[2] == 429
        time.sleep(1.1)
        assert (await client.get("/auth/initiate/")).status_code == 503  # the window moved


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_no_rates_means_no_limits(app_settings: Settings) -> None:
    async with client_for(app_settings.model_copy(update={"rate_limits": {}}), 5) as client:
        statuses = {(await client.get("/auth/initiate/")).status_code for _ in range(30)}
        assert statuses == {503}
