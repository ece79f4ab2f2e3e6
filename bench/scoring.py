"""The scoring service: cached latency, an uncached batch from a real wiki, store throughput.

Three parts, side by side in one run (SQLite, the embedded default; `--parts` picks some):

* `cached`: a real server (`python -m wikiloom serve`, 1 worker, uvicorn as `wikiloom serve`
  runs it, in-process LRU score cache) on a SQLite database migrated and loaded by
  `wikiloom demo`, warmed by scoring every demo rev_id once. A load generator in a separate
  process (raw asyncio sockets on keep-alive connections, the standard event loop) then sends
  `GET /v3/scores/enwiki/<rev_id>/reverted/?format=json` for those (cached) revisions at a
  fixed open-loop rate (`--rate`, 500/s) for `--seconds` (20; `--quick` 5): p50/p99 latency,
  the achieved rate and how many requests were sent late. The baseline: the same server's
  `/healthz` at the same rate (the HTTP stack, a thread-pool hop and a `SELECT 1`). Each
  request is timed from the moment its bytes were written to the end of its body; the
  latency from its scheduled moment is given beside it. A request is late when it left more
  than one interval (1/rate) after its moment; `on_schedule` means at most 1 % were. When
  the generator cannot keep up (`keeps_up`: an achieved rate of 99 % of the target) the
  lines say so and `wrk`, where installed, measures the same route too (`--wrk always`:
  in any case; Debian's wrk 4 has no fixed rate, so it measures a closed loop: capacity).
* `uncached_batch`: the test harness's real MediaWiki (`serve_wiki`), 40 accounts, a history
  of pages x 10 revisions (every other one by an account, the others by IPs); the demo model
  (trained on `demo_datasets()`) registered and active under the wiki's dbname in a fresh
  SQLite database; a real server with `WIKILOOM_USER_AGENT` and `WIKILOOM_WIKIS` set. One
  ORES request of 50 revisions that are neither stored nor cached (chosen at random over the
  history, so most parents are not among them), `--repeats` times with fresh revisions each
  time (median kept). The baseline: 50 other fresh revisions asked one request each, one
  after another, as Lift Wing clients must. Beside them: the time `fetch_revisions` of the
  same 50 revisions takes against the wiki from this process (the wiki's share), and the
  feature extraction of them (the CPU share). Two histories side by side: `history_dump`'s
  short synthetic texts (`uncached_batch`), and real enwiki article texts of the test sample
  with one sentence added per edit (`uncached_batch_article_text`, about 59 KB a revision).
* `store_throughput`: the features of both demo splits (19,840 distinct editquality
  revisions) stored with `store_vectors`, the cache cold: every revision scored once through
  `Scorer.score` (`scorer_for`, in process, one event loop, batches of 50 one after another),
  and through a fresh real server by `--clients` concurrent keep-alive clients (batches of
  50 per request).

Every line records the settings used and the CPU of the server and the machine.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import math
import multiprocessing
import os
import queue
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from common import cpu_snapshot, emit, fresh_database, latency_summary, make_settings, note, parser
from http_server import Server, serve

if TYPE_CHECKING:
    from wikiloom.learn.registry import TrainedModel

AGENT = "wikiloom-bench/0.1 (https://example.org/wikiloom; bench@example.org)"
PARTS = ("cached", "uncached_batch", "store_throughput")
MODEL = "reverted"
#: The demo model's feature set (`wikiloom demo`'s).
FEATURE_SET = "ores.enwiki.demo"
BATCH = 50
EDITORS = 40
REVISIONS_PER_PAGE = 10
#: Goals: p99 of a cached score; one uncached request of 50; revision-scores/s from the store.
GOAL_CACHED_P99_MS = 5.0
GOAL_BATCH_SECONDS = 1.0
GOAL_SCORES_PER_SECOND = 1000.0
#: Lift Wing's production median for one revision (the bar ORES clients compare with).
LIFTWING_MEDIAN_SECONDS = 0.48
#: Pre-opened keep-alive connections of the load generator (more are opened when all are busy).
CONNECTIONS = 8


# --- a minimal HTTP/1.1 client on asyncio streams: little CPU per request ---------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; a request is sent and its answer read in turn."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        """Connect (TCP_NODELAY on)."""
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    def send(self, request: bytes) -> None:
        """Write a request (the transport sends it at once when its buffer is empty)."""
        self.writer.write(request)

    async def receive(self) -> tuple[int, bytes]:
        """Read one answer: its status and body (the server sends a Content-Length)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
        length = int(lower[at + 17 : lower.find(b"\r\n", at + 2)])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


def get_request(path: str, port: int) -> bytes:
    """The bytes of a GET request of `path`."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {AGENT}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()


def install_uvloop() -> str:
    """Use uvloop's event loop in this process when it is installed; name the loop used."""
    if importlib.util.find_spec("uvloop") is None:
        return "asyncio"
    import uvloop

    uvloop.install()  # type: ignore[no-untyped-call]
    return "uvloop"


