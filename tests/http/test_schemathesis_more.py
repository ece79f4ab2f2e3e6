"""The second half of the schemathesis run of test_schemathesis.py, in its own file so that
pytest-xdist's `--dist loadfile` runs the two halves in two processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.http.schemathesis_support import ENGINES, make_app, run_half
from wikiloom.config import Settings


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """An app with the development login, an admin, and an OAuth consumer never reached."""
    yield from make_app(settings)


@pytest.mark.slow
@pytest.mark.anyio
@ENGINES
async def test_no_operation_answers_a_server_error_or_off_its_schema(app: Any, who: str) -> None:
    """The second half of the operations (sorted by label)."""
    await run_half(app, who, 1)
