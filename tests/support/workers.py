"""Real `wikiloom worker` processes on a real broker (Redis, RabbitMQ or the SQLite file).

A worker runs in its own process group, so that a test can `kill -9` it whole, the way a
machine loses a worker: no shutdown handler runs, nothing is acknowledged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import SecretStr

from wikiloom.config import Settings

BROKERS = {
    "redis": os.environ.get("WIKILOOM_TEST_REDIS_BROKER_URL", "redis://127.0.0.1:6379/13"),
    "rabbitmq": os.environ.get(
        "WIKILOOM_TEST_AMQP_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"
    ),
}


def reachable_broker(kind: str, tmp_path: Path) -> str:
    """The URL of a broker of this kind that answers, or skip (fail under CI=true)."""
    if kind == "sqlite":
        return f"sqla+sqlite:///{tmp_path / 'jobs.db'}"
    from kombu import Connection

    url = BROKERS[kind]
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # any transport error means "not reachable"
        reason = f"{kind} broker tier unavailable at {url} ({type(error).__name__}: {error})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the {reason}", pytrace=False)
        pytest.skip(reason)
    return url


def job_settings(base: Settings, broker: str, **changes: object) -> Settings:
    """Settings of a test's job engine: its own queue on the broker, short timeouts."""
    queue = f"wikiloom-test-{uuid.uuid4().hex[:10]}"
    return base.model_copy(update={"broker_url": broker, "job_queue": queue, **changes})


def environment(settings: Settings) -> dict[str, str]:
    """The settings as the `WIKILOOM_*` variables a worker process reads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIKILOOM_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        secret = getattr(settings, name)
        if isinstance(secret, SecretStr):  # dumped as "**********"
            text = secret.get_secret_value()
        else:
            text = value if isinstance(value, str) else json.dumps(value)
        env[f"WIKILOOM_{name.upper()}"] = text
    return env


@dataclass
class Worker:
    """One `wikiloom worker` process (and its pool children)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def holds(self, pid: int) -> bool:
        """Tell whether a process (a pool child) belongs to this worker."""
        try:
            return os.getpgid(pid) == self.process.pid
        except ProcessLookupError:
            return False

    def kill(self) -> None:
        """SIGKILL the worker and its children at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """End the worker and its children (if they still run)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def spawn_worker(settings: Settings, name: str, directory: Path, *, concurrency: int = 1) -> Worker:
    """Start a worker process (not waiting for it)."""
    log = directory / f"{name}.log"
    command = [
        sys.executable, "-m", "wikiloom",
        "worker", f"--concurrency={concurrency}", f"--hostname={name}@%h",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=environment(settings),
            cwd=directory,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Worker(name, process, log)


def wait_until_ready(worker: Worker, timeout: float = 60) -> None:
    """Wait until the worker consumes from the broker."""
    deadline = time.monotonic() + timeout
    while b" ready." not in worker.log.read_bytes():
        if worker.process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise AssertionError(
                f"worker {worker.name} did not start:\n{worker.log.read_text()[-3000:]}"
            )
        time.sleep(0.1)


@dataclass
class Workers:
    """The workers a test started; all stopped at its end."""

    settings: Settings
    directory: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, *names: str, concurrency: int = 1) -> list[Worker]:
        """Start workers side by side and wait until each consumes."""
        new = [
            spawn_worker(self.settings, n, self.directory, concurrency=concurrency) for n in names
        ]
        self.started += new
        for worker in new:
            wait_until_ready(worker)
        return new

    def start_scheduler(self) -> Worker:
        """Start `wikiloom scheduler` (its beats go to these workers)."""
        log = self.directory / "scheduler.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "wikiloom", "scheduler", "--schedule-file=beat"],
                env=environment(self.settings),
                cwd=self.directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        scheduler = Worker("scheduler", process, log)
        self.started.append(scheduler)
        return scheduler

    def logs(self) -> Mapping[str, str]:
        """Every worker's log, for a failing assertion's message."""
        return {worker.name: worker.log.read_text()[-4000:] for worker in self.started}


@contextmanager
def workers_of(settings: Settings, directory: Path) -> Iterator[Workers]:
    """A `Workers` of these settings; every worker it started is stopped at the end."""
    workers = Workers(settings, directory)
    try:
        yield workers
    finally:
        for worker in workers.started:
            worker.stop()
