"""Downloading images to detect: only from the wiki's upload host (or a configured test host),
only images, never more than a size limit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from wikiloom.errors import BadRequest, WikiUnavailable

#: Where Wikimedia wikis serve their files from.
WIKIMEDIA_UPLOAD_HOSTS = frozenset({"upload.wikimedia.org"})
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 3


@dataclass(frozen=True)
class DownloadPolicy:
    """Which hosts images may come from, and how large they may be."""

    hosts: frozenset[str] = WIKIMEDIA_UPLOAD_HOSTS
    #: Hosts (host:port) allowed over plain http: loopback test wikis only.
    plain_hosts: frozenset[str] = frozenset()
    max_bytes: int = MAX_BYTES
    types: frozenset[str] = IMAGE_TYPES

    @classmethod
    def of(cls, test_hosts: Iterable[str] = (), max_bytes: int = MAX_BYTES) -> DownloadPolicy:
        """The policy of the upload hosts plus configured test hosts (host:port)."""
        extra = frozenset(host.strip().lower() for host in test_hosts if host.strip())
        return cls(WIKIMEDIA_UPLOAD_HOSTS | extra, extra, max_bytes)

    def check(self, url: str) -> None:
        """Refuse a URL outside the allowed hosts, with the reason."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        netloc = f"{host}:{parts.port}" if parts.port else host
        if parts.scheme == "https" and (host in self.hosts or netloc in self.hosts):
            return
        if parts.scheme == "http" and netloc in self.plain_hosts:
            return
        raise BadRequest(
            f"images are downloaded only from {', '.join(sorted(self.hosts))}, not {url!r}"
        )


async def fetch_image(http: httpx.AsyncClient, url: str, policy: DownloadPolicy) -> bytes:
    """Download one image, following at most `MAX_REDIRECTS` redirects, each one checked.

    A refused host, type or size raises `BadRequest` (the image is not worth retrying); the
    network, a timeout or a 5xx/429 raises `WikiUnavailable` (it is).
    """
    for _ in range(MAX_REDIRECTS + 1):
        policy.check(url)
        try:
            async with http.stream("GET", url, follow_redirects=False) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code in (429,) or response.status_code >= 500:
                    raise WikiUnavailable(f"{url} answered HTTP {response.status_code}")
                if response.status_code != 200:
                    raise BadRequest(f"{url} answered HTTP {response.status_code}")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in policy.types:
                    raise BadRequest(f"{url} is {kind or 'of no type'}, not an image")
                length = response.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > policy.max_bytes:
                    raise BadRequest(f"{url} is {length} bytes, over {policy.max_bytes}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > policy.max_bytes:
                        raise BadRequest(f"{url} is over {policy.max_bytes} bytes")
                return bytes(body)
        except httpx.HTTPError as error:
            raise WikiUnavailable(f"{url} could not be downloaded: {error}") from error
    raise BadRequest(f"{url} redirects more than {MAX_REDIRECTS} times")
