"""The export job: a campaign's labels written to a file, whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import BadRequest
from wikiloom.jobs.runs import Run
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.export import FORMATS, export_labels, pseudonymizer


def export_campaign(
    settings: Settings,
    factory: sessionmaker[Session],
    campaign_id: int,
    *,
    fmt: str = "jsonl",
    pseudonymous: bool = True,
    name: str | None = None,
    run: Run | None = None,
) -> dict[str, Any]:
    """Write a campaign's labels under `export_dir`; return the file's path and line count.

    The file appears only when complete (written aside, then renamed), so that a reader
    never sees half an export and a job run twice writes the same file once.
    """
    if fmt not in FORMATS:
        raise BadRequest(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    if pseudonymous and not settings.secret_key:
        raise BadRequest("a pseudonymous export needs WIKILOOM_SECRET_KEY: set it first")
    pseudonym = pseudonymizer(settings.secret_key) if pseudonymous and settings.secret_key else None
    settings.export_dir.mkdir(parents=True, exist_ok=True)
    stem = name or f"campaign-{campaign_id}" + ("" if run is None else f"-{run.key[-12:]}")
    path = settings.export_dir / f"{stem.replace(':', '-')}.{fmt}"
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    lines = 0
    with transaction(factory) as session:
        form = load_catalog(settings.forms_dir).get(get_campaign(session, campaign_id).form)
        fields = list(form.fields) if form is not None else []
        with partial.open("w", encoding="utf-8") as out:
            for chunk in export_labels(session, campaign_id, fmt, fields, pseudonym):
                out.write(chunk)
                lines += chunk.count("\n")
    os.replace(partial, path)
    result = {"path": str(Path(path).resolve()), "lines": lines, "format": fmt}
    if run is not None:
        with transaction(factory, write=True) as session:
            run.finish(session, result)
    return result
