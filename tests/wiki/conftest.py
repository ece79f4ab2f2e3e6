"""Shared pieces of the wiki tests: the User-Agent, the anyio backend, a client of the wiki."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.mediawiki import MediaWiki
from wikiloom.wiki.client import WikiClient

AGENT = "wikiloom-tests/0.1 (https://example.org/wikiloom; tests@example.org)"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client_of(wiki: MediaWiki, **options: Any) -> WikiClient:
    """A client of the test wiki, under its dbname."""
    return WikiClient(AGENT, custom_wikis={wiki.dbname: wiki.api_url}, **options)