# --- the open-loop load generator (its own process) -------------------------------------------


@dataclass
class Paced:
    """One paced run, per request: its moment, when it left, when answered, its status."""

    scheduled: list[float]
    sent: list[float]
    done: list[float]
    statuses: list[int]
    errors: Counter[str]
    opened: int
    start: float
    last_sent: float
    cpu_per_wall: float


async def paced(
    port: int,
    requests: Sequence[bytes],
    rate: float,
    seconds: float,
    check: Callable[[int, int, bytes], str | None],
    *,
    warm: int,
) -> Paced:
    """Send `requests` (in turn) at `rate` per second for `seconds`, open loop.

    Requests leave at fixed moments whatever the answers do: each takes an idle keep-alive
    connection (first in, first out) or, when all are busy, opens a new one. Every connection
    is warmed with the first `warm` requests before the clock starts. `check(index, status,
    body)` names what is wrong with an answer (counted in `errors`), or None.
    """
    loop = asyncio.get_running_loop()
    idle = [await Connection.open("127.0.0.1", port) for _ in range(CONNECTIONS)]
    for connection in list(idle):  # warm every connection up before the clock starts
        for request in requests[:warm]:
            connection.send(request)
            await connection.receive()
    total = int(rate * seconds)
    run = Paced([0.0] * total, [math.nan] * total, [math.nan] * total, [0] * total,
                Counter(), 0, 0.0, 0.0, math.nan)  # fmt: skip
    interval = 1.0 / rate
    tasks: set[asyncio.Task[None]] = set()

    async def answer(index: int, connection: Connection) -> None:
        try:
            status, body = await connection.receive()
        except Exception as error:
            run.errors[f"{type(error).__name__}: {error}"[:200]] += 1
            connection.close()
            return
        run.done[index] = time.perf_counter()
        run.statuses[index] = status
        problem = check(index, status, body)
        if problem is not None:
            run.errors[problem] += 1
        idle.insert(0, connection)

    gc.collect()
    gc.disable()  # no collector pauses in the generator while it runs
    cpu = time.process_time()
    run.start = start = time.perf_counter() + 0.05
    for index in range(total):
        moment = start + index * interval
        run.scheduled[index] = moment
        wait = moment - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        if idle:
            connection = idle.pop()
        else:
            connection = await Connection.open("127.0.0.1", port)
            run.opened += 1
        run.sent[index] = time.perf_counter()
        connection.send(requests[index % len(requests)])
        task = loop.create_task(answer(index, connection))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    run.last_sent = time.perf_counter()
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - start
    gc.enable()
    for connection in idle:
        connection.close()
    run.cpu_per_wall = cpu / wall if wall else math.nan
    return run


async def open_loop(
    port: int, paths: Sequence[str], rate: float, seconds: float, expect: bytes
) -> dict[str, Any]:
    """GET `paths` (in turn) at `rate` per second for `seconds`, open loop (`paced`); a
    request is late when it leaves more than one interval after its moment."""

    def check(index: int, status: int, body: bytes) -> str | None:
        return f"{status}: {body[:160]!r}" if status != 200 or expect not in body else None

    requests = [get_request(path, port) for path in paths]
    found = await paced(port, requests, rate, seconds, check, warm=5)
    run = Run(len(found.scheduled), CONNECTIONS + found.opened)
    run.scheduled, run.sent, run.done = found.scheduled, found.sent, found.done
    answered = zip(found.statuses, found.done, strict=True)
    run.statuses.update(status for status, done in answered if not math.isnan(done))
    run.errors = found.errors
    return run.result(1.0 / rate, found.start, found.last_sent, found.cpu_per_wall)


class Run:
    """What one generator run records, per request: its moment, when it left, when answered."""

    def __init__(self, total: int, connections: int) -> None:
        self.total = total
        self.connections = connections
        self.scheduled = [0.0] * total
        self.sent = [math.nan] * total
        self.done = [math.nan] * total
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()

    def result(
        self, interval: float, start: float, last_sent: float, cpu_per_wall: float
    ) -> dict[str, Any]:
        """The run as plain values (for the parent process)."""
        lags = [s - m for s, m in zip(self.sent, self.scheduled, strict=True)]
        finished = [i for i in range(self.total) if not math.isnan(self.done[i])]
        return {
            "requests": self.total,
            "answered": len(finished),
            "latency": [self.done[i] - self.sent[i] for i in finished],
            "latency_from_schedule": [self.done[i] - self.scheduled[i] for i in finished],
            "lag": lags,
            "late": sum(lag > interval for lag in lags),
            "send_seconds": last_sent - self.sent[0],
            "answered_by": max((self.done[i] for i in finished), default=start) - start,
            "statuses": dict(self.statuses),
            "errors": dict(self.errors.most_common(5)),
            "connections": self.connections,
            "generator_cpu_per_wall": cpu_per_wall,
        }


