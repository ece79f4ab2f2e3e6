"""`wikiloom serve --with-jobs` (what `make run` starts): a worker and the scheduler beside the
server, all three stopped by one SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.mediawiki import free_port
from wikiloom.migrations import upgrade

pytestmark = pytest.mark.slow


def children(pid: int) -> list[int]:
    """The live child processes of a process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_serve_with_jobs_runs_a_worker_and_the_scheduler_and_stops_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    upgrade(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIKILOOM_")}
    env["WIKILOOM_DATABASE_URL"] = url
    command = [sys.executable, "-m", "wikiloom", "serve", f"--port={port}", "--with-jobs"]
    server = subprocess.Popen(command, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ui/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        helpers = children(server.pid)
        assert len(helpers) == 2  # the worker and the scheduler
        assert (tmp_path / "wikiloom-jobs.db").exists()  # the embedded broker, beside the db
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        # The server stopped them and waited for them before it ended itself.
        assert [pid for pid in helpers if Path(f"/proc/{pid}").exists()] == []
    finally:
        if server.poll() is None:
            server.kill()
