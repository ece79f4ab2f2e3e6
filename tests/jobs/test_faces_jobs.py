"""The faces jobs against real components: the local MediaWiki (its photos, category tree and
thumbnails), dlib in a process pool, real `wikiloom worker` processes killed with SIGKILL.

Debian's MediaWiki has neither CirrusSearch nor WikibaseMediaInfo: the bootstrap search and
the depicts writes go to `tests.support.wikibase.WikibaseStandin`, which checks every request
against the documented shapes; in-process through an httpx transport, and for the worker
processes served by a real uvicorn on loopback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.mediawiki import FACES, USER_AGENT, MediaWiki, file_title
from tests.support.mediawiki_oauth import loopback_socket, serve_asgi
from tests.support.wikibase import WikibaseStandin
from tests.support.workers import (
    Workers,
    environment,
    job_settings,
    reachable_broker,
    workers_of,
)
from wikiloom.config import Settings
from wikiloom.db import transaction, utcnow
from wikiloom.faces.answers import answer_face
from wikiloom.faces.credentials import new_token_key, store_token, token_cipher
from wikiloom.faces.images import NewImage, add_images, encoding_bytes, encoding_of
from wikiloom.faces.pool import FacePool
from wikiloom.faces.projects import Category, ProjectSettings, create_project
from wikiloom.faces.tables import DepictsEdit, Face, FaceImage
from wikiloom.faces.writer import Written, queue_edits, write_edits
from wikiloom.jobs.catalog import JOBS, PERIODIC, schedule
from wikiloom.jobs.engine import JobContext, create_celery, enqueue
from wikiloom.jobs.faces import crawl_faces, detect_faces, write_depicts
from wikiloom.jobs.tables import DONE, JobRun
from wikiloom.wiki.client import WikiClient

QID, LABEL = "Q76", "Barack Obama"
OWNER = 4242
COMMONS = "commonswiki"
#: dlib's same-person radius.
SAME = 0.6


# --- helpers ----------------------------------------------------------------------------


class SearchOnStandin(httpx.AsyncBaseTransport):
    """The real wiki for everything but `list=search`, which the Wikibase stand-in answers."""

    def __init__(self, standin: WikibaseStandin) -> None:
        self.standin = httpx.MockTransport(standin)
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("list") == "search":
            return await self.standin.handle_async_request(request)
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


def local_settings(settings: Settings, mediawiki: MediaWiki, **changes: Any) -> Settings:
    """The test's settings, pointing at the local wiki and allowing downloads from it."""
    host = urlsplit(mediawiki.server).netloc
    return settings.model_copy(
        update={
            "user_agent": USER_AGENT,
            "wikis": {mediawiki.dbname: mediawiki.api_url},
            "face_image_hosts": [host],
            "wiki_job_interval": 0.0,
            **changes,
        }
    )


def new_project(
    sessions: sessionmaker[Session], wiki: str, categories: tuple[Category, ...]
) -> int:
    with transaction(sessions, write=True) as session:
        project = create_project(
            session,
            ProjectSettings(
                wiki=wiki,
                qid=QID,
                name=f"Obama {uuid.uuid4().hex[:6]}",
                label=LABEL,
                categories=categories,
            ),
            OWNER,
            "Owner",
        )
        return project.id


def images_of(sessions: sessionmaker[Session], project_id: int) -> list[FaceImage]:
    with transaction(sessions) as session:
        query = select(FaceImage).where(FaceImage.project_id == project_id)
        return list(session.scalars(query.order_by(FaceImage.id)))


def faces_by_image(sessions: sessionmaker[Session], project_id: int) -> dict[int, list[Face]]:
    with transaction(sessions) as session:
        rows = session.scalars(select(Face).where(Face.project_id == project_id).order_by(Face.id))
        found: dict[int, list[Face]] = {}
        for face in rows:
            found.setdefault(face.image_id, []).append(face)
        return found


def crawl(settings: Settings, sessions: sessionmaker[Session], project_id: int,
          standin: WikibaseStandin) -> dict[str, Any]:  # fmt: skip
    client = WikiClient(
        USER_AGENT, custom_wikis=settings.wikis, maxlag=5, transport=SearchOnStandin(standin)
    )
    return crawl_faces(settings, sessions, project_id, client=client)