def _generator(
    port: int, paths: list[str], rate: float, seconds: float, expect: bytes, results: Any
) -> None:
    """The load generator process (multiprocessing spawn): run, then put the result."""
    try:
        # The standard loop, not uvloop: its timers never fire early (uvloop's, in whole
        # milliseconds of a cached clock, fire up to 1 ms before their moment).
        result = asyncio.run(open_loop(port, paths, rate, seconds, expect))
        result["generator_loop"] = "asyncio (standard loop)"
    except BaseException as error:
        result = {"failed": f"{type(error).__name__}: {error}"}
    results.put(result)


def run_generator(
    server: Server, paths: list[str], rate: float, seconds: float, expect: bytes
) -> dict[str, Any]:
    """Run the load generator in its own process; add the server's and machine's CPU."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = int(server.base_url.rsplit(":", 1)[1])
    child = context.Process(
        target=_generator, args=(port, paths, rate, seconds, expect, results), daemon=True
    )
    child.start()
    # The child spends about a second starting; the CPU counted below includes that idle time.
    before, server_before, began = cpu_snapshot("sqlite"), server.cpu_seconds(), time.perf_counter()
    deadline = time.monotonic() + seconds + 120
    while True:
        try:
            result: dict[str, Any] = results.get(timeout=1)
            break
        except queue.Empty:
            if not child.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the load generator stopped without a result (exit {child.exitcode})"
                ) from None
    wall = time.perf_counter() - began
    server_cpu, after = server.cpu_seconds() - server_before, cpu_snapshot("sqlite")
    child.join(timeout=30)
    if "failed" in result:
        raise RuntimeError(f"the load generator failed: {result['failed']}")
    total = after["total"] - before["total"]
    result["machine_cpu_busy"] = (
        round(1 - (after["idle"] - before["idle"]) / total, 2) if total > 0 else None
    )
    result["server_cpu_seconds"] = server_cpu
    result["server_cpu_per_request_ms"] = server_cpu / max(1, result["answered"]) * 1000
    result["observed_wall"] = wall
    return result


def generator_context(result: dict[str, Any], rate: float, seconds: float) -> dict[str, Any]:
    """The keys every line of one generator run carries."""
    achieved = (result["requests"] - 1) / result["send_seconds"] if result["send_seconds"] else 0
    lag = latency_summary(result["lag"])
    return {
        "target_rate": rate,
        "seconds": seconds,
        "requests": result["requests"],
        "answered": result["answered"],
        "achieved_rate": round(achieved, 1),
        "answered_per_second": round(result["answered"] / result["answered_by"], 1)
        if result["answered_by"]
        else None,
        "late": result["late"],
        "late_means": "sent more than one interval (1/rate) after its scheduled moment",
        "send_lag_p50_ms": lag["p50_ms"],
        "send_lag_p99_ms": lag["p99_ms"],
        "send_lag_max_ms": lag["max_ms"],
        "keeps_up": achieved >= 0.99 * rate,
        "on_schedule": result["late"] <= 0.01 * result["requests"],
        "keeps_up_means": "achieved rate >= 99 % of the target; on_schedule: <= 1 % late",
        "statuses": result["statuses"],
        "errors": result["errors"],
        "connections": result["connections"],
        "generator": f"raw asyncio sockets, keep-alive, {result['generator_loop']}, 1 process",
        "generator_cpu_per_wall": round(result["generator_cpu_per_wall"], 2),
        "server_cpu_per_request_ms": round(result["server_cpu_per_request_ms"], 3),
        "server_cpu_per_wall": round(result["server_cpu_seconds"] / result["observed_wall"], 2),
        "machine_cpu_busy": result["machine_cpu_busy"],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


# --- wrk (optional) ---------------------------------------------------------------------------

WRK_SCRIPT = """
paths = {%s}
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def run_wrk(server: Server, paths: list[str], rate: float, seconds: float) -> dict[str, Any]:
    """The same load from `wrk` (at `rate` where it is wrk2, which has -R; else closed loop)."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    helptext = subprocess.run([wrk, "--help"], check=False, capture_output=True, text=True).stdout
    helptext += subprocess.run([wrk, "--help"], check=False, capture_output=True, text=True).stderr
    rated = "-R" in helptext or "--rate" in helptext
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(f'"{path}"' for path in paths))
    command = [wrk, "-t1", "-c4", f"-d{int(seconds)}s", "--latency", "-s", script.name]
    command += ["-R", str(int(rate))] if rated else []
    command.append(server.base_url)
    out = subprocess.run(command, check=False, capture_output=True, text=True, timeout=seconds + 60)
    os.unlink(script.name)
    found: dict[str, Any] = {
        "command": " ".join(command[:-1]),
        "open_loop": rated,
        "means": f"wrk2 at {rate:g}/s"
        if rated
        else "wrk 4 has no fixed rate: a closed loop of 4 connections (the server's capacity, "
        "latency at saturation), not comparable with the open-loop figures",
    }
    for line in out.stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("50%", "75%", "90%", "99%", "50.000%", "99.000%"):
            found[f"p{words[0].split('.')[0].rstrip('%')}_ms"] = _wrk_ms(words[1])
        elif line.startswith("Requests/sec:"):
            found["requests_per_second"] = float(words[1])
        elif "Non-2xx" in line or "Socket errors" in line:
            found.setdefault("errors", []).append(line.strip())
    found["output_tail"] = out.stdout[-400:]
    return found


def _wrk_ms(text: str) -> float:
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)):
        if text.endswith(suffix):
            return round(float(text[: -len(suffix)]) * factor, 3)
    return float(text)


# --- what the parts share ----------------------------------------------------------------------


def server_context() -> dict[str, Any]:
    """How the server runs."""
    return {
        "server": "python -m wikiloom serve --workers 1 (uvicorn.run(create_app(settings)))",
        "uvicorn_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "uvicorn_http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "log_level": "warning",
        "database": "sqlite",
        "score_cache": "in-process LRU (no redis_url)",
    }


def trained_demo() -> TrainedModel:
    """The demo model, trained as `wikiloom demo` trains it."""
    from wikiloom.learn.demo import demo_datasets
    from wikiloom.learn.featuresets import feature_set
    from wikiloom.learn.training import TrainingOptions, train

    training, testing = demo_datasets()
    features = feature_set(FEATURE_SET)
    return train(
        training,
        TrainingOptions(seed=0),
        evaluate_on=testing,
        feature_set=(features.name, features.version),
        provenance={"note": "bench/scoring.py"},
    )


def register(url: str, wiki: str, trained: TrainedModel) -> str:
    """Register `trained` as `wiki`'s active `reverted` model; return its version."""
    from wikiloom.db import make_engine, session_factory, transaction
    from wikiloom.learn.registry import create_model, register_version, set_status

    engine = make_engine(make_settings(url))
    with transaction(session_factory(engine), write=True) as session:
        model = create_model(session, wiki, MODEL, "reverted", actor="bench")
        version = register_version(session, model, trained, actor="bench").version
        set_status(session, model, "active", actor="bench", reason="bench/scoring.py")
    engine.dispose()
    return version


