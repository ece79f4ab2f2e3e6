"""Image downloads: only from allowed hosts, only images, never more than the size limit,
every redirect checked; served by a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.support.mediawiki_oauth import loopback_socket, serve_asgi
from wikiloom.errors import BadRequest, WikiUnavailable
from wikiloom.faces.downloads import MAX_REDIRECTS, DownloadPolicy, fetch_image

PHOTO = (Path(__file__).parent.parent / "data" / "faces" / "obama.jpg").read_bytes()


async def photo(request: Request) -> Response:
    return Response(PHOTO, media_type="image/jpeg")


async def page(request: Request) -> Response:
    return Response("<html></html>", media_type="text/html")


async def big(request: Request) -> Response:
    return Response(b"\xff" * 5000, media_type="image/png")


async def hop(request: Request) -> Response:
    target = request.query_params["to"]
    return RedirectResponse(target, status_code=302)


async def loop(request: Request) -> Response:
    return RedirectResponse("/loop", status_code=302)


async def broken(request: Request) -> Response:
    return Response("down", status_code=503)


async def missing(request: Request) -> Response:
    return Response("no", status_code=404)


APP = Starlette(
    routes=[
        Route("/photo.jpg", photo),
        Route("/page", page),
        Route("/big.png", big),
        Route("/hop", hop),
        Route("/loop", loop),
        Route("/broken", broken),
        Route("/missing", missing),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_asgi(APP, loopback_socket()) as url:
        yield url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def policy_for(url: str, **changes: int) -> DownloadPolicy:
    return DownloadPolicy.of([url.removeprefix("http://")], **changes)


async def fetch(url: str, policy: DownloadPolicy) -> bytes:
    async with httpx.AsyncClient() as http:
        return await fetch_image(http, url, policy)


def test_the_policy_allows_the_upload_host_and_test_hosts_only() -> None:
    policy = DownloadPolicy.of(["127.0.0.1:8080"])
    policy.check("https://upload.wikimedia.org/wikipedia/commons/a/ab/X.jpg")
    policy.check("http://127.0.0.1:8080/images/X.jpg")
    for url, reason in [
        ("http://upload.wikimedia.org/x.jpg", "only from"),  # plain http to Wikimedia
        ("https://evil.example/x.jpg", "only from"),
        ("https://upload.wikimedia.org.evil.example/x.jpg", "only from"),
        ("http://127.0.0.1:9999/x.jpg", "only from"),  # another port
        ("file:///etc/passwd", "only from"),
    ]:
        with pytest.raises(BadRequest, match=reason):
            policy.check(url)


@pytest.mark.anyio
async def test_an_image_from_an_allowed_host_is_downloaded(server: str) -> None:
    assert await fetch(f"{server}/photo.jpg", policy_for(server)) == PHOTO


@pytest.mark.anyio
async def test_what_is_not_an_image_or_too_large_is_refused(server: str) -> None:
    with pytest.raises(BadRequest, match="text/html, not an image"):
        await fetch(f"{server}/page", policy_for(server))
    with pytest.raises(BadRequest, match="over 4000"):
        await fetch(f"{server}/big.png", policy_for(server, max_bytes=4000))
    with pytest.raises(BadRequest, match="HTTP 404"):
        await fetch(f"{server}/missing", policy_for(server))


@pytest.mark.anyio
async def test_every_redirect_is_checked(server: str) -> None:
    allowed = policy_for(server)
    assert await fetch(f"{server}/hop?to=/photo.jpg", allowed) == PHOTO
    with pytest.raises(BadRequest, match="only from"):
        await fetch(f"{server}/hop?to=https://evil.example/x.jpg", allowed)
    with pytest.raises(BadRequest, match=f"more than {MAX_REDIRECTS} times"):
        await fetch(f"{server}/loop", allowed)


@pytest.mark.anyio
async def test_a_server_away_is_worth_retrying(server: str) -> None:
    with pytest.raises(WikiUnavailable, match="503"):
        await fetch(f"{server}/broken", policy_for(server))
    gone = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(WikiUnavailable, match="could not be downloaded"):
        await fetch(f"{gone}/x.jpg", policy_for(gone))
