"""Every background job by name, and the scheduler's periodic ones.

A job body takes the worker's `JobContext`, its claimed `Run` and keyword arguments (JSON
values, as the broker carries them), and returns a JSON result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.faces.writer import pending_projects
from wikiloom.jobs.crawl import crawl_recent_changes
from wikiloom.jobs.export import export_campaign
from wikiloom.jobs.faces import crawl_faces, detect_faces, purge_encodings, write_depicts
from wikiloom.jobs.precache import precache_revisions
from wikiloom.jobs.rounds import retrain_campaign
from wikiloom.jobs.runs import Run, stale_runs
from wikiloom.jobs.training import extract_features, train_campaign
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.tasks import task_rev_ids
from wikiloom.learn.rounds import due_campaigns, labeled_task_counts

if TYPE_CHECKING:
    from celery import Celery

    from wikiloom.jobs.engine import JobContext


def _finish(context: JobContext, run: Run, result: Any) -> Any:
    with transaction(context.factory, write=True) as session:
        run.finish(session, result)
    return result


def extract_job(
    context: JobContext, run: Run, *, campaign_id: int, feature_set: str = "editquality"
) -> Any:
    """Extract a feature set for every revision of a campaign's tasks."""
    with transaction(context.factory) as session:
        wiki = get_campaign(session, campaign_id).wiki
        rev_ids = task_rev_ids(session, campaign_id)
    report = asyncio.run(
        extract_features(context.settings, context.factory, wiki, rev_ids, feature_set, run=run)
    )
    result = {
        "wiki": wiki,
        "stored": int(run.progress.get("stored", report.stored)),
        "already_stored": report.already_stored,
        "problems": len(report.problems),
    }
    return _finish(context, run, result)


def train_job(
    context: JobContext,
    run: Run,
    *,
    campaign_id: int,
    field: str,
    feature_set: str = "editquality",
    model: str | None = None,
    aggregation: str = "majority",
    version: str | None = None,
    actor: str | None = None,
) -> Any:
    """Train and register a model from a campaign's labels (one version per key)."""
    report = train_campaign(
        context.settings,
        context.factory,
        campaign_id,
        field,
        feature_set_name=feature_set,
        model_name=model,
        aggregation=aggregation,
        version=version,
        actor=actor,
        run=run,
    )
    return {"wiki": report.wiki, "model": report.model, "version": report.version}


def precache_job(
    context: JobContext,
    run: Run,
    *,
    wiki: str,
    rev_ids: list[int],
    models: list[str] | None = None,
) -> Any:
    """Score a batch of revisions into the cache."""
    result = asyncio.run(
        precache_revisions(context.settings, context.factory, wiki, rev_ids, models=models)
    )
    return _finish(context, run, result)


def export_job(
    context: JobContext,
    run: Run,
    *,
    campaign_id: int,
    format: str = "jsonl",
    pseudonymous: bool = True,
) -> Any:
    """Write a campaign's labels to a file."""
    return export_campaign(
        context.settings,
        context.factory,
        campaign_id,
        fmt=format,
        pseudonymous=pseudonymous,
        run=run,
    )


def crawl_job(
    context: JobContext,
    run: Run,
    *,
    campaign_id: int,
    limit: int = 500,
    namespaces: str | None = "0",
) -> Any:
    """Add a wiki's newest edits to a campaign."""
    return crawl_recent_changes(
        context.settings, context.factory, campaign_id, limit=limit, namespaces=namespaces, run=run
    )


def round_job(context: JobContext, run: Run, *, campaign_id: int) -> Any:
    """Run a campaign's next active-learning round."""
    report = retrain_campaign(context.settings, context.factory, campaign_id, run=run)
    return asdict(report)


def faces_crawl_job(context: JobContext, run: Run, *, project_id: int) -> Any:
    """Add the files of a face project's categories (each once)."""
    return crawl_faces(context.settings, context.factory, project_id, run=run)


def faces_detect_job(context: JobContext, run: Run, *, project_id: int, batch: int = 20) -> Any:
    """Detect and encode the faces of a project's pending images, then score them."""
    return detect_faces(context.settings, context.factory, project_id, batch=batch, run=run)


def faces_write_job(context: JobContext, run: Run, *, project_id: int) -> Any:
    """Write a project's queued depicts statements, each as the user who sent it."""
    return write_depicts(context.settings, context.factory, project_id, run=run)


JOBS: Mapping[str, Any] = {
    "extract_features": extract_job,
    "train": train_job,
    "precache": precache_job,
    "export": export_job,
    "crawl": crawl_job,
    "round": round_job,
    "faces_crawl": faces_crawl_job,
    "faces_detect": faces_detect_job,
    "faces_write": faces_write_job,
}


def recover_job(context: JobContext, app: Celery) -> list[str]:
    """Send again every run whose worker stopped checkpointing (a broker may not)."""
    from wikiloom.jobs.engine import enqueue

    with transaction(context.factory) as session:
        stale = stale_runs(session, context.settings.job_stale_after)
    for run in stale:
        enqueue(app, run.name, key=run.key, **run.arguments)
    return [run.key for run in stale]


def schedule_rounds_job(context: JobContext, app: Celery) -> list[str]:
    """Send a round for every campaign with enough new labels, keyed by its label count.

    The key makes a campaign whose round is still running (still due) one round, not two.
    """
    from wikiloom.jobs.engine import enqueue

    keys = []
    with transaction(context.factory) as session:
        due = labeled_task_counts(session, due_campaigns(session))
    for campaign_id, labeled in due.items():
        key = f"round:{campaign_id}:{labeled}"
        keys.append(enqueue(app, "round", key=key, campaign_id=campaign_id))
    return keys


def schedule_face_writes_job(context: JobContext, app: Celery) -> list[str]:
    """Send a `faces_write` job for every face project with depicts edits waiting.

    Keyed by the project's newest waiting edit: a write still running is one job, not two,
    and edits sent later get a job of their own.
    """
    from wikiloom.jobs.engine import enqueue

    with transaction(context.factory) as session:
        due = pending_projects(session)
    return [
        enqueue(app, "faces_write", key=f"faces_write:{project_id}:{newest}", project_id=project_id)
        for project_id, newest in due.items()
    ]


def faces_purge_job(context: JobContext, app: Celery) -> int:
    """Delete the face encodings older than their project's retention (biometric data)."""
    return purge_encodings(context.factory)


PERIODIC: Mapping[str, Any] = {
    "recover": recover_job,
    "schedule_rounds": schedule_rounds_job,
    "faces_purge": faces_purge_job,
    "schedule_face_writes": schedule_face_writes_job,
}
#: How often expired face encodings are deleted.
FACES_PURGE_INTERVAL = timedelta(days=1)


def schedule(settings: Settings) -> dict[str, Any]:
    """The scheduler's periodic jobs: stale runs sent again, active-learning rounds, face
    projects' waiting depicts edits written, and expired face encodings deleted."""
    return {
        "recover-stale-runs": {
            "task": "wikiloom.recover",
            "schedule": timedelta(seconds=settings.job_stale_after),
        },
        "active-learning-rounds": {
            "task": "wikiloom.schedule_rounds",
            "schedule": timedelta(seconds=settings.round_check_interval),
        },
        "face-edits-write": {
            "task": "wikiloom.schedule_face_writes",
            "schedule": timedelta(seconds=settings.face_write_check_interval),
        },
        "face-encodings-purge": {
            "task": "wikiloom.faces_purge",
            "schedule": FACES_PURGE_INTERVAL,
        },
    }