@contextmanager
def cache_settings() -> Iterator[dict[str, str]]:
    """Server settings for the in-process cache, whatever the environment says of Redis."""
    saved = os.environ.pop("WIKILOOM_REDIS_URL", None)
    try:
        yield {}
    finally:
        if saved is not None:
            os.environ["WIKILOOM_REDIS_URL"] = saved


# --- part 1: cached scores at a fixed rate ------------------------------------------------------


def cached(rate: float, seconds: float, wrk_mode: str) -> None:
    """A warmed server answering cached scores at `rate`, and `/healthz` at the same rate."""
    from wikiloom.labels.demo import demo_rev_ids

    with fresh_database("sqlite") as url, cache_settings():
        note("loading the demo (wikiloom demo)")
        env = {**os.environ, "WIKILOOM_DATABASE_URL": url}
        loaded = subprocess.run(
            [sys.executable, "-m", "wikiloom", "demo"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
        )
        if loaded.returncode:
            raise RuntimeError(f"wikiloom demo failed: {loaded.stderr[-2000:]}")
        note(loaded.stdout.strip().replace("\n", "; "))
        rev_ids = sorted(demo_rev_ids())
        with serve(url) as server:
            note(f"warming: scoring each of {len(rev_ids)} demo revisions once")
            warm: list[int] = []
            with httpx.Client(base_url=server.base_url, timeout=60) as client:
                for rev_id in rev_ids:
                    answer = client.get(f"/v3/scores/enwiki/{rev_id}/{MODEL}/?format=json")
                    answer.raise_for_status()
                    score = answer.json()["enwiki"]["scores"][str(rev_id)][MODEL]
                    if "score" in score:
                        warm.append(rev_id)
            random.Random(1).shuffle(warm)
            paths = [f"/v3/scores/enwiki/{rev_id}/{MODEL}/?format=json" for rev_id in warm]
            shapes = {
                "cached": (paths, b'"score"'),
                "healthz": (["/healthz"], b'"ok"'),
            }
            p99 = {
                shape: rate_run(server, shape, wanted, expect, rate, seconds, wrk_mode)
                for shape, (wanted, expect) in shapes.items()
            }
            emit(
                "cached.p99_ratio_to_healthz",
                p99["cached"] / p99["healthz"] if p99["healthz"] else None,
                "x",
                revisions=len(warm),
            )


def rate_run(
    server: Server,
    shape: str,
    paths: list[str],
    expect: bytes,
    rate: float,
    seconds: float,
    wrk_mode: str,
) -> float:
    """One open-loop run of `paths` at `rate`: its lines (and wrk's); answers its p99 in ms."""
    note(f"{shape}: {rate:g} requests/s for {seconds:g} s")
    result = run_generator(server, paths, rate, seconds, expect)
    summary = latency_summary(result["latency"])
    corrected = latency_summary(result["latency_from_schedule"])
    context = {
        **generator_context(result, rate, seconds),
        **server_context(),
        "route": "/healthz" if shape == "healthz" else f"/v3/scores/enwiki/{{rev_id}}/{MODEL}/",
        "baseline": shape == "healthz",
        "latency_means": "from the request's bytes written to its body read",
        "from_schedule_p50_ms": corrected["p50_ms"],
        "from_schedule_p99_ms": corrected["p99_ms"],
        "p90_ms": summary["p90_ms"],
        "max_ms": summary["max_ms"],
    }
    if shape == "cached":
        context |= {
            "revisions": len(paths),
            "goal": GOAL_CACHED_P99_MS,
            "goal_met": summary["p99_ms"] <= GOAL_CACHED_P99_MS,
        }
    else:
        context["healthz_does"] = "a sync route: thread-pool hop, a Session, SELECT 1"
    if not context["keeps_up"]:
        context["note"] = f"the Python generator did not keep up with {rate:g}/s here"
    elif not context["on_schedule"]:
        context["note"] = (
            f"{result['late']} requests left more than {1000 / rate:g} ms late: the generator "
            "(not CPU-bound) was not scheduled in time on the shared cores"
        )
    emit(f"{shape}.latency_p50_ms", summary["p50_ms"], "ms", **context)
    emit(f"{shape}.latency_p99_ms", summary["p99_ms"], "ms", **context)
    emit(
        f"{shape}.achieved_rate",
        context["achieved_rate"],
        "requests/s",
        target_rate=rate,
        late=context["late"],
        keeps_up=context["keeps_up"],
        on_schedule=context["on_schedule"],
        answered_per_second=context["answered_per_second"],
    )
    if wrk_mode == "always" or (wrk_mode == "auto" and not context["keeps_up"]):
        if shutil.which("wrk") is None:
            emit(f"{shape}.wrk.latency_p99_ms", None, "ms", skipped="wrk is not installed")
        else:
            found = run_wrk(server, paths, rate, seconds)
            emit(f"{shape}.wrk.latency_p99_ms", found.get("p99_ms"), "ms", **found)
    return float(summary["p99_ms"])


# --- part 2: one uncached batch from a real wiki ------------------------------------------------


async def fetch_share(api_url: str, dbname: str, rev_ids: list[int]) -> dict[str, Any]:
    """How long the wiki takes to give these revisions, and extraction their features."""
    from wikiloom.learn.featuresets import feature_set
    from wikiloom.wiki.client import WikiClient
    from wikiloom.wiki.revisions import Revision, fetch_revisions

    client = WikiClient(AGENT, custom_wikis={dbname: api_url}, timeout=60)
    try:
        await client.siteinfo(dbname)
        client.requests = 0
        began = time.perf_counter()
        found = await fetch_revisions(client, dbname, rev_ids)
        fetched = time.perf_counter() - began
    finally:
        await client.aclose()
    records = [value for value in found.values() if isinstance(value, Revision)]
    began = time.perf_counter()
    feature_set(FEATURE_SET).transform(records)
    extracted = time.perf_counter() - began
    return {
        "wiki_fetch_s": round(fetched, 3),
        "wiki_requests": client.requests,
        "extract_s": round(extracted, 4),
        "text_chars_mean": round(statistics.mean(len(r.text or "") for r in records)),
    }


TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.DOTALL)


