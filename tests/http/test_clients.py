"""Real clients against a live server of the demo: the `ores` package and the `liftwing` package.

`make run`'s demo model answers for the demo revisions with no network: no User-Agent is
configured, so any attempt to ask a wiki would fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.http.test_app import free_port
from wikiloom.labels.demo import demo_rev_ids

AGENT = "wikiloom-tests/0.1 (https://example.org/wikiloom; tests@example.org)"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("demo")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WIKILOOM_")},
        "WIKILOOM_DATABASE_URL": f"sqlite:///{folder}/demo.db",
    }
    command = [sys.executable, "-m", "wikiloom"]
    for step in (["db", "upgrade"], ["demo"]):
        subprocess.run([*command, *step], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([*command, "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_ores_client_gets_every_demo_score(demo_server: str) -> None:
    from ores.api import Session

    rev_ids = sorted(demo_rev_ids())
    session = Session(demo_server, user_agent=AGENT, batch_size=50, parallel_requests=2)
    results = list(session.score("enwiki", ["reverted"], rev_ids))
    assert len(results) == len(rev_ids) == 500
    scored = [r["reverted"]["score"] for r in results if "score" in r["reverted"]]
    errors = [r["reverted"]["error"] for r in results if "error" in r["reverted"]]
    assert len(scored) == 499  # one demo revision has no features in the demo data
    assert [error["type"] for error in errors] == ["NotConfigured"]  # it would need a wiki
    assert all(set(score["probability"]) == {"true", "false"} for score in scored)
    assert 0 < sum(score["prediction"] for score in scored) < 100


def test_the_liftwing_client_gets_a_score(demo_server: str) -> None:
    from liftwing import RevscoringModel

    rev_id = min(demo_rev_ids())
    model = RevscoringModel("reverted", "enwiki", base_url=f"{demo_server}/v1/models")
    answer = model.request({"rev_id": rev_id, "extended_output": True})
    doc = answer["enwiki"]["scores"][str(rev_id)]["reverted"]
    assert set(doc["score"]["probability"]) == {"true", "false"}
    assert len(doc["features"]) == 9
    assert answer["enwiki"]["models"]["reverted"] == {"version": "1.0"}
