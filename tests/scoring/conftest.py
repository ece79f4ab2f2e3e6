"""Shared pieces of the scoring tests (the model helpers live in tests/support/models.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
