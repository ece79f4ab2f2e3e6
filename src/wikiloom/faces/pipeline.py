"""A project's pipeline: crawl its categories, bootstrap from existing depicts statements,
detect and encode the faces of its images, batch by batch.

Each step is idempotent: images are added once per page, an image is detected once (a
detected image is left alone), and a batch commits its images with the caller's checkpoint,
so a worker killed in the middle resumes with the images still pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session, sessionmaker

from wikiloom.db import transaction, utcnow
from wikiloom.errors import BadRequest, WikiUnavailable
from wikiloom.faces.downloads import DownloadPolicy, fetch_image
from wikiloom.faces.images import (
    NewImage,
    add_images,
    mark_depicted,
    pending_images,
    record_detection,
    record_failure,
)
from wikiloom.faces.pool import FacePool
from wikiloom.faces.projects import get_project
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.commons import category_members, image_info
from wikiloom.wiki.wikibase import search_depicting

#: Width of the thumbnails detection runs on: the one coordinate space of a project's boxes.
THUMB_WIDTH = 500
#: Files looked up per `imageinfo` request.
INFO_BATCH = 50
#: Downloads in flight at once.
DOWNLOADS = 4

Turn = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Crawl:
    """What a crawl found: files in the categories, files already depicting the item, added."""

    found: int
    depicted: int
    added: int


async def _nothing() -> None:
    return None


async def crawl_project(
    factory: sessionmaker[Session],
    client: WikiClient,
    project_id: int,
    *,
    turn: Turn = _nothing,
    bootstrap_limit: int = 500,
) -> Crawl:
    """Add the files of the project's categories, and mark those already depicting its item.

    `turn` is awaited before every request to the wiki (the caller's politeness gate). Files
    found by the bootstrap search outside the categories are added too (as `bootstrap`):
    their one face is a label the community already gave.
    """
    with transaction(factory) as session:
        project = get_project(session, project_id)
        wiki, qid, limit = project.wiki, project.qid, project.max_images
        categories = list(project.categories)
    titles: dict[str, int] = {}
    for category in categories:
        await turn()
        async for member in category_members(
            client, wiki, category["name"], depth=int(category.get("depth", 0))
        ):
            titles.setdefault(member.title, member.page_id)
            if len(titles) >= limit:
                break
    depicted: dict[int, str] = {}
    await turn()
    async for page_id, title in search_depicting(client, wiki, qid, limit=bootstrap_limit):
        depicted[page_id] = title
    wanted = list(titles) + [title for page_id, title in depicted.items() if title not in titles]
    images: list[NewImage] = []
    for start in range(0, len(wanted), INFO_BATCH):
        await turn()
        infos = await image_info(
            client, wiki, wanted[start : start + INFO_BATCH], thumb_width=THUMB_WIDTH
        )
        for title, info in infos.items():
            if info is None or info.media_type not in ("BITMAP", "DRAWING") or not info.thumb_url:
                continue
            source = "category" if title in titles else "bootstrap"
            images.append(
                NewImage(info.page_id, info.title, info.thumb_url, source, info.page_id in depicted)
            )
    with transaction(factory, write=True) as session:
        added = add_images(session, project_id, images)
        mark_depicted(session, project_id, depicted)
        get_project(session, project_id).crawled = utcnow()
    return Crawl(found=len(titles), depicted=len(depicted), added=added)


@dataclass(frozen=True)
class Detection:
    """What a detection pass did: images detected, failed for good, faces found."""

    detected: int
    failed: int
    faces: int


async def detect_pending(
    factory: sessionmaker[Session],
    pool: FacePool,
    http: httpx.AsyncClient,
    policy: DownloadPolicy,
    project_id: int,
    *,
    batch: int = 20,
    limit: int | None = None,
    turn: Turn = _nothing,
    committed: Callable[[Session, Detection], None] | None = None,
) -> Detection:
    """Download and detect the project's pending images, one committed batch at a time.

    `committed(session, totals)` runs inside each batch's transaction (a job's checkpoint).
    A download refused by policy, or an image that cannot be decoded, fails at once; the
    network or the wiki being away counts an attempt (three fail the image).
    """
    detected = failed = faces = 0
    limiter = asyncio.Semaphore(DOWNLOADS)

    async def download(url: str) -> bytes | Exception:
        async with limiter:
            await turn()
            try:
                return await fetch_image(http, url, policy)
            except (BadRequest, WikiUnavailable) as error:
                return error

    while limit is None or detected + failed < limit:
        size = batch if limit is None else min(batch, limit - detected - failed)
        with transaction(factory) as session:
            todo = [
                (image.id, image.thumb_url or "")
                for image in pending_images(session, project_id, size)
            ]
        if not todo:
            break
        bodies = await asyncio.gather(*(download(url) for _, url in todo))
        ready = [
            (image_id, body)
            for (image_id, _), body in zip(todo, bodies, strict=True)
            if isinstance(body, bytes)
        ]
        results = list(pool.detect_many([body for _, body in ready]))
        outcome = dict(zip((image_id for image_id, _ in ready), results, strict=True))
        with transaction(factory, write=True) as session:
            for (image_id, _), body in zip(todo, bodies, strict=True):
                result = body if isinstance(body, Exception) else outcome[image_id]
                if isinstance(result, Exception):  # refused input is not worth trying again
                    final = isinstance(result, BadRequest)
                    record_failure(session, image_id, str(result), final=final)
                    failed += 1
                else:
                    faces += len(record_detection(session, image_id, result))
                    detected += 1
            if committed is not None:
                committed(session, Detection(detected, failed, faces))
    return Detection(detected, failed, faces)
