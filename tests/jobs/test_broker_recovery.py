"""A broker that goes away and comes back: enqueuing fails loudly meanwhile, then works
again through the same Celery app, with no restart (real Redis and RabbitMQ behind a proxy
that this test cuts and restores)."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.workers import reachable_broker
from wikiloom.config import Settings
from wikiloom.errors import ServiceUnavailable
from wikiloom.jobs.engine import create_celery, declare_queues, enqueue


class Proxy:
    """A TCP proxy on loopback to a real server; `cut()` drops every connection and refuses
    new ones until `restore()`."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.close()

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            for end in self.open:
                try:
                    end.shutdown(socket.SHUT_RDWR)
                    end.close()
                except OSError:
                    pass
            self.open.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@contextmanager
def proxied(port: int) -> Iterator[Proxy]:
    proxy = Proxy(port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_enqueuing_fails_loudly_while_the_broker_is_away_and_recovers(
    kind: str, tmp_path: Path
) -> None:
    real = urlsplit(reachable_broker(kind, tmp_path))  # skips (fails under CI) without it
    assert real.port is not None
    with proxied(real.port) as proxy:
        through = real._replace(netloc=real.netloc.replace(f":{real.port}", f":{proxy.port}"))
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=f"sqlite:///{tmp_path}/w.db",
            broker_url=urlunsplit(through),
            job_queue=f"wikiloom-test-recovery-{kind}",
        )
        app = create_celery(settings)
        assert enqueue(app, "export", key="before", campaign_id=1) == "before"
        proxy.cut()
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable, match="broker refused export"):
            enqueue(app, "export", key="during", campaign_id=1)
        assert time.monotonic() - started < 15
        proxy.restore()
        assert enqueue(app, "export", key="after", campaign_id=1) == "after"  # same app


def declare_in_a_new_process(folder: str, attempts: int, barrier: Any) -> str:
    """What a worker process does first, on a shared fresh broker file; its outcome."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{folder}/w.db",
        broker_url=f"sqla+sqlite:///{folder}/jobs.db",
        job_queue="wikiloom-test-declare",
    )
    app = create_celery(settings)
    barrier.wait()
    try:
        declare_queues(app, attempts=attempts)
    except Exception as error:  # the outcome is the assertion's business
        return type(error).__name__
    return "ok"


def test_workers_starting_at_once_on_a_fresh_sqlite_broker_all_declare_the_queue(
    tmp_path: Path,
) -> None:
    # Four processes at a barrier, like workers started together. Measured without the
    # retries (attempts=1): 16 of 40 died on kombu's unguarded insert of the queue's row.
    context = multiprocessing.get_context("spawn")
    outcomes: list[str] = []
    with context.Manager() as manager, context.Pool(4) as pool:
        for trial in range(6):
            folder = tmp_path / str(trial)
            folder.mkdir()
            barrier = manager.Barrier(4)
            outcomes += pool.starmap(declare_in_a_new_process, [(str(folder), 3, barrier)] * 4)
    assert outcomes == ["ok"] * 24
