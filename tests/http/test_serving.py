"""The multi-worker socket: its connections must not wait on Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket

import pytest

from wikiloom.http.serving import listening_socket


@pytest.mark.anyio
async def test_connections_of_the_workers_socket_get_tcp_nodelay() -> None:
    sock = listening_socket("127.0.0.1", 0)
    assert sock.proto == socket.IPPROTO_TCP
    assert sock.get_inheritable()
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("socket")
        accepted.set_result(peer.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(accepted, 10) != 0
        writer.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