def article_texts(revisions: int) -> Callable[[int, int], str]:
    """Real enwiki article texts (the test sample's), one sentence added per edit.

    Page p starts from the p-th article of the sample that is not a redirect; revision r adds
    a sentence to the r sentences of the revision before, at its own line (for `history_dump`).
    """
    from tests.support.mediawiki import SAMPLE_DUMP, read_dump

    articles = [
        text
        for text in TEXT.findall(read_dump(SAMPLE_DUMP).decode())
        if not text.lstrip().upper().startswith("#REDIRECT") and len(text) > 2000
    ]

    def text(p: int, r: int) -> str:
        edited = articles[p % len(articles)].split("\n")
        lines = len(edited)
        for k in range(r, 0, -1):  # from the end, so that earlier positions stay put
            edited.insert(
                k * lines // (revisions + 1),
                f"Edit {k} of this page adds one more sentence about looms.",
            )
        return "\n".join(edited)

    return text


def uncached(trained: TrainedModel, repeats: int) -> None:
    """Score fresh revisions of a real MediaWiki: batches of 50, and one by one.

    Two histories, side by side on one wiki and one server: `uncached_batch`, the short
    synthetic texts of `history_dump` (as bench/wiki_revisions.py imports), and
    `uncached_batch_article_text`, real enwiki article texts with one sentence added per edit.
    """
    from tests.support.mediawiki import (
        DEFAULT_MEDIAWIKI_DIR,
        SERVER_WORKERS,
        history_dump,
        serve_wiki,
    )

    mediawiki_dir = Path(DEFAULT_MEDIAWIKI_DIR)
    if not (mediawiki_dir / "maintenance" / "install.php").is_file():
        emit("uncached_batch.skipped", None, "", reason=f"no MediaWiki at {mediawiki_dir}")
        return
    batches = 1 + repeats + 1  # a warm-up batch, the measured ones, the one-by-one baseline
    pages = -(-batches * BATCH // REVISIONS_PER_PAGE)
    shapes = {"uncached_batch": "Scoring page", "uncached_batch_article_text": "Scoring article"}
    found: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="wikiloom-bench-wiki-") as root,
        fresh_database("sqlite") as url,
        cache_settings(),
    ):
        note("installing and seeding the wiki")
        with serve_wiki(mediawiki_dir, Path(root)) as wiki:
            editors = [f"Scoring editor {n}" for n in range(EDITORS)]
            wiki.create_users(editors)
            note(f"importing 2 x {pages} x {REVISIONS_PER_PAGE} revisions")
            wiki.import_dump(
                history_dump(shapes["uncached_batch"], pages, REVISIONS_PER_PAGE, editors)
            )
            articles = article_texts(REVISIONS_PER_PAGE)
            prefix = shapes["uncached_batch_article_text"]
            wiki.import_dump(
                history_dump(prefix, pages, REVISIONS_PER_PAGE, editors, text=articles, series=1)
            )
            chosen = {}
            for shape, prefix in shapes.items():
                rev_ids = [r for p in range(pages) for r in wiki.history(f"{prefix} {p}")]
                random.Random(2).shuffle(rev_ids)
                chosen[shape] = [rev_ids[i * BATCH : (i + 1) * BATCH] for i in range(batches)]
                assert all(len(b) == BATCH for b in chosen[shape]), "too few revisions imported"
            version = register(url, wiki.dbname, trained)
            wikis = orjson.dumps({wiki.dbname: wiki.api_url}).decode()
            with serve(url, user_agent=AGENT, wikis=wikis) as server:
                for shape in shapes:
                    note(shape)
                    found[shape] = measure_uncached(server, wiki.dbname, chosen[shape])
            for shape in shapes:
                found[shape]["breakdown"] = asyncio.run(
                    fetch_share(wiki.api_url, wiki.dbname, chosen[shape][1])
                )
    context = {
        **server_context(),
        "via": "real server (python -m wikiloom serve), httpx client in the bench process",
        "revisions": BATCH,
        "repeats": repeats,
        "wiki": f"MediaWiki (Debian) on SQLite, php -S with {SERVER_WORKERS} workers",
        "history": f"{pages} pages x {REVISIONS_PER_PAGE} revisions (shuffled; most parents "
        "not in a batch)",
        "editors": EDITORS,
        "model_version": version,
        "liftwing_median_one_revision_s": LIFTWING_MEDIAN_SECONDS,
    }
    for shape, measured in found.items():
        emit_uncached(shape, measured, context)


