"""A 200-image face project end to end: wall time, and answers until the precision is 0.99.

A real MediaWiki (tests/support/mediawiki.py, served on loopback) gets `--images` (200;
quick: 40) JPEGs imported into `Category:Bench faces`: variants of the five real photos of
tests/data/faces and skimage's astronaut (a random crop keeping the faces, a flip, a scale,
brightness and contrast jitter: same people, different pixels). A project for Barack Obama
(Q76) on that category then runs the pipeline as a worker does: the crawl
(`categorymembers` + `imageinfo`), detection and encoding in a `FacePool` of 2 processes
(downloads from the wiki's upload path), and a simulated human answering the queue
(`answers.next_image`: nearest the decision boundary, with the project's random share),
re-scoring after every answer (`scores.rescore`), until the threshold chosen from the
answered faces has an estimated precision of at least 0.99 (`reached`) or the queue is empty.

The simulated human knows who is on each photo: a face is Obama when it comes from
obama.jpg or obama2.jpg, or is the Obama face of obama_and_biden.jpg (the face of that photo
nearest to obama.jpg's encoding); everything else (Biden, the astronaut, the astronaut's
mission patch) is not. Only three people and their variants: the figures show the pipeline's
cost and the loop's behaviour, not a recognition benchmark.

Figures: `crawl.seconds`, `detect.seconds` (+ images/s), `answers_to_precision_099`
(+ the answers' seconds, the rescoring's median ms, and the true precision and recall of the
matches among the faces nobody answered, at the threshold reached), `total.seconds`.
"""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common import ROOT, emit, machine, note, parser
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.faces.answers import answer_image, next_image
from wikiloom.faces.detection import detect
from wikiloom.faces.downloads import DownloadPolicy
from wikiloom.faces.images import encoding_of
from wikiloom.faces.pipeline import Crawl, Detection, crawl_project, detect_pending
from wikiloom.faces.pool import FacePool
from wikiloom.faces.projects import Category, ProjectSettings, create_project
from wikiloom.faces.scores import rescore
from wikiloom.faces.tables import Face, FaceImage
from wikiloom.migrations import upgrade
from wikiloom.wiki.client import WikiClient

PHOTOS = ROOT / "tests" / "data" / "faces"
SOURCES = ("obama", "obama2", "biden", "biden2", "obama_and_biden", "astronaut")
OBAMA = {"obama", "obama2"}
CATEGORY = "Bench faces"
TARGET = 0.99


def variant(image: object, rng: random.Random) -> bytes:
    """A JPEG of the photo cropped (keeping 85-100 % of each side), maybe flipped, scaled and
    with its brightness and contrast changed."""
    from PIL import Image, ImageEnhance, ImageOps

    assert isinstance(image, Image.Image)
    width, height = image.size
    keep = rng.uniform(0.85, 1.0)
    w, h = int(width * keep), int(height * keep)
    left, top = rng.randint(0, width - w), rng.randint(0, height - h)
    out = image.crop((left, top, left + w, top + h))
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    scale = rng.uniform(0.6, 1.0)
    out = out.resize((max(64, int(w * scale)), max(64, int(h * scale))))
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
    out = ImageEnhance.Contrast(out).enhance(rng.uniform(0.8, 1.2))
    buffer = io.BytesIO()
    out.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def sources() -> dict[str, object]:
    """The source photos as PIL images."""
    from PIL import Image
    from skimage import data

    found: dict[str, object] = {
        name: Image.open(PHOTOS / f"{name}.jpg").convert("RGB") for name in SOURCES[:-1]
    }
    found["astronaut"] = Image.fromarray(data.astronaut())
    return found


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--images", type=int, default=200, help="images in the project")
    options.add_argument("--processes", type=int, default=2, help="face pool processes")
    args = options.parse_args()
    count = 40 if args.quick else args.images
    # After `common`, which puts the repository on sys.path.
    from tests.support.mediawiki import DEFAULT_MEDIAWIKI_DIR, serve_wiki

    mediawiki_dir = Path(DEFAULT_MEDIAWIKI_DIR)
    if not (mediawiki_dir / "maintenance" / "install.php").is_file():
        emit("skipped", None, "", reason=f"no MediaWiki at {mediawiki_dir}")
        return
    rng = random.Random(0)
    photos = sources()
    reference = detect((PHOTOS / "obama.jpg").read_bytes()).faces[0].encoding
    with tempfile.TemporaryDirectory(prefix="wikiloom-bench-faces-") as root:
        folder = Path(root) / "upload"
        folder.mkdir()
        truth: dict[str, str] = {}
        for n in range(count):
            source = SOURCES[n % len(SOURCES)]
            name = f"Bench face {n:03d}.jpg"
            (folder / name).write_bytes(variant(photos[source], rng))
            truth[f"File:{name}"] = source
        note(f"installing the wiki, importing {count} images")
        (Path(root) / "wiki").mkdir()
        with serve_wiki(mediawiki_dir, Path(root) / "wiki") as wiki:
            wiki.maintenance(
                "importImages.php",
                f"--comment=A bench photo. [[Category:{CATEGORY}]]",
                "--extensions=jpg",
                str(folder),
            )
            host = wiki.server.removeprefix("http://")
            settings = Settings(database_url=f"sqlite:///{root}/bench.db")
            upgrade(settings.database_url)
            engine = make_engine(settings)
            factory = session_factory(engine)
            with transaction(factory, write=True) as session:
                project = create_project(
                    session,
                    ProjectSettings(
                        wiki.dbname, "Q76", "Bench", (Category(CATEGORY),), max_images=count
                    ),
                    1,
                    "Bench",
                )
                project_id = project.id
            client = WikiClient("wikiloom-bench/0", custom_wikis={wiki.dbname: wiki.api_url})
            began = time.perf_counter()
            crawled = asyncio.run(_crawl(factory, client, project_id))
            crawl_seconds = time.perf_counter() - began
            emit("crawl.seconds", crawl_seconds, "s", files=crawled.found, added=crawled.added)
            policy = DownloadPolicy.of([host])
            started = time.perf_counter()
            with FacePool(args.processes) as pool:
                found = asyncio.run(_detect(factory, pool, policy, project_id))
            detect_seconds = time.perf_counter() - started
            emit(
                "detect.seconds",
                detect_seconds,
                "s",
                images=found.detected,
                failed=found.failed,
                faces=found.faces,
                images_per_second=round(found.detected / detect_seconds, 2),
                processes=args.processes,
            )
            answering = time.perf_counter()
            reached, threshold, rescoring = answer_until_precise(
                factory, project_id, truth, reference
            )
            answer_seconds = time.perf_counter() - answering
            actual = true_precision(factory, project_id, truth, reference, threshold)
            emit(
                "answers_to_precision_099",
                reached,
                "answers",
                target=TARGET,
                images=found.detected,
                faces=found.faces,
                seconds=round(answer_seconds, 1),
                rescore_ms_median=round(1000 * statistics.median(rescoring), 2)
                if rescoring
                else None,
                threshold=threshold,
                unanswered_faces_at_threshold=actual,
                note="None: the queue ran out before the estimate reached the target",
            )
            emit(
                "total.seconds",
                crawl_seconds + detect_seconds + answer_seconds,
                "s",
                machine=machine(),
            )
            engine.dispose()


