"""Jobs of the faces context: crawl a project's categories, detect its faces, write depicts.

Each job owns its transactions and never holds one while a wiki is asked. Every request
batch to the project's wiki first takes the wiki's politeness slot (`wait_for_turn`,
shared by every worker); detection commits each batch of images with the run's checkpoint,
and the writer commits each edit with it, so a killed job resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.errors import WikiError, WikiUnavailable
from wikiloom.faces.downloads import DownloadPolicy
from wikiloom.faces.pipeline import Detection, crawl_project, detect_pending
from wikiloom.faces.pool import FacePool
from wikiloom.faces.privacy import purge_expired
from wikiloom.faces.projects import get_project
from wikiloom.faces.scores import rescore
from wikiloom.faces.writer import ClientFor, Written, write_edits
from wikiloom.jobs.politeness import wait_for_turn
from wikiloom.jobs.runs import Run
from wikiloom.jobs.training import wiki_client
from wikiloom.wiki.client import WikiClient

#: Edits one writing pass takes before it looks again (a job runs passes until none is left).
WRITE_PASS = 100


def _turn(
    settings: Settings, factory: sessionmaker[Session], wiki: str
) -> Callable[[], Awaitable[None]]:
    """The politeness gate of a wiki, as the services await it."""

    async def turn() -> None:
        await asyncio.to_thread(wait_for_turn, factory, wiki, settings.wiki_job_interval)

    return turn


def _wiki_of(factory: sessionmaker[Session], project_id: int) -> str:
    with transaction(factory) as session:
        return get_project(session, project_id).wiki


def crawl_faces(
    settings: Settings,
    factory: sessionmaker[Session],
    project_id: int,
    *,
    client: WikiClient | None = None,
    run: Run | None = None,
) -> dict[str, Any]:
    """Add the files of a project's categories (and those already depicting its item).

    A crawl delivered twice adds each file once (a file is one row per project and page).
    """
    wiki = _wiki_of(factory, project_id)
    own = client is None
    used = client or wiki_client(settings)

    async def crawl() -> dict[str, Any]:
        try:
            found = await crawl_project(
                factory, used, project_id, turn=_turn(settings, factory, wiki)
            )
        finally:
            if own:
                await used.aclose()
        return {"project_id": project_id, "wiki": wiki, **asdict(found)}

    result = asyncio.run(crawl())
    if run is not None:
        with transaction(factory, write=True) as session:
            run.finish(session, result)
    return result


def download_policy(settings: Settings) -> DownloadPolicy:
    """Where face images may come from, and how large they may be, as the settings say."""
    return DownloadPolicy.of(settings.face_image_hosts, settings.face_max_bytes)


def _json(value: Any) -> Any:
    """A threshold summary as plain JSON values (numpy scalars become floats, ints, bools)."""
    if isinstance(value, dict):
        return {str(key): _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    item = getattr(value, "item", None)
    return _json(item()) if callable(item) else str(value)


@contextmanager
def _children_allowed() -> Iterator[None]:
    """Let this process start the face pool's processes, even as a Celery pool child.

    Celery's prefork children are billiard processes, which `multiprocessing` sees as
    daemonic (it refuses them children, so that none outlives them) and whose authentication
    key it cannot pass to a spawned child. The face pool's processes are closed with the
    job, and die with a killed worker's process group: for the job's time, the process is
    described to `multiprocessing` in its own terms, then restored.
    """
    config = getattr(multiprocessing.current_process(), "_config", None)
    if not isinstance(config, dict):
        yield
        return
    saved = dict(config)
    config["daemon"] = False
    if "authkey" in config:
        plain = getattr(multiprocessing.process, "AuthenticationString", bytes)
        config["authkey"] = plain(bytes(config["authkey"]))
    try:
        yield
    finally:
        config.clear()
        config.update(saved)


def detect_faces(
    settings: Settings,
    factory: sessionmaker[Session],
    project_id: int,
    *,
    batch: int = 20,
    run: Run | None = None,
    pool: FacePool | None = None,
) -> dict[str, Any]:
    """Detect and encode the faces of a project's pending images, then score them again.

    Batch by batch: the downloads take the wiki's politeness slot, the detection runs in
    the face pool (`face_processes` processes, unless a pool is given), and the batch's
    images and faces are committed with the run's checkpoint. A new attempt of a killed run
    finds the committed images detected and takes only the pending ones; its counts add to
    the checkpoint's. The re-scoring is committed with the run's end.
    """
    wiki = _wiki_of(factory, project_id)
    progress = dict(run.progress) if run is not None else {}
    before = {key: int(progress.get(key, 0)) for key in ("detected", "failed", "faces")}

    def committed(session: Session, totals: Detection) -> None:
        if run is not None:
            done = {key: before[key] + value for key, value in asdict(totals).items()}
            run.checkpoint(session, {**progress, **done})

    async def detect(faces: FacePool) -> Detection:
        headers = {"User-Agent": settings.user_agent or ""}
        async with httpx.AsyncClient(headers=headers, timeout=settings.wiki_timeout) as http:
            return await detect_pending(
                factory,
                faces,
                http,
                download_policy(settings),
                project_id,
                batch=batch,
                turn=_turn(settings, factory, wiki),
                committed=committed,
            )

    if pool is not None:
        found = asyncio.run(detect(pool))
    else:
        with _children_allowed(), FacePool(settings.face_processes) as own:
            found = asyncio.run(detect(own))
    totals = {key: before[key] + value for key, value in asdict(found).items()}
    with transaction(factory, write=True) as session:
        threshold = rescore(session, project_id)
        result = {"project_id": project_id, **totals, "threshold": _json(threshold)}
        if run is not None:
            run.finish(session, result)
    return result


class UserClients:
    """Wiki clients acting as users: OAuth 2.0 bearer tokens from the `TokenKeeper`.

    One client per user, made again when the keeper answers a new (refreshed) token;
    `aclose` closes them all.
    """

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        from wikiloom.faces.credentials import TokenKeeper

        self.settings = settings
        self.keeper = TokenKeeper.from_settings(settings, factory)
        self.clients: dict[int, tuple[str, WikiClient]] = {}

    async def __call__(self, user_id: int) -> WikiClient:
        token = await self.keeper.access_token(user_id)
        held = self.clients.get(user_id)
        if held is not None and held[0] == token:
            return held[1]
        if held is not None:
            await held[1].aclose()
        client = WikiClient(
            self.settings.user_agent,
            custom_wikis=self.settings.wikis,
            timeout=self.settings.wiki_timeout,
            maxlag=5,
            bearer_token=token,
        )
        self.clients[user_id] = (token, client)
        return client

    async def aclose(self) -> None:
        """Close every client made."""
        for _, client in self.clients.values():
            await client.aclose()
        self.clients.clear()


def write_depicts(
    settings: Settings,
    factory: sessionmaker[Session],
    project_id: int,
    *,
    client_for: ClientFor | None = None,
    run: Run | None = None,
) -> dict[str, Any]:
    """Write a project's pending depicts edits, each as the user who sent it.

    Each edit takes the wiki's politeness slot and is committed with the run's checkpoint;
    a file whose statement is already there (written before a kill, or by someone else) is
    recorded, not edited again. A passing refusal of the wiki (an error code that is not
    final, such as a token refused twice) is retried by the engine as the wiki being away;
    the edit counts an attempt, and fails for good after three.
    """
    wiki = _wiki_of(factory, project_id)
    progress = dict(run.progress) if run is not None else {}
    keys = ("added", "already_there", "removed", "failed")
    done = {key: int(progress.get(key, 0)) for key in keys}

    def committed(session: Session, totals: Written) -> None:
        if run is not None:
            now = {key: done[key] + value for key, value in asdict(totals).items()}
            run.checkpoint(session, {**progress, **now})

    async def write(clients: ClientFor) -> None:
        while True:
            written = await write_edits(
                factory,
                clients,
                project_id,
                limit=WRITE_PASS,
                lease=settings.job_stale_after,
                turn=_turn(settings, factory, wiki),
                committed=committed,
            )
            for key, value in asdict(written).items():
                done[key] += value
            if sum(asdict(written).values()) < WRITE_PASS:
                return

    async def main() -> None:
        if client_for is not None:
            await write(client_for)
            return
        clients = UserClients(settings, factory)
        try:
            await write(clients)
        finally:
            await clients.aclose()

    try:
        asyncio.run(main())
    except WikiError as error:  # not final (the writer let it through): try again later
        raise WikiUnavailable(f"{wiki} refused an edit for now ({error}); trying again") from error
    result = {"project_id": project_id, "wiki": wiki, **done}
    if run is not None:
        with transaction(factory, write=True) as session:
            run.finish(session, result)
    return result


def purge_encodings(factory: sessionmaker[Session]) -> int:
    """Delete every face encoding older than its project's retention; answer how many."""
    with transaction(factory, write=True) as session:
        return purge_expired(session)