def emit_uncached(shape: str, found: dict[str, Any], context: dict[str, Any]) -> None:
    """The lines of one history: the batch, the one-by-one baseline, their ratio."""
    median = statistics.median(seconds for seconds, _ in found["runs"])
    texts = (
        "history_dump: short synthetic texts"
        if shape == "uncached_batch"
        else ("real enwiki article texts (tests/data/enwiki_sample), one sentence added per edit")
    )
    emit(
        f"{shape}.seconds",
        median,
        "s",
        texts=texts,
        runs_s=[round(seconds, 3) for seconds, _ in found["runs"]],
        server_cpu_s=[round(cpu, 3) for _, cpu in found["runs"]],
        first_request_s=round(found["cold"], 3),
        breakdown=found["breakdown"],
        goal=GOAL_BATCH_SECONDS,
        goal_met=median <= GOAL_BATCH_SECONDS,
        **context,
    )
    single = shape.replace("_batch", "_single")
    singles = found["singles"]
    total = sum(singles)
    emit(
        f"{single}.seconds_per_revision",
        statistics.median(singles),
        "s",
        baseline=True,
        texts=texts,
        revisions=BATCH,
        p90_s=round(sorted(singles)[int(0.9 * len(singles))], 3),
        total_s=round(total, 3),
        server_cpu_per_revision_s=round(found["singles_cpu"] / BATCH, 4),
        via="one request per revision, one after another (as Lift Wing clients must)",
        liftwing_median_one_revision_s=LIFTWING_MEDIAN_SECONDS,
    )
    emit(f"{single}.seconds_for_50", total, "s", baseline=True, revisions=BATCH)
    emit(f"{shape}.speedup_over_one_by_one", total / median, "x")


