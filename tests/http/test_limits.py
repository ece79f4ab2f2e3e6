"""Oversized request bodies are refused with 413 in the error envelope, however they come."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.http.conftest import client_for
from wikiloom.config import Settings
from wikiloom.errors import AppError
from wikiloom.http.limits import BodyLimit

pytestmark = pytest.mark.anyio
LIMIT = 1000
PREVIEW = "/form_builder/preview"


async def _echo(request: Request) -> JSONResponse:
    try:
        body = await request.body()
    except AppError as error:
        return JSONResponse({"error": {"code": error.code}}, status_code=error.status)
    return JSONResponse({"read": len(body)})


def _bare_client(reached: list[str]) -> httpx.AsyncClient:
    """A client of a tiny app behind BodyLimit; `reached` records the requests it saw."""

    async def echo(request: Request) -> JSONResponse:
        reached.append(request.url.path)
        return await _echo(request)

    routes = [
        Route("/echo", echo, methods=["POST"]),
        Route("/campaigns/w/1/tasks/", echo, methods=["POST"]),
    ]
    app = BodyLimit(Starlette(routes=routes), max_bytes=LIMIT, upload_bytes=10 * LIMIT)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _chunks(size: int, chunk: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, size, chunk):
        yield b"x" * min(chunk, size - start)


@pytest.fixture
def small(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"max_body_bytes": LIMIT})


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_a_declared_length_over_the_limit_is_refused_before_the_app(small: Settings) -> None:
    async with client_for(small, None) as client:
        for path in (PREVIEW, "/feedback/", "/campaigns/enwiki/1/", "/no/such/path/"):
            answer = await client.post(path, content=b"{" + b" " * LIMIT + b"}")
            assert answer.status_code == 413, (path, answer.text)
            assert answer.json()["error"]["code"] == "too large"
            assert f"at most {LIMIT} bytes" in answer.json()["error"]["message"]
        assert (await client.post(PREVIEW, content=b"{}")).status_code == 400  # under it: read
    reached: list[str] = []
    async with _bare_client(reached) as client:
        assert (await client.post("/echo", content=b"x" * (LIMIT + 1))).status_code == 413
        assert reached == []  # refused from the header alone
        assert (await client.post("/echo", content=b"x" * LIMIT)).json() == {"read": LIMIT}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_a_chunked_body_is_counted_and_refused_past_the_limit(small: Settings) -> None:
    async with client_for(small, None) as client:
        answer = await client.post(PREVIEW, content=_chunks(LIMIT * 3))
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"]["code"] == "too large"
        fits = await client.post(PREVIEW, content=_chunks(LIMIT))  # not JSON, but read whole
        assert fits.status_code == 400
        assert "not JSON" in fits.text
    async with _bare_client([]) as client:
        refused = await client.post("/echo", content=_chunks(LIMIT + 1))
        assert refused.status_code == 413
        assert (await client.post("/echo", content=_chunks(LIMIT))).json() == {"read": LIMIT}


async def test_a_body_longer_than_its_content_length_is_refused() -> None:
    async with _bare_client([]) as client:
        lie = {"Content-Length": "10"}
        answer = await client.post("/echo", content=b"x" * (LIMIT * 2), headers=lie)
        assert answer.status_code == 413
        bogus = {"Content-Length": "lots"}
        answer = await client.post("/echo", content=b"x" * (LIMIT * 2), headers=bogus)
        assert answer.status_code == 413


async def test_task_uploads_may_be_larger() -> None:
    async with _bare_client([]) as client:
        upload = await client.post("/campaigns/w/1/tasks/", content=b"x" * (LIMIT * 5))
        assert upload.json() == {"read": LIMIT * 5}
        too_big = await client.post("/campaigns/w/1/tasks/", content=b"x" * (LIMIT * 10 + 1))
        assert too_big.status_code == 413


def test_the_default_limit_is_documented_and_sane() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.max_body_bytes == 2 * 1024 * 1024