def standin_with_files(mediawiki: MediaWiki, depicted: tuple[str, ...] = ()) -> WikibaseStandin:
    """A stand-in that knows the wiki's photos; `depicted` ones already depict the item."""
    standin = WikibaseStandin()
    for title, seeded in mediawiki.files.items():
        standin.add_file(seeded.page_id, title, [QID] if title in depicted else [])
    return standin


@pytest.fixture(scope="module")
def pool() -> Iterator[FacePool]:
    with FacePool(processes=2) as faces:
        yield faces


def test_the_faces_jobs_are_in_the_catalog_and_the_purge_runs_daily() -> None:
    assert {"faces_crawl", "faces_detect", "faces_write"} <= set(JOBS)
    assert "faces_purge" in PERIODIC
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    [entry] = [e for e in schedule(settings).values() if e["task"] == "wikiloom.faces_purge"]
    assert entry["schedule"] == dt.timedelta(days=1)


# --- crawl ------------------------------------------------------------------------------


def test_a_crawl_adds_each_file_once_with_its_thumbnail_and_the_bootstrap(
    settings: Settings, sessions: sessionmaker[Session], mediawiki: MediaWiki
) -> None:
    local = local_settings(settings, mediawiki)
    # Depth 1 from Portraits: Biden's two photos, and Obama's two in its subcategory
    # Presidents; not the photo of both, two levels down, which the bootstrap search finds.
    project_id = new_project(sessions, mediawiki.dbname, (Category("Portraits", 1),))
    both, obama = file_title("obama_and_biden.jpg"), file_title("obama.jpg")
    standin = standin_with_files(mediawiki, depicted=(both, obama))
    first = crawl(local, sessions, project_id, standin)
    assert first == {"project_id": project_id, "wiki": mediawiki.dbname,
                     "found": 4, "depicted": 2, "added": 5}  # fmt: skip
    second = crawl(local, sessions, project_id, standin)
    assert second["added"] == 0
    assert second["found"] == 4
    [search] = standin.calls("search")[:1]
    assert search["srsearch"] == f"haswbstatement:P180={QID}"
    images = images_of(sessions, project_id)
    assert sorted(image.title for image in images) == sorted(mediawiki.files)
    assert len({image.page_id for image in images}) == len(images) == 5  # each file once
    by_title = {image.title: image for image in images}
    for title, seeded in mediawiki.files.items():
        image = by_title[title]
        assert image.page_id == seeded.page_id
        assert image.status == "pending"
        assert image.source == ("bootstrap" if title == both else "category")
        assert image.depicted == (title in (both, obama))
        assert image.thumb_url
        assert image.thumb_url.startswith(f"{mediawiki.server}/images/")
        assert "500px-" in image.thumb_url  # a thumbnail, 500 px wide