def measure_uncached(server: Server, dbname: str, chosen: list[list[int]]) -> dict[str, Any]:
    """A warm-up batch, then each measured batch, then the last batch's revisions one by one."""
    base = f"/v3/scores/{dbname}/"
    with httpx.Client(base_url=server.base_url, timeout=120) as client:

        def batch(revs: list[int]) -> float:
            began = time.perf_counter()
            params = {"revids": "|".join(map(str, revs)), "models": MODEL, "format": "json"}
            answer = client.get(base, params=params)
            seconds = time.perf_counter() - began
            answer.raise_for_status()
            scores = answer.json()[dbname]["scores"]
            bad = [r for r in revs if "score" not in scores[str(r)][MODEL]]
            assert not bad, f"not scored: {scores[str(bad[0])]}"
            return seconds

        note("warm-up batch (loads the model, opens the wiki client)")
        cold = batch(chosen[0])
        runs = []
        for index, revs in enumerate(chosen[1:-1]):
            before = server.cpu_seconds()
            seconds = batch(revs)
            runs.append((seconds, server.cpu_seconds() - before))
            note(f"batch {index + 1}: {seconds:.3f} s")
        singles = []
        before = server.cpu_seconds()
        for rev_id in chosen[-1]:
            began = time.perf_counter()
            answer = client.get(f"{base}{rev_id}/{MODEL}/", params={"format": "json"})
            singles.append(time.perf_counter() - began)
            answer.raise_for_status()
            assert "score" in answer.json()[dbname]["scores"][str(rev_id)][MODEL]
        singles_cpu = server.cpu_seconds() - before
    return {"cold": cold, "runs": runs, "singles": singles, "singles_cpu": singles_cpu}


# --- part 3: revision-scores per second from the feature store -----------------------------------


def store_everything(url: str) -> dict[int, list[float]]:
    """Store the features of both demo splits; return them by rev_id."""
    from wikiloom.db import make_engine, session_factory, transaction
    from wikiloom.learn.demo import demo_datasets
    from wikiloom.learn.featuresets import feature_set
    from wikiloom.learn.featurestore import store_vectors

    features = feature_set(FEATURE_SET)
    vectors: dict[int, list[float]] = {}
    for dataset in demo_datasets():
        for rev_id, row in zip(dataset.ids or (), dataset.X.tolist(), strict=True):
            vectors.setdefault(rev_id, row)
    engine = make_engine(make_settings(url))
    width = len(features.get_feature_names_out())
    with transaction(session_factory(engine), write=True) as session:
        store_vectors(session, "enwiki", features.name, features.version, width, vectors)
    engine.dispose()
    return vectors


def no_wiki() -> Any:
    """The scorer's wiki client: none is needed (every revision is stored), so none is made."""
    raise AssertionError("a stored revision was fetched from the wiki")


async def in_process(url: str, batches: list[list[int]]) -> dict[str, Any]:
    """Score the batches one after another through one `Scorer` (one event loop)."""
    from wikiloom.db import make_engine, session_factory
    from wikiloom.scoring.scores import ScoreRequest, scorer_for

    settings = make_settings(url, redis_url=None)
    engine = make_engine(settings)
    scorer = scorer_for(settings, session_factory(engine), no_wiki)
    scored = 0
    try:
        warm = await scorer.score(ScoreRequest("enwiki", tuple(batches[0]), (MODEL,)))
        assert all("score" in s[MODEL] for s in warm.scores.values())
        cpu, began = time.process_time(), time.perf_counter()
        for revs in batches[1:]:
            response = await scorer.score(ScoreRequest("enwiki", tuple(revs), (MODEL,)))
            scored += sum("score" in s[MODEL] for s in response.scores.values())
            assert response.cached == 0
        wall = time.perf_counter() - began
        cpu = time.process_time() - cpu
    finally:
        engine.dispose()
    return {"scored": scored, "seconds": wall, "cpu_per_wall": cpu / wall}


async def over_http(port: int, batches: list[list[int]], clients: int) -> dict[str, Any]:
    """Score the batches through the server, `clients` keep-alive clients taking them in turn."""
    pending = iter(batches[1:])
    scored = Counter[str]()
    latencies: list[float] = []

    async def one(revs: list[int], connection: Connection) -> int:
        path = f"/v3/scores/enwiki/?models={MODEL}&format=json&revids={'|'.join(map(str, revs))}"
        began = time.perf_counter()
        connection.send(get_request(path, port))
        status, body = await connection.receive()
        latencies.append(time.perf_counter() - began)
        if status != 200:
            raise RuntimeError(f"{status}: {body[:300]!r}")
        scores = orjson.loads(body)["enwiki"]["scores"]
        return sum("score" in s[MODEL] for s in scores.values())

    async def client() -> None:
        connection = await Connection.open("127.0.0.1", port)
        for revs in pending:
            count = await one(revs, connection)
            scored["scores"] += count
        connection.close()

    cpu, began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - began
    cpu = time.process_time() - cpu
    return {
        "scored": scored["scores"],
        "seconds": wall,
        "client_cpu_per_wall": cpu / wall,
        "request": latency_summary(latencies),
    }


