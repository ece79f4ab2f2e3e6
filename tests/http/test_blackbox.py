"""Black-box: `wikiloom serve` in a subprocess on loopback, driven only over HTTP with httpx.

One server per database tier. Everything a gadget, an organizer and a label fetcher do goes
through its sockets: the test never opens the database.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import orjson
import pytest

from tests.http.test_app import free_port
from wikiloom.config import Settings

GADGET = "https://en.wikipedia.org"
LABEL = {"damaging": False, "goodfaith": True, "unsure": False}
CAMPAIGN_KEYS = {
    "id", "name", "wiki", "form", "view", "created", "labels_per_task",
    "tasks_per_assignment", "active", "info_url",
}  # fmt: skip
WORKSET_KEYS = {"id", "campaign_id", "user_id", "created", "expires"}


@dataclass
class Server:
    """The server process, its base URL and its log."""

    process: subprocess.Popen[bytes]
    url: str
    log: IO[bytes]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, user: int | None = None, name: str | None = None) -> httpx.Client:
        """A client with its own cookie jar, logged in as `user` through the dev login."""
        client = httpx.Client(base_url=self.url, timeout=30)
        self.clients.append(client)
        if user is not None:
            login = {"user_id": user, "username": name or f"User{user}"}
            answer = client.post("/auth/dev_login/", data=login)
            assert answer.status_code == 200, answer.text
        return client

    def output(self) -> str:
        """What the server logged so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextmanager
def serving(database_url: str, *options: str, **variables: str) -> Iterator[Server]:
    """`python -m wikiloom serve` on a free loopback port until the block ends."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "WIKILOOM_SECRET_KEY"},
        "WIKILOOM_DATABASE_URL": database_url,
        "WIKILOOM_DEV_LOGIN": "1",
        "WIKILOOM_ADMINS": '["Boss"]',
        "WIKILOOM_LOG_LEVEL": "info",
        **variables,
    }
    command = [sys.executable, "-m", "wikiloom", "serve", "--host", "127.0.0.1", *options]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        running = Server(process, f"http://127.0.0.1:{port}", log)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, running.output()
                assert time.monotonic() < deadline, running.output()
                try:
                    if httpx.get(f"{running.url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            yield running
        finally:
            for client in running.clients:
                client.close()
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    """The server over the tier's migrated, empty database."""
    with serving(settings.database_url, WIKILOOM_SECRET_KEY="black-box-test-key") as running:
        yield running


def stop(server: Server) -> None:
    """SIGTERM (what a service manager sends) must end the server cleanly and at once."""
    for client in server.clients:
        client.close()
    # uvicorn finishes the lifespan, then re-raises the signal, as a well-behaved process does.
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM), server.output()
    log = server.output()
    assert "Application shutdown complete" in log
    assert "Finished server process" in log
    assert "Traceback" not in log


def error_of(answer: httpx.Response, status: int) -> dict[str, str]:
    """The Wiki labels error envelope of an answer that must have `status`."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    error: dict[str, str] = body["error"]
    return error


def organize(server: Server) -> str:
    """An admin creates a campaign of 4 tasks over HTTP; its base path."""
    boss = server.client(1, "Boss")
    new = {
        "name": "Black box",
        "form": "damaging_and_goodfaith",
        "view": "DiffToPrevious",
        "labels_per_task": "2",
        "tasks_per_assignment": "2",
    }
    created = boss.post("/campaigns/enwiki/", data=new)
    assert created.status_code == 200, created.text
    campaign = created.json()["campaign"]
    base = f"/campaigns/enwiki/{campaign['id']}/"
    lines = b"".join(b'{"rev_id": %d}\n' % rev for rev in (101, 102, 103, 104))
    assert boss.post(f"{base}tasks/", content=lines).json() == {"inserted": 4}
    listed = server.client().get("/campaigns/enwiki/").json()["campaigns"]
    assert [c["id"] for c in listed] == [campaign["id"]]
    assert set(listed[0]) == CAMPAIGN_KEYS
    return base


def label_skip_and_refuse(server: Server, base: str) -> tuple[int, int]:
    """Alice labels a task, sends bad labels and skips one; Bob is refused hers, abandons
    his own. Alice's (labeled, skipped) task ids."""
    alice, bob = server.client(11, "Alice"), server.client(12, "Bob")
    assert alice.get("/auth/whoami/").json() == {"user": {"id": 11}}
    assigned = alice.post(base, data={"tasks": "", "workset": "stats"})
    assert assigned.status_code == 200, assigned.text
    held = assigned.json()
    assert set(held["workset"]) == WORKSET_KEYS | {"stats"}
    assert held["workset"]["stats"] == {"tasks": 2, "labeled": 0}
    workset = held["workset"]["id"]
    first, second = (task["id"] for task in held["tasks"])
    label = {"label": orjson.dumps(LABEL).decode()}
    saved = alice.post(f"{base}{workset}/{first}/", data=label)
    assert saved.status_code == 200, saved.text
    assert saved.json()["label"]["data"] == LABEL
    assert set(saved.json()["label"]) == {"task_id", "user_id", "timestamp", "data"}
    broken = error_of(alice.post(f"{base}{workset}/{second}/", data={"label": "{not json"}), 400)
    assert broken["code"] == "bad request"
    assert '"label" is not valid JSON' in broken["message"]
    wrong = alice.put(f"{base}{workset}/{second}/", data={"label": '{"damaging": "maybe"}'})
    assert error_of(wrong, 400)["code"] == "bad request"
    skipped = alice.delete(f"{base}{workset}/{second}/")
    assert skipped.status_code == 200, skipped.text
    assert set(skipped.json()["workset"]) == WORKSET_KEYS

    assert error_of(bob.post(f"{base}{workset}/{first}/", data=label), 403)["code"] == "forbidden"
    refused = error_of(bob.delete(f"{base}{workset}/"), 403)["message"]
    assert refused == f"workset_id={workset} is owned by user_id=11, but your user_id is 12"
    mine = bob.post(base)
    assert mine.status_code == 200, mine.text
    assert bob.delete(f"{base}{mine.json()['workset']['id']}/").json() == {"success": True}
    anonymous = server.client().post(base)
    assert error_of(anonymous, 403)["message"] == "This request requires authentication."
    return first, second