# --- detection --------------------------------------------------------------------------


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_detection_stores_the_faces_of_the_real_photos_in_their_thumbnails_space(
    settings: Settings, sessions: sessionmaker[Session], mediawiki: MediaWiki, pool: FacePool
) -> None:
    local = local_settings(settings, mediawiki)
    project_id = new_project(sessions, mediawiki.dbname, (Category("Portraits", 2),))
    crawl(local, sessions, project_id, standin_with_files(mediawiki))
    outside = "https://images.example.org/evil/500px-Obama.jpg"
    with transaction(sessions, write=True) as session:
        add_images(session, project_id, [NewImage(99_999_001, "File:Elsewhere.jpg", outside)])
    result = detect_faces(local, sessions, project_id, batch=2, pool=pool)
    assert result["detected"] == 5
    assert result["failed"] == 1
    images = {image.title: image for image in images_of(sessions, project_id)}
    faces = faces_by_image(sessions, project_id)
    assert result["faces"] == sum(len(found) for found in faces.values())
    refused = images.pop("File:Elsewhere.jpg")
    assert refused.status == "failed"
    assert refused.attempts == 1
    assert refused.error is not None
    assert "images are downloaded only from" in refused.error
    assert outside in refused.error
    assert refused.id not in faces
    assert refused.width is None
    with httpx.Client(headers={"User-Agent": USER_AGENT}) as http:
        for title, image in images.items():
            assert image.status == "detected"
            assert image.error is None
            assert image.thumb_url is not None
            thumbnail = Image.open(io.BytesIO(http.get(image.thumb_url).content))
            assert (image.width, image.height) == thumbnail.size
            assert image.width == 500
            found = faces[image.id]
            # The photo of both has a third face, a girl in the corner (see test_detection).
            assert len(found) == (3 if title == file_title("obama_and_biden.jpg") else 1)
            for face in found:
                assert 0 <= face.box_left < face.box_right <= image.width
                assert 0 <= face.box_top < face.box_bottom <= image.height
                assert face.encoding is not None
                assert len(face.encoding) == 128 * 8
    # Obama and Biden are each one of the faces on the photo of both.
    both = [
        encoding_of(face.encoding or b"")
        for face in faces[images[file_title("obama_and_biden.jpg")].id]
    ]
    for name in ("obama.jpg", "biden.jpg"):
        [alone] = faces[images[file_title(name)].id]
        near = [
            float(np.linalg.norm(encoding_of(alone.encoding or b"") - other)) < SAME
            for other in both
        ]
        assert sum(near) == 1, (name, near)
    # Detected once: a second pass finds nothing pending and stores nothing.
    again = detect_faces(local, sessions, project_id, batch=2, pool=pool)
    assert (again["detected"], again["failed"], again["faces"]) == (0, 0, 0)
    after = faces_by_image(sessions, project_id)
    assert {i: [f.id for f in found] for i, found in after.items()} == {
        i: [f.id for f in found] for i, found in faces.items()
    }


# --- the writer -------------------------------------------------------------------------


def confirmed_project(sessions: sessionmaker[Session], wiki: str, pages: list[int]) -> int:
    """A project whose files each have one face a human confirmed, with its edits queued."""
    project_id = new_project(sessions, wiki, (Category("Portraits", 0),))
    with transaction(sessions, write=True) as session:
        add_images(session, project_id,
                   [NewImage(page, f"File:Photo {page}.jpg", None) for page in pages])  # fmt: skip
        now = utcnow()
        for image in session.scalars(select(FaceImage).where(FaceImage.project_id == project_id)):
            image.status, image.width, image.height, image.detected = "detected", 500, 400, now
            session.add(
                Face(project_id=project_id, image_id=image.id, box_top=10, box_right=60,
                     box_bottom=70, box_left=5, origin="detected", encoding=encoding_bytes(
                         [0.01 * (image.page_id % 7)] * 128), answer="yes",
                     answered_by=OWNER, answered=now, created=now)
            )  # fmt: skip
        session.flush()
        queued = queue_edits(session, project_id, OWNER)
    assert queued.additions == len(pages)
    return project_id


def standin_client(standin: WikibaseStandin) -> WikiClient:
    return WikiClient(
        USER_AGENT, custom_wikis={COMMONS: "https://commons.invalid/w/api.php"}, maxlag=5,
        transport=httpx.MockTransport(standin),
    )  # fmt: skip


def quick(settings: Settings) -> Settings:
    """The settings without the politeness interval (the stand-in is in process)."""
    return settings.model_copy(update={"wiki_job_interval": 0.0})


