"""The vendored front-end files are the npm packages' own, at the versions package.json pins."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "src" / "wikiloom" / "http" / "static" / "vendor"
COPIES = {
    "codex.style-bidi.css": "@wikimedia/codex/dist/codex.style-bidi.css",
    "purify.es.mjs": "dompurify/dist/purify.es.mjs",
}


@pytest.mark.parametrize("name", sorted(COPIES))
def test_vendored_files_match_the_installed_packages(name: str) -> None:
    source = ROOT / "node_modules" / COPIES[name]
    if not source.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{source} is missing: make install-test runs npm ci")
        pytest.skip(f"{source} is missing: run make install-test")
    assert (VENDOR / name).read_bytes() == source.read_bytes(), "run scripts/vendor"


def test_installed_versions_are_the_pinned_ones() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    for package, version in pinned.items():
        manifest = ROOT / "node_modules" / package / "package.json"
        if manifest.exists():
            assert json.loads(manifest.read_text())["version"] == version, package