def redirects_jsonp_and_cors(server: Server, base: str) -> None:
    """Slash-less paths redirect; JSONP wraps answers, and errors with their status inside;
    CORS for gadgets only."""
    anonymous = server.client()
    moved = anonymous.get(f"{base.rstrip('/')}?campaign=stats")
    assert moved.status_code in (307, 308)
    assert moved.headers["location"].endswith(f"{base}?campaign=stats")
    followed = anonymous.get(f"{base.rstrip('/')}?campaign=stats", follow_redirects=True)
    assert followed.json()["campaign"]["stats"]["labels"] == 1

    jsonp = anonymous.get(base, params={"callback": "cb"})
    assert jsonp.headers["content-type"].startswith("application/javascript")
    assert jsonp.text.startswith("cb(")
    assert jsonp.text.endswith(");")
    assert orjson.loads(jsonp.text[3:-2]) == anonymous.get(base).json()
    missing = anonymous.get("/campaigns/enwiki/999999/", params={"callback": "cb"})
    assert missing.status_code == 200
    assert orjson.loads(missing.text[3:-2])["http_status"] == 404

    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    preflight = anonymous.options(base, headers={"Origin": GADGET, **ask})
    assert preflight.status_code == 200, preflight.text
    assert preflight.headers["access-control-allow-origin"] == GADGET
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    evil = anonymous.options(base, headers={"Origin": "https://evil.example", **ask})
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    gadget = server.client(13, "Gadget user").post(base, headers={"Origin": GADGET})
    assert gadget.status_code == 200, gadget.text
    assert gadget.headers["access-control-allow-origin"] == GADGET
    assert gadget.headers["access-control-allow-credentials"] == "true"
    forged = server.client(14, "Victim").post(base, headers={"Origin": "https://evil.example"})
    assert "Cross-site request refused" in error_of(forged, 403)["message"]


def reports(server: Server, base: str, labeled: int, skipped: int) -> None:
    """Every task with its labels (streamed), the exports and the statistics."""
    anonymous = server.client()
    everything = anonymous.get(base, params={"tasks": ""})
    assert "content-length" not in everything.headers
    tasks = {task["id"]: task for task in everything.json()["tasks"]}
    assert len(tasks) == 4
    assert [label["data"] for label in tasks[labeled]["labels"]] == [LABEL]
    assert tasks[skipped]["labels"] == []
    exported = anonymous.get(f"{base}export/")
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    records = [orjson.loads(line) for line in exported.text.splitlines()]
    assert [(r["task_id"], r["user_id"], r["label"]) for r in records] == [(labeled, 11, LABEL)]
    table = anonymous.get(f"{base}export/", params={"format": "csv", "pseudonymous": ""})
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 1
    assert rows[0]["user_id"] not in ("", "11")
    stats = anonymous.get(f"{base}statistics/")
    assert stats.status_code == 200, stats.text
    assert stats.json()["statistics"]["progress"]["labels"] == 1


def test_a_real_server_serves_the_wiki_labels_api(server: Server) -> None:
    assert server.client().get("/campaigns/").json()["wikis"] == []
    base = organize(server)
    assert server.client().get("/campaigns/").json()["wikis"] == ["enwiki"]
    labeled, skipped = label_skip_and_refuse(server, base)
    redirects_jsonp_and_cors(server, base)
    reports(server, base, labeled, skipped)
    stop(server)


def test_several_workers_share_sessions_and_stop_cleanly(tmp_path: Path) -> None:
    """`serve --workers 2` without a configured key: a cookie from one worker works on both."""
    url = f"sqlite:///{tmp_path}/workers.db"
    env = {**os.environ, "WIKILOOM_DATABASE_URL": url}
    migrate = [sys.executable, "-m", "wikiloom", "db", "upgrade"]
    subprocess.run(migrate, env=env, check=True, capture_output=True)
    with serving(url, "--workers", "2") as server:
        deadline = time.monotonic() + 30
        while server.output().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        cookies = server.client(7, "Seven").cookies
        answers = []
        for _ in range(8):  # new connections: the kernel spreads them over the workers
            with httpx.Client(base_url=server.url, cookies=cookies) as fresh:
                answers.append(fresh.get("/auth/whoami/"))
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"user": {"id": 7}})] * 8
        stop(server)
