"""A persistent pool of face-detection processes: one set of dlib models per process.

dlib is not thread-safe and holds the GIL-free C++ work of one core per call, so parallel
detection needs processes. The pool's processes start with `spawn` (no inherited locks,
sockets or database engines), load the models once and pin native thread pools to one
thread. A worker that dies (killed, out of memory, a crash in dlib) breaks the whole
executor: the pool replaces it with a new one and retries the interrupted item once.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Generic, TypeVar

from wikiloom.faces.boxes import Box, Size
from wikiloom.faces.detection import DetectedImage, Face, Models, detect, encode_box

T = TypeVar("T")


def _start_worker() -> None:
    """Pin native thread pools to one thread and load the models (in each worker process)."""
    from threadpoolctl import threadpool_limits

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    threadpool_limits(limits=1)
    Models.load()


class FacePool:
    """Worker processes that detect and encode faces; safe to share between threads.

    Parameters
    ----------
    processes : int, optional
        Number of worker processes (default: the machine's CPU count). Each holds the
        models (about 100 MB) and loads them once, in a second or two.

    Notes
    -----
    Use it as a context manager, or call `close`. A worker process that dies breaks the
    executor; the pool then starts a new one (once per breakage) and retries the item
    that was interrupted, once: an image that kills its worker twice raises
    `BrokenProcessPool`, and the pool stays usable.
    """

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or os.cpu_count() or 1
        if self.processes < 1:
            raise ValueError(f"processes must be positive, not {self.processes}")
        self._lock = threading.Lock()
        self._generation = 0
        self._closed = False
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        """Start a new executor (its processes start on demand)."""
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
        )

    def __enter__(self) -> FacePool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (pending work is cancelled)."""
        with self._lock:
            self._closed = True
            self._executor.shutdown(wait=True, cancel_futures=True)

    @property
    def replacements(self) -> int:
        """How many times a broken executor has been replaced."""
        return self._generation

    def _replace(self, generation: int) -> None:
        """Replace the executor of `generation` if no one has replaced it yet."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the face pool is closed")
            if self._generation != generation:
                return
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            self._generation += 1

    def _submit(self, function: Callable[..., T], *args: Any, **options: Any) -> _Job[T]:
        """Submit to the current executor, replacing it first when it is found broken."""
        for _ in range(3):
            with self._lock:
                if self._closed:
                    raise RuntimeError("the face pool is closed")
                executor, generation = self._executor, self._generation
            try:
                return _Job(executor.submit(function, *args, **options), generation)
            except BrokenProcessPool:  # broken by an earlier item: this one never ran
                self._replace(generation)
            except RuntimeError:  # shut down by a replacement meanwhile: submit to the new one
                if generation == self._generation:
                    raise
        raise BrokenProcessPool("the face pool could not start a worker process")

    def _result(self, job: _Job[T], function: Callable[..., T], *args: Any, **options: Any) -> T:
        """Return the job's result; when its worker died, retry it once on a new executor."""
        try:
            return job.future.result()
        except BrokenProcessPool:
            self._replace(job.generation)
        except CancelledError:  # cancelled, never run, when another caller replaced the pool
            pass
        retry = self._submit(function, *args, **options)
        try:
            return retry.future.result()
        except BrokenProcessPool:
            self._replace(retry.generation)  # leave a working pool behind
            raise

    def _run(self, function: Callable[..., T], *args: Any, **options: Any) -> T:
        """Run one item in a worker process, with one retry on a broken pool."""
        job = self._submit(function, *args, **options)
        return self._result(job, function, *args, **options)

    def detect(self, image_bytes: bytes, **options: Any) -> DetectedImage:
        """Detect and encode the faces of one image in a worker process.

        Parameters
        ----------
        image_bytes : bytes
            The image file.
        **options
            `max_width` and `upsample`, as `wikiloom.faces.detection.detect` takes them.

        Returns
        -------
        DetectedImage
            What `detect` returns in this process, bit for bit.
        """
        return self._run(detect, image_bytes, **options)

    def encode_box(self, image_bytes: bytes, box: Box, space: Size, **options: Any) -> Face:
        """Encode a hand-drawn box in a worker process (see `detection.encode_box`).

        Parameters
        ----------
        image_bytes : bytes
            The image file.
        box : Box
            The face's box, in an image of size `space`.
        space : tuple of int
            (width, height) of the image space the box was drawn in.
        **options
            `max_width`, as `wikiloom.faces.detection.encode_box` takes it.

        Returns
        -------
        Face
            The box in `space` and its encoding.
        """
        return self._run(encode_box, image_bytes, box, space, **options)

    def detect_many(
        self, images: Iterable[bytes], **options: Any
    ) -> Iterator[DetectedImage | Exception]:
        """Detect faces in many images, in order, keeping every process busy.

        Parameters
        ----------
        images : iterable of bytes
            Image files; read lazily, at most two per process ahead of the results.
        **options
            `max_width` and `upsample`, as for `detect`.

        Yields
        ------
        DetectedImage or Exception
            One per image, in the order given: its faces, or the error it raised (a
            `BadRequest` for bytes that are not an image; `BrokenProcessPool` for an image
            whose worker died twice).
        """
        source = iter(images)
        window = 2 * self.processes
        pending: deque[tuple[bytes, _Job[DetectedImage]]] = deque()

        def fill() -> None:
            while len(pending) < window:
                image = next(source, None)
                if image is None:
                    return
                pending.append((image, self._submit(detect, image, **options)))

        try:
            fill()
            while pending:
                image, job = pending.popleft()
                try:
                    result: DetectedImage | Exception = self._result(job, detect, image, **options)
                except Exception as error:
                    result = error
                fill()
                yield result
        finally:
            for _, job in pending:
                job.future.cancel()


class _Job(Generic[T]):
    """A submitted future and the executor generation it went to."""

    __slots__ = ("future", "generation")

    def __init__(self, future: Future[T], generation: int) -> None:
        self.future = future
        self.generation = generation