def edits_of(sessions: sessionmaker[Session], project_id: int) -> list[DepictsEdit]:
    with transaction(sessions) as session:
        query = select(DepictsEdit).where(DepictsEdit.project_id == project_id)
        return list(session.scalars(query.order_by(DepictsEdit.page_id)))


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_writer_reads_claims_first_and_edits_each_file_once(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    standin = WikibaseStandin()
    standin.add_file(501, "File:Photo 501.jpg")
    standin.add_file(502, "File:Photo 502.jpg", [QID])  # already says so: no edit
    standin.add_file(503, "File:Photo 503.jpg", ["Q6279"])  # depicts someone else
    project_id = confirmed_project(sessions, COMMONS, [501, 502, 503])
    client = standin_client(standin)
    users: list[int] = []

    async def client_for(user_id: int) -> WikiClient:
        users.append(user_id)
        return client

    result = write_depicts(quick(settings), sessions, project_id, client_for=client_for)
    assert result == {"project_id": project_id, "wiki": COMMONS,
                      "added": 2, "already_there": 1, "removed": 0, "failed": 0}  # fmt: skip
    assert set(users) == {OWNER}
    kinds = [standin.kind(params) for _, params in standin.requests]
    assert kinds[0] == "wbgetclaims"  # read before any write
    for page in (501, 503):
        entity = f"M{page}"
        calls = [
            p for _, p in standin.requests if p.get("entity") == entity or p.get("id") == entity
        ]
        assert [standin.kind(p) for p in calls] == ["wbgetclaims", "wbeditentity"]
        edit = calls[1]
        assert QID in edit["summary"]
        assert LABEL in edit["summary"]
        assert "confirmed by a human" in edit["summary"]
        assert edit["maxlag"] == "5"
        assert edit["bot"] == "1"
    assert standin.depicts(501) == [QID]
    assert standin.depicts(503) == ["Q6279", QID]
    assert standin.depicts(502) == [QID]
    assert not [p for p in standin.calls("wbeditentity") if p["id"] == "M502"]
    edits = {edit.page_id: edit for edit in edits_of(sessions, project_id)}
    assert all(edit.status == "done" for edit in edits.values())
    assert edits[502].rev_id is None
    assert edits[502].statement
    assert edits[501].rev_id
    assert edits[503].rev_id
    # Sent again: nothing pending, nothing written.
    writes = len(standin.calls("wbeditentity"))
    again = write_depicts(quick(settings), sessions, project_id, client_for=client_for)
    assert again["added"] == again["already_there"] == 0
    assert len(standin.calls("wbeditentity")) == writes


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_statement_humans_reject_afterwards_is_removed(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    standin = WikibaseStandin()
    for page in (901, 902):
        standin.add_file(page, f"File:Photo {page}.jpg")
    project_id = confirmed_project(sessions, COMMONS, [901, 902])
    client = standin_client(standin)

    async def client_for(user_id: int) -> WikiClient:
        return client

    assert write_depicts(quick(settings), sessions, project_id, client_for=client_for)["added"] == 2
    with transaction(sessions, write=True) as session:
        face = session.scalars(select(Face).join(FaceImage).where(FaceImage.page_id == 901)).one()
        answer_face(session, face.id, OWNER, "no")
        queued = queue_edits(session, project_id, OWNER)
    assert (queued.additions, queued.removals) == (0, 1)
    result = write_depicts(quick(settings), sessions, project_id, client_for=client_for)
    assert result["removed"] == 1
    assert standin.depicts(901) == []
    assert standin.depicts(902) == [QID]
    (removal,) = standin.calls("wbremoveclaims")
    assert "Removing depicts (P180) Q76" in removal["summary"]
    assert removal["maxlag"] == "5"
    with transaction(sessions) as session:  # sent again: nothing more to remove
        assert queue_edits(session, project_id, OWNER).removals == 0


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_scheduler_sends_one_write_per_project_with_waiting_edits(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    local = job_settings(settings, reachable_broker("sqlite", tmp_path))
    [entry] = [e for e in schedule(local).values() if e["task"] == "wikiloom.schedule_face_writes"]
    assert entry["schedule"] == dt.timedelta(seconds=local.face_write_check_interval)
    project_id = confirmed_project(sessions, COMMONS, [701, 702])
    with transaction(sessions) as session:
        newest = max(edit.id for edit in session.scalars(select(DepictsEdit)))
    context = JobContext(local, sessions)
    app = create_celery(local)
    keys = PERIODIC["schedule_face_writes"](context, app)
    assert keys == [f"faces_write:{project_id}:{newest}"]
    assert PERIODIC["schedule_face_writes"](context, app) == keys  # the same job, not two
    with transaction(sessions, write=True) as session:
        for edit in session.scalars(select(DepictsEdit)):
            edit.status = "done"
    assert PERIODIC["schedule_face_writes"](context, app) == []


def test_two_writers_at_once_write_each_edit_once_and_a_stale_claim_is_taken_over(
    sessions: sessionmaker[Session],
) -> None:
    standin = WikibaseStandin()
    pages = list(range(601, 611))
    for page in pages:
        standin.add_file(page, f"File:Photo {page}.jpg")
    project_id = confirmed_project(sessions, COMMONS, pages)
    with transaction(sessions, write=True) as session:  # a writer died holding this one
        dead = session.scalars(select(DepictsEdit).where(DepictsEdit.page_id == pages[0])).one()
        dead.status, dead.claimed = "writing", utcnow() - dt.timedelta(seconds=120)

    async def both() -> list[Written]:
        async def client_for(user_id: int) -> WikiClient:
            return standin_client(standin)

        async def turn() -> None:
            await asyncio.sleep(0.01)  # let the other writer in between edits

        return list(
            await asyncio.gather(
                *(
                    write_edits(sessions, client_for, project_id, lease=60.0, turn=turn)
                    for _ in range(2)
                )
            )
        )

    first, second = asyncio.run(both())
    assert first.added + second.added == len(pages)
    assert first.added > 0
    assert second.added > 0  # they really shared the work
    edited = sorted(params["id"] for params in standin.calls("wbeditentity"))
    assert edited == sorted(f"M{page}" for page in pages)  # each file once
    assert [edit.status for edit in edits_of(sessions, project_id)] == ["done"] * len(pages)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_stale_token_is_refreshed_once_and_the_edit_written(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    standin = WikibaseStandin()
    standin.add_file(601, "File:Photo 601.jpg")
    project_id = confirmed_project(sessions, COMMONS, [601])
    client = standin_client(standin)

    async def client_for(user_id: int) -> WikiClient:
        await client.csrf_token(COMMONS)  # a token fetched earlier ...
        standin.expire_token()  # ... that the wiki no longer takes
        return client

    result = write_depicts(quick(settings), sessions, project_id, client_for=client_for)
    assert result["added"] == 1
    assert standin.errors == ["badtoken"]
    assert len(standin.calls("tokens")) == 2
    assert len(standin.calls("wbeditentity")) == 2
    assert standin.depicts(601) == [QID]
    [edit] = edits_of(sessions, project_id)
    assert edit.status == "done"
    assert edit.rev_id == standin.last_rev_id


class LostAnswer(WikibaseStandin):
    """A wiki that saves the first `wbeditentity` and then drops the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        if not self.dropped and self.kind(self.requests[-1][1]) == "wbeditentity":
            self.dropped += 1  # saved on the wiki, never answered: the job dies here
            raise httpx.ReadError("connection lost", request=request)
        return response


@pytest.mark.anyio
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_an_edit_saved_but_not_committed_is_not_written_again(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    standin = LostAnswer()
    for page in (701, 702):
        standin.add_file(page, f"File:Photo {page}.jpg")
    project_id = confirmed_project(sessions, COMMONS, [701, 702])
    client = standin_client(standin)

    async def client_for(user_id: int) -> WikiClient:
        return client

    from wikiloom.errors import WikiUnavailable

    with pytest.raises(WikiUnavailable):
        await write_edits(sessions, client_for, project_id)
    assert [edit.status for edit in edits_of(sessions, project_id)] == ["pending", "pending"]
    assert standin.depicts(701) == [QID]  # the wiki has it; the database does not know yet
    written = await write_edits(sessions, client_for, project_id)
    assert (written.added, written.already_there) == (1, 1)
    assert [p["id"] for p in standin.calls("wbeditentity")] == ["M701", "M702"]  # no second
    assert standin.depicts(701) == [QID]
    assert standin.depicts(702) == [QID]
    assert [edit.status for edit in edits_of(sessions, project_id)] == ["done", "done"]


# --- real workers killed mid-job --------------------------------------------------------

#: The killed detection: 12 photos in batches of 2, downloads at least 0.3 s apart.
FAULT_PHOTOS, FAULT_BATCH, FAULT_INTERVAL = 12, 2, 0.3
#: The killed writer: 10 files, edits at least 0.4 s apart.
FAULT_EDITS, EDIT_INTERVAL = 10, 0.4


@pytest.fixture(scope="module")
def fault_category(mediawiki: MediaWiki, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A category of its own holding twelve uploads of the test photos (new file names)."""
    name = f"Fault photos {uuid.uuid4().hex[:6]}"
    folder = tmp_path_factory.mktemp("fault-photos")
    names = sorted(path.name for path in FACES.glob("*.jpg"))
    for n in range(FAULT_PHOTOS):
        source = names[n % len(names)]
        shutil.copy(FACES / source, folder / f"Fault {n:02d} {source}")
    mediawiki.maintenance(
        "importImages.php",
        f"--comment=A photo for wikiloom's fault tests. [[Category:{name}]]",
        "--user=Admin",
        str(folder),
    )
    return name


def wait_for(predicate: Any, timeout: float, message: str, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            logs = "\n".join(
                f"--- {worker.name}\n"
                + "\n".join(
                    line for line in worker.log.read_text().splitlines() if "recover" not in line
                )[-3000:]
                for worker in workers.started
            )
            raise AssertionError(f"{message}\n{logs}")
        time.sleep(0.1)


def run_of(sessions: sessionmaker[Session], key: str) -> JobRun | None:
    with transaction(sessions) as session:
        return session.get(JobRun, key)


def kill_the_holder(
    sessions: sessionmaker[Session], key: str, workers: Workers, ready: Any
) -> tuple[Any, Any]:
    """Wait until the job got far enough (`ready(progress)`), SIGKILL the worker running it;
    answer (killed, survivor)."""
    wait_for(lambda: (run := run_of(sessions, key)) is not None and ready(run.progress),
             40, f"job {key} never got far enough", workers)  # fmt: skip
    run = run_of(sessions, key)
    assert run is not None
    first, second = workers.started[:2]
    holder = first if first.holds(int(run.worker.rsplit(":", 1)[1])) else second
    holder.kill()
    return holder, (second if holder is first else first)


def finished(sessions: sessionmaker[Session], key: str, workers: Workers) -> JobRun:
    done = lambda: (run := run_of(sessions, key)) is not None and run.status == DONE  # noqa: E731
    wait_for(done, 60, f"job {key} did not complete on the surviving worker", workers)
    run = run_of(sessions, key)
    assert run is not None
    return run


@pytest.mark.slow
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_detection_whose_worker_is_killed_resumes_and_detects_each_image_once(
    settings: Settings,
    sessions: sessionmaker[Session],
    mediawiki: MediaWiki,
    fault_category: str,
    tmp_path: Path,
) -> None:
    local = job_settings(
        local_settings(settings, mediawiki), reachable_broker("sqlite", tmp_path),
        wiki_job_interval=FAULT_INTERVAL, face_processes=1,
        job_stale_after=2.0, job_visibility_timeout=4.0,
    )  # fmt: skip
    project_id = new_project(sessions, mediawiki.dbname, (Category(fault_category, 0),))
    crawled = crawl(local, sessions, project_id, WikibaseStandin())
    assert crawled["added"] == FAULT_PHOTOS
    with workers_of(local, tmp_path) as workers:
        workers.start("first", "second")
        workers.start_scheduler()  # the SQLite transport never redelivers: `recover` does
        sent = subprocess.run(  # as an operator sends it
            [sys.executable, "-m", "wikiloom", "jobs", "send", "faces_detect",
             f"project_id={project_id}", f"batch={FAULT_BATCH}"],
            env=environment(local), cwd=tmp_path, capture_output=True, text=True, check=True,
        )  # fmt: skip
        key = sent.stdout.strip()
        assert key.startswith("faces_detect:")
        _killed, survivor = kill_the_holder(
            sessions, key, workers, lambda progress: progress.get("detected", 0) >= 2 * FAULT_BATCH
        )
        before = {image.id: image for image in images_of(sessions, project_id)}
        faces_before = faces_by_image(sessions, project_id)
        done_before = [image.id for image in before.values() if image.status == "detected"]
        assert 2 * FAULT_BATCH <= len(done_before) < FAULT_PHOTOS, "the kill must land mid-job"
        run = finished(sessions, key, workers)
    assert survivor.holds(int(run.worker.rsplit(":", 1)[1]))
    assert run.attempts >= 2
    images = images_of(sessions, project_id)
    faces = faces_by_image(sessions, project_id)
    assert [image.status for image in images] == ["detected"] * FAULT_PHOTOS
    for image in images:  # each photo's faces once: one, or three on the photo of both
        assert len(faces[image.id]) == (
            3 if "obama_and_biden" in image.title.lower().replace(" ", "_") else 1
        )
    for image_id in done_before:  # detected before the kill: untouched
        stored = next(image for image in images if image.id == image_id)
        assert stored.detected == before[image_id].detected
        assert [f.id for f in faces[image_id]] == [f.id for f in faces_before[image_id]]
    with transaction(sessions) as session:
        total = session.scalar(select(func.count()).where(Face.project_id == project_id))
    assert run.progress["detected"] == run.result["detected"] == FAULT_PHOTOS
    assert run.result["faces"] == total


class StandinServer:
    """The Wikibase stand-in as an ASGI app, for worker processes to reach over loopback."""

    def __init__(self, standin: WikibaseStandin) -> None:
        self.standin = standin
        self.lock = threading.Lock()
        self.authorization: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        received = [(name.decode(), value.decode()) for name, value in scope["headers"]]
        query = scope["query_string"].decode()
        url = f"http://127.0.0.1{scope['path']}" + (f"?{query}" if query else "")
        request = httpx.Request(scope["method"], url, headers=received, content=body)
        with self.lock:
            self.authorization.append(request.headers.get("Authorization", ""))
            response = self.standin(request)
        headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
        start = {"type": "http.response.start", "status": response.status_code}
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})


@pytest.mark.slow
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_writer_whose_worker_is_killed_resumes_without_a_second_edit(
    settings: Settings,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    standin = WikibaseStandin()
    pages = list(range(801, 801 + FAULT_EDITS))
    for page in pages:
        standin.add_file(page, f"File:Photo {page}.jpg")
    server = StandinServer(standin)
    with serve_asgi(server, loopback_socket()) as url:
        local = job_settings(
            settings, reachable_broker("sqlite", tmp_path),
            user_agent=USER_AGENT, wikis={COMMONS: f"{url}/api.php"},
            wiki_job_interval=EDIT_INTERVAL, job_stale_after=2.0, job_visibility_timeout=4.0,
            token_key=SecretStr(new_token_key()), oauth_consumer_key="wikiloom-tests",
            oauth_consumer_secret=SecretStr("wikiloom-tests-secret"),
        )  # fmt: skip
        project_id = confirmed_project(sessions, COMMONS, pages)
        with transaction(sessions, write=True) as session:
            token = {"access_token": "owner-access-token", "refresh_token": "owner-refresh",
                     "expires_in": 36_000}  # fmt: skip
            store_token(session, token_cipher(local), OWNER, token)
        with workers_of(local, tmp_path) as workers:
            workers.start("first", "second")
            workers.start_scheduler()
            key = enqueue(create_celery(local), "faces_write", project_id=project_id)
            _, survivor = kill_the_holder(
                sessions, key, workers, lambda progress: progress.get("added", 0) >= 3
            )
            with server.lock:
                before = len(standin.calls("wbeditentity"))
            assert 3 <= before < FAULT_EDITS, "the kill must land mid-job"
            run = finished(sessions, key, workers)
    assert survivor.holds(int(run.worker.rsplit(":", 1)[1]))
    assert run.attempts >= 2
    edited = [params["id"] for params in standin.calls("wbeditentity")]
    assert sorted(edited) == sorted(f"M{page}" for page in pages)  # each file edited once
    assert all(standin.depicts(page) == [QID] for page in pages)
    edits = edits_of(sessions, project_id)
    assert [edit.status for edit in edits] == ["done"] * FAULT_EDITS
    assert run.result["added"] + run.result["already_there"] == FAULT_EDITS
    assert set(server.authorization) == {"Bearer owner-access-token"}  # as the user
