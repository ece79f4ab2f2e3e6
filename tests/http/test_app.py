"""The web application: health and the campaign list, in process and on a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.http import create_app
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.demo import load_demo


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://wikiloom.test") as client:
        yield client
    app.state.engine.dispose()


@pytest.mark.anyio
async def test_health_names_the_database(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == make_engine(settings).dialect.name


@pytest.mark.anyio
async def test_home_lists_campaigns_with_counts(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    empty = await client.get("/")
    assert empty.status_code == 200
    assert "No campaigns yet" in empty.text
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        load_demo(session, list(load_catalog()))
    engine.dispose()
    page = await client.get("/")
    assert page.status_code == 200
    assert "Edit quality (demo, 2015 sample)" in page.text
    assert '<td class="num">500</td>' in page.text  # tasks
    assert '<td class="num">1,000</td>' in page.text  # labels needed: 500 x 2
    assert "Article quality (demo, wp10 sample)" in page.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_real_server_serves_the_demo(tmp_path: Path) -> None:
    """What `make run` does: migrate, load the demo, serve on loopback."""
    env = {**os.environ, "WIKILOOM_DATABASE_URL": f"sqlite:///{tmp_path}/run.db"}
    command = [sys.executable, "-m", "wikiloom"]
    for step in (["db", "upgrade"], ["demo"]):
        subprocess.run([*command, *step], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        for _ in range(100):
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health.json()["status"] == "ok"
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert "Article quality (demo, wp10 sample)" in page.text
        assert '<td class="num">300</td>' in page.text
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://root@127.0.0.1:9/none",  # nothing listens on the discard port
        "mysql+pymysql://root@127.0.0.1:9/none",
    ],
    ids=["postgres", "mariadb"],
)
async def test_a_database_refusing_connections_is_a_503_with_retry_after(url: str) -> None:
    # A server restarting refuses new connections ("shutting down", "connection refused"):
    # an OperationalError raised while connecting, not a broken connection of the pool.
    app = create_app(Settings(_env_file=None, database_url=url, database_pool_timeout=2))  # type: ignore[call-arg]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://wikiloom.test") as client:
        response = await client.get("/campaigns/")
    app.state.engine.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"
    assert "root@" not in response.text
