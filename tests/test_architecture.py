"""The architecture of DESIGN.md, made checkable: who may import whom, who commits."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "wikiloom"

#: context -> contexts of ours it must never import (DESIGN.md, "Architecture").
FORBIDDEN = {
    "wiki": {"labels", "learn", "scoring", "faces", "jobs", "http"},
    "labels": {"learn", "scoring", "http", "faces", "jobs", "wiki"},
    "learn": {"scoring", "http", "faces", "jobs"},
    "scoring": {"http", "faces", "jobs"},
    "faces": {"http", "jobs"},
    "jobs": {"http"},
}
WEB_ONLY = {"fastapi", "starlette", "uvicorn", "typer"}
DOMAIN = set(FORBIDDEN) - {"jobs"}


def imports(path: Path) -> set[str]:
    """Every module a file imports, as dotted names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def context(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_context_map(path: Path) -> None:
    owner = context(path)
    names = imports(path)
    ours = {n.split(".")[1] for n in names if n.startswith("wikiloom.") and n.count(".") >= 1}
    if owner in FORBIDDEN:
        assert ours & FORBIDDEN[owner] == set(), f"{owner} imports {ours & FORBIDDEN[owner]}"
    web = {n.split(".")[0] for n in names} & WEB_ONLY
    if owner not in ("http", "cli") and path.name != "asgi.py":
        assert web == set(), f"{path.name} imports {web}: only wikiloom.http (and the CLI) may"


@pytest.mark.parametrize(
    "path",
    [p for p in modules() if context(p) in DOMAIN],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_domain_services_never_commit(path: Path) -> None:
    calls = [
        node
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]
    assert calls == [], f"{path.name} commits: the request or the job owns the transaction"


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checker itself works: a fastapi import in a domain module is seen."""
    bad = tmp_path / "bad.py"
    bad.write_text("from fastapi import APIRouter\nimport wikiloom.http.app\n")
    assert {"fastapi", "wikiloom.http.app"} <= imports(bad)
