"""The face-detection process pool: same results as in process, order, dead workers."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faces.test_detection import NAMES, astronaut_jpeg, photo
from wikiloom.errors import BadRequest
from wikiloom.faces.boxes import Box
from wikiloom.faces.detection import DetectedImage, detect, encode_box
from wikiloom.faces.pool import FacePool


class Pool:
    """The module's pool, and the child processes this test process had before it."""

    def __init__(self) -> None:
        self.before = {child.pid for child in multiprocessing.active_children()}
        self.faces = FacePool(processes=2)

    def workers(self) -> list[int]:
        """Return the pids of the pool's live worker processes."""
        return sorted(
            pid
            for child in multiprocessing.active_children()
            if (pid := child.pid) is not None and pid not in self.before
        )


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    shared = Pool()
    with shared.faces:
        yield shared


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    return [photo(name) for name in NAMES] + [astronaut_jpeg()]


@pytest.fixture(scope="module")
def expected(images: list[bytes]) -> list[DetectedImage]:
    return [detect(image) for image in images]


def test_results_equal_the_in_process_ones(
    pool: Pool, images: list[bytes], expected: list[DetectedImage]
) -> None:
    assert pool.faces.detect(images[0]) == expected[0]
    assert pool.faces.detect(images[-1], max_width=512) == detect(images[-1], max_width=512)
    image = expected[1]
    display = (1280, round(image.height * 1280 / image.width))
    drawn = image.faces[0].box.scaled(image.size, display)
    in_pool = pool.faces.encode_box(images[1], drawn, display)
    assert in_pool == encode_box(images[1], drawn, display)


def test_detect_many_keeps_the_order_and_reports_errors_per_image(
    pool: Pool, images: list[bytes], expected: list[DetectedImage]
) -> None:
    given = [images[4], images[1], b"not an image", images[5], images[0], images[1]]
    results = list(pool.faces.detect_many(iter(given)))
    assert len(results) == len(given)
    assert results[:2] == [expected[4], expected[1]]
    assert isinstance(results[2], BadRequest)
    assert results[3:] == [expected[5], expected[0], expected[1]]
    assert list(pool.faces.detect_many([])) == []


def test_threads_can_share_the_pool(
    pool: Pool, images: list[bytes], expected: list[DetectedImage]
) -> None:
    with ThreadPoolExecutor(4) as threads:
        results = list(threads.map(pool.faces.detect, images[:4]))
    assert results == expected[:4]


def test_threads_can_share_the_models_of_one_process(
    images: list[bytes], expected: list[DetectedImage]
) -> None:
    with ThreadPoolExecutor(3) as threads:  # dlib is not thread-safe: the models' lock
        results = list(threads.map(detect, [images[5], images[3], images[5]]))
    assert results == [expected[5], expected[3], expected[5]]


def test_errors_of_a_single_call_are_raised(pool: Pool, images: list[bytes]) -> None:
    with pytest.raises(BadRequest, match="not an image"):
        pool.faces.detect(b"GIF89a, or not")
    with pytest.raises(BadRequest, match="not the shape of the image"):
        pool.faces.encode_box(images[0], Box(10, 50, 50, 10), (625, 500))


def test_a_killed_worker_is_replaced_and_its_image_retried(
    pool: Pool, images: list[bytes], expected: list[DetectedImage]
) -> None:
    pool.faces.detect(images[0])  # the workers are up
    replaced = pool.faces.replacements
    results = pool.faces.detect_many(images)
    assert next(results) == expected[0]
    workers = pool.workers()
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)  # while the next images are being detected
    assert list(results) == expected[1:]
    assert pool.faces.replacements == replaced + 1
    assert workers[0] not in pool.workers()
    assert pool.faces.detect(images[2]) == expected[2]


def test_a_worker_killed_while_idle_does_not_fail_the_next_call(
    pool: Pool, images: list[bytes], expected: list[DetectedImage]
) -> None:
    pool.faces.detect(images[3])
    replaced = pool.faces.replacements
    for pid in pool.workers():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the executor notices the deaths and marks itself broken
    assert pool.faces.detect(images[3]) == expected[3]
    assert pool.faces.replacements == replaced + 1


def test_a_closed_pool_refuses_work(images: list[bytes]) -> None:
    closed = FacePool(processes=1)
    closed.close()
    with pytest.raises(RuntimeError, match="closed"):
        closed.detect(images[0])
