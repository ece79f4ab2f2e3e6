"""Commands of the job engine: the worker, the scheduler, and sending or inspecting jobs."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import orjson
import typer

from wikiloom.cli.common import app, database, errors, fail, pairs
from wikiloom.config import Settings
from wikiloom.db import transaction

jobs_app = typer.Typer(
    help="Background jobs: send one, list and show their runs.", no_args_is_help=True
)
app.add_typer(jobs_app, name="jobs")


@contextmanager
def job_processes(concurrency: int = 1) -> Iterator[None]:
    """Run a worker and the scheduler beside this process; stop them when it ends.

    uvicorn re-raises the SIGTERM it caught once it has shut down, to the handler that was
    there before it: this one, which unwinds through `finally` instead of dying at once.
    """

    def unwind(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, unwind)
    command = [sys.executable, "-m", "wikiloom"]
    processes = [
        subprocess.Popen([*command, "worker", f"--concurrency={concurrency}"]),
        subprocess.Popen([*command, "scheduler"]),
    ]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        signal.signal(signal.SIGTERM, previous)


@app.command("worker")
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Job processes of this worker.")] = 2,
    hostname: Annotated[str | None, typer.Option(help="Node name, e.g. `w1@%h`.")] = None,
    loglevel: Annotated[
        str | None, typer.Option(help="Log level (default: WIKILOOM_LOG_LEVEL).")
    ] = None,
) -> None:
    """Run background jobs from the broker (WIKILOOM_BROKER_URL) until stopped."""
    from wikiloom.jobs.engine import create_celery, declare_queues

    settings = Settings()
    app_ = create_celery(settings)
    declare_queues(app_)
    argv = [
        "worker",
        f"--concurrency={concurrency}",
        f"--loglevel={(loglevel or settings.log_level).upper()}",
        "--without-gossip",
        "--without-mingle",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    app_.worker_main(argv)


@app.command("scheduler")
def scheduler(
    schedule_file: Annotated[
        str, typer.Option(help="Where the scheduler remembers the last run of each entry.")
    ] = "wikiloom-schedule",
) -> None:
    """Send the periodic jobs (active-learning rounds) on time, until stopped."""
    from wikiloom.jobs.engine import create_celery

    settings = Settings()
    create_celery(settings).start(
        ["beat", f"--schedule={schedule_file}", f"--loglevel={settings.log_level.upper()}"]
    )


@jobs_app.command("send")
def send(
    name: Annotated[
        str,
        typer.Argument(
            help="Job: extract_features, train, precache, export, crawl, round, faces_crawl, "
            "faces_detect, faces_write."
        ),
    ],
    argument: Annotated[
        list[str] | None, typer.Argument(help="Job arguments as name=value (JSON values).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key (default: from the arguments).")
    ] = None,
) -> None:
    """Send a job to the workers; the same key twice has one effect."""
    from wikiloom.jobs.catalog import JOBS
    from wikiloom.jobs.engine import create_celery, enqueue

    if name not in JOBS:
        raise fail(f"unknown job {name!r}; one of {', '.join(JOBS)}")
    with errors():
        sent = enqueue(
            create_celery(Settings()), name, key=key, **pairs(argument or [], "argument")
        )
    typer.echo(sent)


@jobs_app.command("list")
def list_runs(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    name: Annotated[str | None, typer.Option(help="Only runs of this job.")] = None,
) -> None:
    """List the most recent job runs: key, status, attempts, worker."""
    from wikiloom.jobs.runs import recent_runs

    with errors(), database() as (_, _, factory), transaction(factory) as session:
        for run in recent_runs(session, limit, name):
            started = f"{run.started:%Y-%m-%d %H:%M:%S}"
            typer.echo(f"{run.key}\t{run.status}\t{run.attempts}\t{run.worker}\t{started}")


@jobs_app.command("show")
def show(key: Annotated[str, typer.Argument(help="The run's idempotency key.")]) -> None:
    """Show one job run as JSON: arguments, progress, result or error."""
    from wikiloom.jobs.runs import get_run

    with errors(), database() as (_, _, factory), transaction(factory) as session:
        run = get_run(session, key)
        record = {
            "key": run.key,
            "name": run.name,
            "arguments": run.arguments,
            "status": run.status,
            "attempts": run.attempts,
            "worker": run.worker,
            "started": run.started.isoformat(),
            "finished": None if run.finished is None else run.finished.isoformat(),
            "progress": run.progress,
            "result": run.result,
            "error": run.error,
        }
    typer.echo(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode())
