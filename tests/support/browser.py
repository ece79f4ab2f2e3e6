"""The browser tier: Debian's Chromium driven by Python Playwright, and a live server.

`browser` is one headless Chromium per test module (`/usr/bin/chromium`; Playwright's own
download cannot run here). `live_server(settings)` serves `create_app(settings)` with uvicorn
on a free loopback port in a thread of the test process, so that a test can read the database
it writes. Screenshots go to `tests/artifacts/` (kept by CI as artifacts, ignored by git).
Tests that use `browser` are marked `browser`; where Chromium or Playwright is missing they
skip (run `scripts/install-system` and `make install-test`), and with CI=true they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from wikiloom.config import Settings
from wikiloom.http import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def unavailable(reason: str) -> None:
    """Skip the browser tier, or fail when CI demands every tier."""
    message = f"browser tier unavailable ({reason})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Not per session: Playwright's sync API keeps an event loop running in the main thread
    while it lives, and the asynchronous tests of later modules need to start their own.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: make install-test")
    if not shutil.which(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing: scripts/install-system installs Debian's chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    """A running server: its URL and settings."""

    url: str
    settings: Settings


@contextmanager
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """Serve `create_app(settings)` on a free loopback port until the block ends."""
    port = free_port()
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": port})
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(10)


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """axe-core's violations of `impacts` on the page (the context must bypass CSP)."""
    if not AXE.exists():
        unavailable(f"{AXE} is missing: make install-test runs npm ci")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in impacts]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives the browser."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
