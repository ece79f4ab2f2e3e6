"""Streamed responses answer the very bytes of the whole-body ones, JSON and JSONP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request

from wikiloom.http.responses import STREAM_CHUNK, respond, respond_streamed


def request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "query_string": query.encode(), "headers": []})


def items(count: int) -> Iterator[dict[str, Any]]:
    for number in range(count):
        yield {"id": number, "data": {"rev_id": number, "text": "é\u2028" * (number % 5)}}


@pytest.mark.anyio
@pytest.mark.parametrize("query", ["", "tasks", "callback=cb", "callback=a.b$", "callback=<x>"])
@pytest.mark.parametrize("count", [0, 1, 3000])
@pytest.mark.parametrize(
    "head", [{}, {"campaign": {"id": 1, "name": "n"}, "worksets": [{"id": 2}], "x": None}]
)
async def test_a_streamed_body_equals_the_whole_one(
    query: str, count: int, head: dict[str, Any]
) -> None:
    whole = respond(request(query), {**head, "tasks": list(items(count))})
    streamed = respond_streamed(request(query), head, "tasks", items(count))
    chunks = [chunk async for chunk in streamed.body_iterator]
    assert b"".join(chunks) == whole.body  # type: ignore[arg-type]
    assert streamed.media_type == whole.media_type
    assert streamed.status_code == whole.status_code == 200
    if count == 3000:  # about 150 kB: sent in pieces, none much above the chunk size
        assert len(chunks) > 1
        assert all(len(chunk) < STREAM_CHUNK + 1000 for chunk in chunks)
