"""Shared fixtures of the HTTP tests: a campaign, settings with the dev login, clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest

from tests.labels.factories import campaign_with_tasks
from tests.support.models import register
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.http import create_app
from wikiloom.learn.registry import TrainedModel


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def campaign_id(settings: Settings) -> int:
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        found = campaign_with_tasks(session, 5, labels_per_task=2, tasks_per_assignment=3).id
    engine.dispose()
    return found


@pytest.fixture
async def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"dev_login": True})


@pytest.fixture
def served(settings: Settings, sample_trained: TrainedModel) -> Settings:
    """Settings whose database holds the sample model, active on enwiki, its features stored."""
    engine = make_engine(settings)
    register(session_factory(engine), sample_trained, "enwiki")
    engine.dispose()
    return settings


@asynccontextmanager
async def client_for(
    settings: Settings, user: int | None, name: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app, logged in as `user` through the development login."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        if user is not None:
            login = {"user_id": user, "username": name or f"User{user}"}
            answer = await client.post("/auth/dev_login/", data=login)
            assert answer.status_code == 200, answer.text
        yield client
    app.state.engine.dispose()


async def label_all(
    settings: Settings,
    campaign: int,
    users: list[int],
    value: Callable[[int, int], dict[str, object]],
) -> None:
    """Each user takes worksets and labels every task with `value(user, task_id)`."""
    base = f"/campaigns/enwiki/{campaign}/"
    for user in users:
        async with client_for(settings, user) as client:
            while (answer := await client.post(base, data={"tasks": ""})).status_code == 200:
                body = answer.json()
                for task in body["tasks"]:
                    url = f"{base}{body['workset']['id']}/{task['id']}/"
                    label = orjson.dumps(value(user, task["id"])).decode()
                    saved = await client.post(url, data={"label": label})
                    assert saved.status_code == 200, saved.text
