"""Serving with several worker processes: uvicorn's supervisor over a socket bound here."""

from __future__ import annotations

import os
import secrets
import socket

from uvicorn import Config
from uvicorn.supervisors import Multiprocess


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port`, inheritable, whose connections get TCP_NODELAY.

    uvicorn binds its multi-worker socket with the protocol left at 0, and asyncio sets
    TCP_NODELAY only on connections of a socket that names IPPROTO_TCP: Nagle's algorithm
    then held every keep-alive response for the client's delayed ACK, about 40 ms
    (uvicorn issue #3149). This socket names it.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve_workers(
    host: str, port: int, workers: int, *, log_level: str, secret_key: str | None
) -> None:
    """Run `workers` processes of `wikiloom.asgi:app` on one socket until told to stop.

    Each worker reads its settings from the environment (or `.env`): the address goes
    there, and so does the secret key, made now when none is configured, so that every
    worker accepts the session cookies the others signed (those end with the server).
    """
    os.environ["WIKILOOM_HOST"] = host
    os.environ["WIKILOOM_PORT"] = str(port)
    os.environ["WIKILOOM_SECRET_KEY"] = secret_key or secrets.token_urlsafe(32)
    config = Config("wikiloom.asgi:app", host=host, port=port, workers=workers, log_level=log_level)
    Multiprocess(config, sockets=[listening_socket(host, port)]).run()
