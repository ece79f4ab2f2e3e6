"""A real wikiloom server for the HTTP benchmarks: uvicorn in a subprocess on loopback.

The server runs `python -m wikiloom serve --workers N` (uvicorn; with several workers, its
supervisor over a socket bound by wikiloom) with `WIKILOOM_*` variables, so that its memory
and CPU are its own and can be read from /proc. Log level `warning`: no access log lines.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

#: A fixed signing key: every worker of a multi-worker server must accept every cookie.
SECRET_KEY = "wikiloom-bench-not-secret"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status(pid: int) -> dict[str, str]:
    fields = {}
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    return fields


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


@dataclass
class Server:
    """A running server: its URL and its processes."""

    process: subprocess.Popen[bytes]
    base_url: str
    workers: int
    log: IO[bytes]

    def pids(self) -> list[int]:
        """The processes that answer requests (the workers, or the one server process)."""
        if self.workers == 1:
            return [self.process.pid]
        return _children(self.process.pid)

    def memory_kib(self, key: str = "VmHWM") -> int:
        """Sum of a /proc/<pid>/status memory figure (VmHWM: peak RSS) over the workers."""
        total = 0
        for pid in self.pids():
            value = _status(pid).get(key, "0 kB")
            total += int(value.split()[0])
        return total

    def reset_peak(self) -> bool:
        """Reset the workers' peak RSS to their current RSS (clear_refs 5); False if refused."""
        try:
            for pid in self.pids():
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the server process and its workers so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in {self.process.pid, *self.pids()}:
            with suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                total += sum(int(v) for v in stat[stat.rindex(")") + 2 :].split()[11:13])
        return total / ticks

    def stderr(self) -> str:
        """What the server wrote so far (its log)."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextmanager
def serve(
    database_url: str, *, workers: int = 1, log_level: str = "warning", **settings: str
) -> Iterator[Server]:
    """Start a server on a free loopback port, wait until it answers, stop it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "WIKILOOM_DATABASE_URL": database_url,
        "WIKILOOM_DEV_LOGIN": "1",
        "WIKILOOM_SECRET_KEY": SECRET_KEY,
        "WIKILOOM_LOG_LEVEL": log_level,
        **{f"WIKILOOM_{name.upper()}": value for name, value in settings.items()},
    }
    command = [
        sys.executable, "-m", "wikiloom", "serve", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = Server(process, f"http://127.0.0.1:{port}", workers, log)
        try:
            _wait_until_up(server, workers)
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(server: Server, workers: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.stderr()[-2000:]}")
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200 and (
                workers == 1 or len(server.pids()) == workers
            ):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer in {timeout} s:\n{server.stderr()[-2000:]}")


def dev_login(client: httpx.Client, user_id: int) -> None:
    """Log `client` in as `user_id` through the development login."""
    answer = client.post("/auth/dev_login/", data={"user_id": user_id, "username": f"U{user_id}"})
    answer.raise_for_status()