def answer_until_precise(
    factory: sessionmaker[Session], project_id: int, truth: dict[str, str], reference: np.ndarray
) -> tuple[int | None, dict[str, object], list[float]]:
    """Answer the queue as the simulated human until the estimate reaches the target; answer
    the answers it took (None: the queue ran out), the last threshold, rescoring seconds."""
    answers = 0
    rescoring: list[float] = []
    summary: dict[str, object] | None = None
    while True:
        with transaction(factory, write=True) as session:
            image = next_image(session, project_id, 1)
            if image is None:
                return None, dict(summary or {}), rescoring
            faces = list(session.scalars(select(Face).where(Face.image_id == image.id)))
            answer_image(session, image.id, 1, _obama(truth[image.title], faces, reference))
            answers += 1
            clock = time.perf_counter()
            summary = rescore(session, project_id)
            rescoring.append(time.perf_counter() - clock)
            if summary and summary.get("reached"):
                return answers, dict(summary), rescoring


def true_precision(
    factory: sessionmaker[Session],
    project_id: int,
    truth: dict[str, str],
    reference: np.ndarray,
    threshold: dict[str, object],
) -> dict[str, object]:
    """How the matches of the faces nobody answered compare with who they really are."""
    value = threshold.get("value")
    if not isinstance(value, float):
        return {}
    with transaction(factory) as session:
        rows = session.execute(
            select(Face, FaceImage.title)
            .join(FaceImage, FaceImage.id == Face.image_id)
            .where(Face.project_id == project_id)
        ).all()
        by_image: dict[int, list[Face]] = {}
        for face, _ in rows:
            by_image.setdefault(face.image_id, []).append(face)
        titles = {face.image_id: title for face, title in rows}
        picked = {
            _obama(truth[titles[image_id]], faces, reference)
            for image_id, faces in by_image.items()
        }
        unanswered = [face for face, _ in rows if face.answer is None and face.score is not None]
        matched = [face for face in unanswered if face.score is not None and face.score >= value]
        right = sum(1 for face in matched if face.id in picked)
        obama = sum(1 for face in unanswered if face.id in picked)
    return {
        "faces": len(unanswered),
        "matched": len(matched),
        "precision": round(right / len(matched), 4) if matched else None,
        "recall": round(right / obama, 4) if obama else None,
    }


async def _crawl(factory: sessionmaker[Session], client: WikiClient, project_id: int) -> Crawl:
    try:
        return await crawl_project(factory, client, project_id)
    finally:
        await client.aclose()


async def _detect(
    factory: sessionmaker[Session], pool: FacePool, policy: DownloadPolicy, project_id: int
) -> Detection:
    async with httpx.AsyncClient(timeout=30) as http:
        return await detect_pending(factory, pool, http, policy, project_id, batch=20)


def _obama(source: str, faces: list[Face], reference: np.ndarray) -> int | None:
    """The face the simulated human picks as Obama, or None."""
    usable = [face for face in faces if face.encoding is not None]
    if not usable or source not in OBAMA | {"obama_and_biden"}:
        return None
    distances = [
        float(np.linalg.norm(encoding_of(face.encoding) - reference))
        for face in usable
        if face.encoding is not None
    ]
    nearest = int(np.argmin(distances))
    return usable[nearest].id if distances[nearest] < 0.6 else None


if __name__ == "__main__":
    main()