def store_throughput(clients: int, limit: int | None) -> None:
    """Revision-scores per second from the feature store: in process, then over HTTP."""
    with fresh_database("sqlite") as url, cache_settings():
        note("training the demo model and storing both splits' features")
        register(url, "enwiki", trained_demo())
        vectors = store_everything(url)
        rev_ids = sorted(vectors)
        random.Random(3).shuffle(rev_ids)
        if limit:
            rev_ids = rev_ids[:limit]
        batches = [rev_ids[i : i + BATCH] for i in range(0, len(rev_ids), BATCH)]
        common = {
            "stored_revisions": len(vectors),
            "scored_revisions": len(rev_ids) - len(batches[0]),
            "batch": BATCH,
            "cache": "cold (every revision scored once; a warm-up batch excluded)",
            "goal": GOAL_SCORES_PER_SECOND,
            "cpus": os.cpu_count(),
        }
        note(f"in process: {len(batches) - 1} batches of {BATCH}")
        loop_name = install_uvloop()
        found = asyncio.run(in_process(url, batches))
        rate = found["scored"] / found["seconds"]
        emit(
            "store_throughput.scores_per_second",
            rate,
            "scores/s",
            via="in process: scorer_for(settings, factory, client).score, one event loop, "
            "batches one after another",
            event_loop=loop_name,
            database="sqlite",
            seconds=round(found["seconds"], 3),
            scored=found["scored"],
            cpu_per_wall=round(found["cpu_per_wall"], 2),
            ms_per_batch=round(found["seconds"] / (len(batches) - 1) * 1000, 2),
            goal_met=rate >= GOAL_SCORES_PER_SECOND,
            **common,
        )
        with serve(url) as server:
            note(f"over HTTP: {clients} clients")
            port = int(server.base_url.rsplit(":", 1)[1])
            warm = f"/v3/scores/enwiki/?models={MODEL}&revids={'|'.join(map(str, batches[0]))}"
            httpx.get(server.base_url + warm, timeout=60).raise_for_status()  # loads the model
            before, server_before = cpu_snapshot("sqlite"), server.cpu_seconds()
            found = asyncio.run(over_http(port, batches, clients))
            after, server_cpu = cpu_snapshot("sqlite"), server.cpu_seconds() - server_before
            total = after["total"] - before["total"]
            rate = found["scored"] / found["seconds"]
            emit(
                "store_throughput.scores_per_second",
                rate,
                "scores/s",
                via=f"HTTP: GET /v3/scores/enwiki/?revids=<50>&models=reverted, {clients} "
                "concurrent keep-alive clients (raw asyncio sockets) in the bench process",
                **server_context(),
                clients=clients,
                seconds=round(found["seconds"], 3),
                scored=found["scored"],
                request_p50_ms=found["request"]["p50_ms"],
                request_p99_ms=found["request"]["p99_ms"],
                server_cpu_per_wall=round(server_cpu / found["seconds"], 2),
                server_cpu_per_batch_ms=round(server_cpu / (len(batches) - 1) * 1000, 2),
                client_cpu_per_wall=round(found["client_cpu_per_wall"], 2),
                machine_cpu_busy=round(1 - (after["idle"] - before["idle"]) / total, 2)
                if total > 0
                else None,
                goal_met=rate >= GOAL_SCORES_PER_SECOND,
                **common,
            )


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts")
    options.add_argument("--rate", type=float, default=500.0, help="requests/s (cached)")
    options.add_argument("--seconds", type=float, default=None, help="seconds per rate run")
    options.add_argument("--repeats", type=int, default=3, help="uncached batches (median kept)")
    options.add_argument("--clients", type=int, default=4, help="HTTP clients (store_throughput)")
    options.add_argument(
        "--wrk",
        choices=("auto", "always", "never"),
        default="auto",
        help="run wrk too: when the Python generator falls behind (auto), always, never",
    )
    args = options.parse_args()
    if "sqlite" not in {tier.strip() for tier in args.tiers.split(",")}:
        emit("skipped", None, "", reason="bench/scoring.py runs on SQLite (the embedded default)")
        return
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    if "cached" in parts:
        cached(args.rate, seconds, args.wrk)
    if "uncached_batch" in parts:
        note("training the demo model")
        uncached(trained_demo(), 1 if args.quick else args.repeats)
    if "store_throughput" in parts:
        store_throughput(args.clients, 2_000 if args.quick else None)


if __name__ == "__main__":
    main()
