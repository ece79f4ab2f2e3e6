"""Commands that run wikiloom: the schema, the demo, the server, and the token key."""

from __future__ import annotations

from typing import Annotated

import typer

from wikiloom.cli.common import app, database, errors, fail, known_forms
from wikiloom.config import Settings
from wikiloom.db import transaction

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Create or migrate the database schema to the latest version."""
    from wikiloom.migrations import upgrade

    upgrade(Settings().database_url, revision)
    typer.echo("database is up to date")


@app.command("demo")
def demo() -> None:
    """Load the demo campaigns and model (real enwiki data); running it twice changes nothing."""
    from wikiloom.labels.demo import demo_rev_ids, load_demo
    from wikiloom.learn.demo import load_demo_model

    with (
        errors(),
        database() as (settings, _, factory),
        transaction(factory, write=True) as session,
    ):
        created = load_demo(session, known_forms(settings))
        model = load_demo_model(session, demo_rev_ids())
        version = None if model is None else model.version
    typer.echo(f"{len(created)} demo campaigns created" if created else "demo data already loaded")
    if version is not None:
        typer.echo(f"demo model enwiki reverted {version} trained and activated")


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes, each with its own database pool.")
    ] = 1,
    with_jobs: Annotated[
        bool, typer.Option(help="Also run a job worker and the scheduler, stopped with it.")
    ] = False,
) -> None:
    """Serve the web interface and the APIs."""
    if with_jobs:
        from wikiloom.cli.jobs import job_processes

        with job_processes():
            serve(host=host, port=port, workers=workers, with_jobs=False)
        return
    import uvicorn

    from wikiloom.http import create_app

    settings = Settings()
    if workers > 1:
        from wikiloom.http.serving import serve_workers

        address = host or settings.host, port or settings.port
        serve_workers(
            *address, workers, log_level=settings.log_level, secret_key=settings.secret_key
        )
        return
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
    )


@app.command("precache")
def precache(
    poll: Annotated[
        list[str] | None,
        typer.Option(help="Poll this wiki's recent changes instead of reading EventStreams."),
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 10.0,
) -> None:
    """Score each new revision once with the models of WIKILOOM_PRECACHE (runs until stopped)."""
    import asyncio

    from wikiloom.jobs.precache import run_precache

    with errors(), database() as (settings, _, factory):
        if not settings.precache:
            raise fail(
                "nothing to precache: set WIKILOOM_PRECACHE, "
                'e.g. {"enwiki": {"damaging": ["edit"]}}'
            )
        counts = asyncio.run(run_precache(settings, factory, poll=poll or (), interval=interval))
    typer.echo(
        f"{counts.scored} revisions scored, {counts.skipped} skipped, {counts.failed} failed"
    )


@app.command("warmup")
def warmup(
    wiki: Annotated[list[str] | None, typer.Option(help="Only this wiki's models.")] = None,
) -> None:
    """Load every served model once (checking its file), and say how long each took."""
    import time

    from wikiloom.scoring.loaded import ModelPool

    with errors(), database() as (_, _, factory):
        pool = ModelPool(factory)
        for name in wiki or pool.wikis():
            for served in pool.served(name).values():
                started = time.perf_counter()
                pool.get(served)
                seconds = time.perf_counter() - started
                typer.echo(
                    f"{served.wiki} {served.name} {served.version}: loaded in {seconds:.3f} s"
                )


keys_app = typer.Typer(help="Keys: the OAuth token key.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("token")
def keys_token() -> None:
    """Print a new Fernet key for WIKILOOM_TOKEN_KEY (put it first to rotate keys)."""
    from wikiloom.faces.credentials import new_token_key

    typer.echo(new_token_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Encrypt every kept OAuth token again with the first key of WIKILOOM_TOKEN_KEY."""
    from wikiloom.faces.credentials import rotate_tokens, token_cipher

    with (
        errors(),
        database() as (settings, _, factory),
        transaction(factory, write=True) as session,
    ):
        rotated, unreadable = rotate_tokens(session, token_cipher(settings))
    typer.echo(f"{rotated} credentials encrypted with the first key")
    if unreadable:
        users = ", ".join(map(str, unreadable))
        message = f"{len(unreadable)} credentials no key decrypts (users {users}): "
        typer.echo(message + "they must log in again", err=True)
