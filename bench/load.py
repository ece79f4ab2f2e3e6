"""Load: 200 labelers at once for 60 s, then 500 cached scores per second, on PostgreSQL (#10).

Two parts against a real server (`python -m wikiloom serve --workers 2`, a subprocess on
loopback) over a fresh, migrated PostgreSQL database (`wikiloom_bench_load`, dropped after):

* `labelers`: a campaign of 100,000 tasks (20,000 with --quick; labels_per_task 2,
  tasks_per_assignment 10) loaded through `insert_tasks`; `--users` (200) simulated labelers
  for `--seconds` (60; --quick 15), each an `httpx.AsyncClient` of its own (its own keep-alive
  connection and session cookie, logged in through the development login before the clock
  starts), spread over `--processes` (2) client processes running asyncio. Each labeler asks
  for a workset (`POST /campaigns/<wiki>/<id>/` with `tasks`), then for each task thinks
  0.5-1.5 x `--think` seconds (3) and labels it (`POST .../<workset>/<task>/`, `label=<json>`)
  or, one time in ten (`--skip`), skips it (`DELETE .../<workset>/<task>/`); one workset in
  ten (`--abandon`) is abandoned part-way (`DELETE .../<workset>/`: its unlabeled tasks go
  back). A labeler told that a workset is already assigned to them reads it (`GET
  .../<workset>/?tasks`, route `resume`) and carries on with it. Arrivals are staggered over
  the first min(10 x think, seconds / 3) seconds. A 5xx or a broken connection is tried again
  after `--retry-pause` s (a person clicking again). These four operations are Wiki labels'
  whole write API (docs/api.md): there is nothing else a labeler does. The baseline, on the
  same server just before: 1 labeler without think time (a closed loop) for 5 s (--quick 3).
* `scoring`: `wikiloom demo` loads the demo model (editquality `reverted`, stored features)
  into the same database; a fresh server with the Redis score cache (`--redis-url`, ORES's
  keys; the in-process cache and 1 worker when Redis does not answer) is warmed by scoring
  every demo revision once, then an open-loop generator (its own process, raw asyncio
  sockets on keep-alive connections) sends `--rate` (500) requests/s for `--scoring-seconds`
  (30; --quick 10), alternating ORES v3 `GET /v3/scores/enwiki/<rev_id>/reverted/` and Lift
  Wing v1 `POST /v1/models/enwiki-reverted:predict` `{"rev_id": N}`, each request as one of
  100 tools (`X-Client-IP`, as behind Wikimedia's proxies: the per-client limit is 8 in
  flight). Requests leave at fixed moments whatever the answers do; a request is late when
  it left more than one interval (1/rate) after its moment. The baseline, on the same server
  just before: the same requests at `--baseline-rate` (50/s) for 5 s.

Figures (one JSON line each):

* `load.labelers.latency` (per route and `role`, baseline or measured): p50 / p90 / p99 / max
  in ms of the 2xx answers (request sent to body read), requests, statuses, 5xx count (goal
  0), other errors by status, `ratio_p99_to_baseline`.
* `load.labelers.throughput`: requests, labels, assignments per second; CPU of the server's
  workers, of PostgreSQL, of the clients and the machine's busy share.
* `load.labelers.labels_lost`: labels answered 2xx that are not in the database (goal 0).
* `load.invariant_violations`: rows breaking tests/labels/invariants.py afterwards (goal 0).
* `load.scoring.latency` (per route and `role`): p50 / p99 / max of cached scores, and from
  the scheduled moment; requests, statuses, 5xx count, `ratio_p99_to_baseline`.
* `load.scoring.rate`: the target and achieved rates, late requests, the send lag.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import queue
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, text

from common import (
    GOOD_LABEL,
    collect_clients,
    cpu_snapshot,
    emit,
    emit_invariants,
    fresh_database,
    latency_summary,
    load_campaign,
    note,
    parser,
    server_settings,
    start_clients,
    tiers,
)
from http_server import Server, serve
from scoring import AGENT, paced

DATABASE = "wikiloom_bench_load"
DIALECTS = {"postgres": "postgresql", "mariadb": "mysql", "sqlite": "sqlite"}
LABEL_FORM = {"label": orjson.dumps(GOOD_LABEL).decode()}
#: What each labeling route is, in Wiki labels' API.
ROUTES = {
    "assign": "POST /campaigns/<wiki>/<campaign>/ (tasks)",
    "resume": "GET /campaigns/<wiki>/<campaign>/<workset>/?tasks",
    "label": "POST /campaigns/<wiki>/<campaign>/<workset>/<task>/ (label=<json>)",
    "skip": "DELETE /campaigns/<wiki>/<campaign>/<workset>/<task>/",
    "abandon": "DELETE /campaigns/<wiki>/<campaign>/<workset>/",
}
SCORING_ROUTES = {
    "ores_v3": "GET /v3/scores/enwiki/<rev_id>/reverted/",
    "liftwing_v1": "POST /v1/models/enwiki-reverted:predict",
}
#: "Incomplete workset_id=N already assigned to user_id=M ...": the workset to carry on with.
HELD = re.compile(r"workset_id=(\d+) already assigned")
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
#: Server settings of the labeling runs: the simulated people share one loopback address, so
#: the per-address limit of label POSTs (300/minute, `rate_limits`) is raised out of the way
#: (real people have addresses of their own); the middleware still runs.
PEOPLE = {"rate_limits": orjson.dumps({"labels": "1000000/minute"}).decode()}
TOOLS = 100
#: Keep-alive connections the scoring generator opens before the clock starts.
CONNECTIONS = 16


# --- what the labelers measure -----------------------------------------------------------------


@dataclass
class Behaviour:
    """How a simulated labeler behaves."""

    think: float = 3.0
    skip: float = 0.1
    abandon: float = 0.1
    retry_pause: float = 0.25
    #: Seconds after the end in which an unanswered request is still tried again.
    grace: float = 30.0


def problem(answer: httpx.Response) -> str:
    """An error answer's message (Wiki labels' envelope), numbers replaced by N."""
    try:
        message = str(answer.json()["error"]["message"])
    except Exception:
        message = answer.text[:120]
    return re.sub(r"\d+", "N", message)[:160]


@dataclass
class Tally:
    """What the labelers of one process measured."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {r: [] for r in ROUTES})
    statuses: dict[str, Counter[str]] = field(
        default_factory=lambda: {r: Counter() for r in ROUTES}
    )
    problems: Counter[str] = field(default_factory=Counter)
    #: The first 5xx answers (route, status, Retry-After, body) and broken requests.
    samples: list[dict[str, Any]] = field(default_factory=list)
    #: Every request: (sent, answered, route, status; 0 = no answer), on the monotonic clock.
    events: list[tuple[float, float, str, int]] = field(default_factory=list)
    #: (task_id, user_id) of every label answered 2xx.
    acknowledged: list[tuple[int, int]] = field(default_factory=list)
    unavailable_without_retry_after: int = 0
    logins_failed: int = 0
    started: float = 0.0
    wall: float = 0.0
    cpu_seconds: float = 0.0

    def record(
        self,
        route: str,
        began: float,
        ended: float,
        answer: httpx.Response | None,
        broken: str = "",
    ) -> None:
        """Count one request."""
        status = answer.status_code if answer is not None else 0
        self.events.append((began, ended, route, status))
        if answer is None:
            self.statuses[route]["no answer"] += 1
            self.problems[f"{route} no answer: {broken}"[:200]] += 1
            if len(self.samples) < 20:
                self.samples.append({"route": route, "status": None, "error": broken[:300]})
            return
        self.statuses[route][str(status)] += 1
        if answer.is_success:
            self.latencies[route].append(ended - began)
            return
        self.problems[f"{route} {status}: {problem(answer)}"] += 1
        if status >= 500:
            retry_after = answer.headers.get("retry-after")
            if status == 503 and retry_after is None:
                self.unavailable_without_retry_after += 1
            if len(self.samples) < 20:
                self.samples.append(
                    {
                        "route": route,
                        "status": status,
                        "retry_after": retry_after,
                        "body": answer.text[:300],
                    }
                )

    def merge(self, other: Tally) -> None:
        """Add another process's measurements."""
        for route in ROUTES:
            self.latencies[route].extend(other.latencies[route])
            self.statuses[route].update(other.statuses[route])
        self.problems.update(other.problems)
        self.samples.extend(other.samples[: max(0, 40 - len(self.samples))])
        self.events.extend(other.events)
        self.acknowledged.extend(other.acknowledged)
        self.unavailable_without_retry_after += other.unavailable_without_retry_after
        self.logins_failed += other.logins_failed
        self.started = max(self.started, other.started)
        self.wall = max(self.wall, other.wall)
        self.cpu_seconds += other.cpu_seconds


class Labeler:
    """One simulated person with their own client: assign, label or skip, sometimes abandon."""

    def __init__(
        self, client: httpx.AsyncClient, campaign: str, user: int, how: Behaviour, tally: Tally
    ) -> None:
        self.client = client
        self.campaign = campaign
        self.user = user
        self.how = how
        self.tally = tally
        self.rng = random.Random(user)

    async def call(
        self, route: str, method: str, url: str, **options: Any
    ) -> httpx.Response | None:
        """Send one request and count it."""
        began = time.monotonic()
        try:
            answer = await self.client.request(method, url, **options)
        except httpx.HTTPError as error:
            self.tally.record(route, began, time.monotonic(), None, f"{type(error).__name__}")
            return None
        self.tally.record(route, began, time.monotonic(), answer)
        return answer

    async def persist(
        self, route: str, method: str, url: str, stop: float, **options: Any
    ) -> httpx.Response | None:
        """Send until answered below 500 (a person clicking again), or until `stop`."""
        while True:
            answer = await self.call(route, method, url, **options)
            if answer is not None and answer.status_code < 500:
                return answer
            if time.monotonic() + self.how.retry_pause > stop:
                return answer
            await asyncio.sleep(self.how.retry_pause)

    async def run(self, deadline: float, arrival: float) -> None:
        """Work until `deadline`: worksets one after another."""
        stop = deadline + self.how.grace
        await asyncio.sleep(arrival)
        while time.monotonic() < deadline:
            answer = await self.persist("assign", "POST", self.campaign, stop, data={"tasks": ""})
            if answer is None or answer.status_code >= 500:
                return
            if answer.status_code == 409 and (held := HELD.search(answer.text)):
                workset = int(held.group(1))
                answer = await self.persist(
                    "resume", "GET", f"{self.campaign}{workset}/", stop, params={"tasks": ""}
                )
                if answer is None or not answer.is_success:
                    await asyncio.sleep(1.0)
                    continue
                tasks = [t["id"] for t in answer.json()["tasks"] if not t["labels"]]
            elif answer.is_success:
                body = answer.json()
                workset = body["workset"]["id"]
                tasks = [task["id"] for task in body["tasks"]]
            else:  # no task left for this user, or another refusal: come back later
                await asyncio.sleep(1.0)
                continue
            await self.work(workset, tasks, deadline, stop)

    async def work(self, workset: int, tasks: list[int], deadline: float, stop: float) -> None:
        """Label or skip each task; perhaps abandon the workset part-way."""
        rng, how = self.rng, self.how
        abandon_at = None
        if len(tasks) > 1 and rng.random() < how.abandon:
            abandon_at = rng.randrange(1, len(tasks))
        for index, task in enumerate(tasks):
            await asyncio.sleep(how.think * rng.uniform(0.5, 1.5))
            if time.monotonic() >= deadline:
                return  # the person leaves; the workset stays open until it expires
            if index == abandon_at:
                await self.persist("abandon", "DELETE", f"{self.campaign}{workset}/", stop)
                return
            url = f"{self.campaign}{workset}/{task}/"
            if rng.random() < how.skip:
                await self.persist("skip", "DELETE", url, stop)
                continue
            answer = await self.persist("label", "POST", url, stop, data=LABEL_FORM)
            if answer is not None and answer.is_success:
                self.tally.acknowledged.append((task, self.user))


async def _login(client: httpx.AsyncClient, user: int) -> bool:
    try:
        answer = await client.post(
            "/auth/dev_login/", data={"user_id": user, "username": f"U{user}"}
        )
    except httpx.HTTPError:
        return False
    return answer.is_success


async def _labelers(
    base_url: str,
    campaign: str,
    users: list[int],
    seconds: float,
    how: Behaviour,
    ready: Callable[[], object],
) -> Tally:
    """Log every labeler in, wait for `ready()` (in a thread), then run them all."""
    tally = Tally()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) for _ in users]
    try:
        logged = await asyncio.gather(*(_login(c, u) for c, u in zip(clients, users, strict=True)))
        tally.logins_failed = logged.count(False)
        await asyncio.to_thread(ready)
        began, cpu = time.monotonic(), time.process_time()
        tally.started = began
        deadline = began + seconds
        window = min(how.think * 10, seconds / 3) if how.think else 0.0
        await asyncio.gather(
            *(
                Labeler(client, campaign, user, how, tally).run(
                    deadline, random.Random(-user).uniform(0, window)
                )
                for client, user in zip(clients, users, strict=True)
            )
        )
        tally.wall = time.monotonic() - began
        tally.cpu_seconds = time.process_time() - cpu
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    return tally


def _client_process(
    base_url: str,
    campaign: str,
    users: list[int],
    seconds: float,
    how: Behaviour,
    start: Any,
    results: Any,
) -> None:
    """A client process (multiprocessing spawn): its labelers; the tally goes to `results`."""
    try:
        tally = asyncio.run(
            _labelers(base_url, campaign, users, seconds, how, lambda: start.wait(timeout=600))
        )
    except BaseException as error:
        start.abort()
        tally = Tally()
        tally.problems[f"process: {type(error).__name__}: {error}"[:200]] += 1
    results.put(tally)


def run_labelers(
    server: Server,
    campaign: str,
    users: list[int],
    seconds: float,
    how: Behaviour,
    processes: int,
    dialect: str,
    during: Callable[[float], object] | None = None,
) -> tuple[Tally, dict[str, Any]]:
    """Run the labelers over `processes` client processes; `during(start)` runs here meanwhile.

    Answers the merged tally and the CPU use of the run (the server's workers, the local
    database server, the clients, the machine).
    """
    processes = max(1, min(processes, len(users)))
    groups = [users[index::processes] for index in range(processes)]
    children, results = start_clients(
        _client_process, [(server.base_url, campaign, group, seconds, how) for group in groups]
    )
    began, own = time.monotonic(), time.process_time()
    before, workers = cpu_snapshot(dialect), server.cpu_seconds()
    if during is not None:
        during(began)
    tally = Tally()
    for result in collect_clients(children, results, seconds + how.grace + 600):
        tally.merge(result)
    after = cpu_snapshot(dialect)
    wall = time.monotonic() - began
    tally.cpu_seconds += time.process_time() - own
    total = after["total"] - before["total"]
    usage = {
        "client_processes": processes,
        "users_per_process": len(groups[0]),
        "cpus": os.cpu_count(),
        "server_worker_cpu_per_wall": round((server.cpu_seconds() - workers) / wall, 2),
        # None when unknown, or when the server restarted meanwhile (its counters too).
        "database_cpu_per_wall": None
        if after["server"] is None or before["server"] is None or after["server"] < before["server"]
        else round((after["server"] - before["server"]) / wall, 2),
        "client_cpu_per_wall": round(tally.cpu_seconds / wall, 2),
        "machine_cpu_busy": round(1 - (after["idle"] - before["idle"]) / total, 2)
        if total > 0
        else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    return tally, usage


def labels_lost(url: str, acknowledged: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The acknowledged (task_id, user_id) labels that are not in the database."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT task_id, user_id FROM labels"))
        stored = {(int(task), int(user)) for task, user in rows}
    engine.dispose()
    return sorted(set(acknowledged) - stored)


def errors_by_status(statuses: Counter[str]) -> dict[str, int]:
    """The non-2xx statuses of a route."""
    return {s: n for s, n in statuses.items() if not s.startswith("2")}


def server_errors(statuses: Counter[str]) -> int:
    """5xx answers of a route."""
    return sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500)


def report_labelers(
    tally: Tally,
    usage: dict[str, Any],
    context: dict[str, Any],
    seconds: float,
    baseline: Tally | None,
) -> None:
    """Emit each route's latency and the run's throughput (per second of the run's length)."""
    wall = seconds
    for route, description in ROUTES.items():
        summary = latency_summary(tally.latencies[route])
        requests = sum(tally.statuses[route].values())
        ratio = None
        if baseline is not None and baseline.latencies[route]:
            alone = latency_summary(baseline.latencies[route])["p99_ms"]
            ratio = round(summary["p99_ms"] / alone, 2) if tally.latencies[route] else None
        note(f"{route}: {requests} requests, {summary}, {dict(tally.statuses[route])}")
        emit(
            "load.labelers.latency",
            summary["p99_ms"],
            "ms (p99)",
            route=route,
            path=description,
            **summary,
            ratio_p99_to_baseline=ratio,
            latency_of="2xx answers, request sent to body read",
            requests=requests,
            requests_per_s=round(requests / wall, 2),
            statuses=dict(tally.statuses[route]),
            server_errors=server_errors(tally.statuses[route]),
            errors_by_status=errors_by_status(tally.statuses[route]),
            goal_server_errors=0,
            **context,
        )
    requests = sum(sum(c.values()) for c in tally.statuses.values())
    fives = sum(server_errors(c) for c in tally.statuses.values())
    emit(
        "load.labelers.throughput",
        requests / wall,
        "requests/s",
        labels_per_s=round(len(tally.latencies["label"]) / wall, 2),
        assignments_per_s=round(len(tally.latencies["assign"]) / wall, 2),
        requests=requests,
        labels_acknowledged=len(tally.acknowledged),
        server_errors=fives,
        unavailable_without_retry_after=tally.unavailable_without_retry_after,
        problems=dict(tally.problems.most_common(10)),
        samples=tally.samples[:5],
        logins_failed=tally.logins_failed,
        per_second_of="the run's length (requests start until then; the last answers after)",
        wall_s=round(tally.wall, 2),
        **context,
        **usage,
    )


# --- cached scoring at a fixed rate ------------------------------------------------------------


def scoring_requests(port: int, rev_ids: list[int]) -> list[tuple[str, bytes]]:
    """The generator's requests, in turn: ORES v3 and Lift Wing v1, as one of TOOLS tools."""
    made = []
    for index, rev_id in enumerate(rev_ids * 2):
        tool = f"10.0.{index % TOOLS // 256}.{index % TOOLS % 256 + 1}"
        head = (
            f"Host: 127.0.0.1:{port}\r\nUser-Agent: {AGENT}\r\nX-Client-IP: {tool}\r\n"
            "Accept: application/json\r\n"
        )
        if index % 2 == 0:
            path = f"/v3/scores/enwiki/{rev_id}/reverted/?format=json"
            made.append(("ores_v3", f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()))
        else:
            body = orjson.dumps({"rev_id": rev_id})
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            path = "/v1/models/enwiki-reverted:predict"
            made.append(("liftwing_v1", f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body))
    return made


async def open_loop(
    port: int, requests: list[tuple[str, bytes]], rate: float, seconds: float
) -> dict[str, Any]:
    """Send `requests` in turn at `rate` per second for `seconds`, whatever the answers do
    (`scoring.paced`). Answers per request: its route, status, the moment it was due, sent
    and answered."""

    def check(index: int, status: int, body: bytes) -> str | None:
        if status != 200 or b'"score"' not in body:
            return f"{requests[index % len(requests)][0]} {status}: {body[:160]!r}"
        return None

    found = await paced(port, [request for _, request in requests], rate, seconds, check, warm=4)
    total = len(found.scheduled)
    return {
        "routes": [requests[i % len(requests)][0] for i in range(total)],
        "scheduled": found.scheduled,
        "sent": found.sent,
        "done": found.done,
        "statuses": found.statuses,
        "errors": dict(found.errors.most_common(10)),
        "send_seconds": found.last_sent - found.sent[0],
        "connections_opened": found.opened,
        "generator_cpu_per_wall": found.cpu_per_wall,
    }


def _generator(
    port: int, requests: list[tuple[str, bytes]], rate: float, seconds: float, results: Any
) -> None:
    """The generator process (multiprocessing spawn), the standard asyncio loop."""
    try:
        found = asyncio.run(open_loop(port, requests, rate, seconds))
    except BaseException as error:
        found = {"failed": f"{type(error).__name__}: {error}"}
    results.put(found)


def run_generator(
    server: Server, requests: list[tuple[str, bytes]], rate: float, seconds: float, dialect: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the generator in its own process; its result and the CPU use meanwhile."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = int(server.base_url.rsplit(":", 1)[1])
    child = context.Process(
        target=_generator, args=(port, requests, rate, seconds, results), daemon=True
    )
    child.start()
    before, workers, began = cpu_snapshot(dialect), server.cpu_seconds(), time.monotonic()
    deadline = began + seconds + 180
    while True:
        try:
            found: dict[str, Any] = results.get(timeout=1)
            break
        except queue.Empty:
            if not child.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the generator stopped without a result ({child.exitcode})"
                ) from None
    wall = time.monotonic() - began
    after = cpu_snapshot(dialect)
    child.join(timeout=30)
    if "failed" in found:
        raise RuntimeError(f"the generator failed: {found['failed']}")
    total = after["total"] - before["total"]
    usage = {
        "server_worker_cpu_per_wall": round((server.cpu_seconds() - workers) / wall, 2),
        "database_cpu_per_wall": None
        if after["server"] is None or before["server"] is None
        else round((after["server"] - before["server"]) / wall, 2),
        "generator_cpu_per_wall": round(found["generator_cpu_per_wall"], 2),
        "machine_cpu_busy": round(1 - (after["idle"] - before["idle"]) / total, 2)
        if total > 0
        else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    return found, usage


def redis_answers(url: str) -> bool:
    """Tell whether the Redis at `url` answers PING."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def cached_keys(url: str, version: str, rev_ids: list[int]) -> int:
    """How many of `rev_ids` have a cached `reverted` score of `version` in Redis."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    keys = [f"ores:enwiki:reverted:{rev_id}:{version}" for rev_id in rev_ids]
    return int(client.exists(*keys)) if keys else 0


def load_demo(url: str) -> list[int]:
    """`wikiloom demo` into the database; the demo revisions (their features are stored)."""
    from wikiloom.labels.demo import demo_rev_ids

    env = {**os.environ, "WIKILOOM_DATABASE_URL": url}
    loaded = subprocess.run(
        [sys.executable, "-m", "wikiloom", "demo"], check=False, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    if loaded.returncode:
        raise RuntimeError(f"wikiloom demo failed: {loaded.stderr[-2000:]}")
    note(loaded.stdout.strip().replace("\n", "; "))
    return sorted(demo_rev_ids())


def warm(server: Server, rev_ids: list[int]) -> tuple[list[int], str]:
    """Score each revision once through each route; the ones scored, and the model version."""
    scored, version = [], ""
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        for rev_id in rev_ids:
            answer = client.get(f"/v3/scores/enwiki/{rev_id}/reverted/?format=json")
            answer.raise_for_status()
            document = answer.json()["enwiki"]
            version = document["models"]["reverted"]["version"]
            if "score" in document["scores"][str(rev_id)]["reverted"]:
                scored.append(rev_id)
                client.post(
                    "/v1/models/enwiki-reverted:predict", json={"rev_id": rev_id}
                ).raise_for_status()
    return scored, version


def route_latencies(found: dict[str, Any], route: str) -> dict[str, Any]:
    """One route's latencies (from sent, and from the scheduled moment) and statuses."""
    mine = [i for i, r in enumerate(found["routes"]) if r == route]
    answered = [i for i in mine if not math.isnan(found["done"][i])]
    statuses = Counter(str(found["statuses"][i] or "no answer") for i in mine)
    summary = latency_summary([found["done"][i] - found["sent"][i] for i in answered])
    scheduled = latency_summary([found["done"][i] - found["scheduled"][i] for i in answered])
    return {
        **summary,
        "from_schedule_p50_ms": scheduled["p50_ms"],
        "from_schedule_p99_ms": scheduled["p99_ms"],
        "from_schedule_max_ms": scheduled["max_ms"],
        "requests": len(mine),
        "statuses": dict(statuses),
        "server_errors": sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500),
        "errors_by_status": {s: n for s, n in statuses.items() if s != "200"},
    }


def report_scoring(
    found: dict[str, Any],
    usage: dict[str, Any],
    context: dict[str, Any],
    rate: float,
    baseline: dict[str, Any] | None,
) -> None:
    """Emit each route's latency and the generator's rate of one run."""
    interval = 1.0 / rate
    lags = [s - m for s, m in zip(found["sent"], found["scheduled"], strict=True)]
    late = sum(lag > interval for lag in lags)
    achieved = (len(lags) - 1) / found["send_seconds"] if found["send_seconds"] else 0.0
    shared = {**context, "target_rate": rate, "role": "measured" if baseline else "baseline"}
    for route, description in SCORING_ROUTES.items():
        mine = route_latencies(found, route)
        ratio = None
        if baseline is not None:
            alone = route_latencies(baseline, route)["p99_ms"]
            ratio = round(mine["p99_ms"] / alone, 2) if alone else None
        note(f"{rate:g}/s {route}: {mine}")
        emit(
            "load.scoring.latency",
            mine["p99_ms"],
            "ms (p99)",
            route=route,
            path=description,
            **mine,
            ratio_p99_to_baseline=ratio,
            latency_of="request bytes written to body read",
            **shared,
            **usage,
        )
    lag = latency_summary(lags)
    emit(
        "load.scoring.rate",
        round(achieved, 1),
        "requests/s",
        answered=sum(not math.isnan(d) for d in found["done"]),
        late=late,
        late_means="sent more than one interval (1/rate) after its scheduled moment",
        on_schedule=late <= 0.01 * len(lags),
        keeps_up=achieved >= 0.99 * rate,
        send_lag_p50_ms=lag["p50_ms"],
        send_lag_p99_ms=lag["p99_ms"],
        send_lag_max_ms=lag["max_ms"],
        connections_opened_during_run=found["connections_opened"],
        errors=found["errors"],
        **shared,
        **usage,
    )


def scoring(url: str, tier: str, args: Any, seconds: float) -> None:
    """Cached scores at `--rate` per second through ORES v3 and Lift Wing v1, after the
    same at `--baseline-rate` (the latency without load)."""
    rev_ids = load_demo(url)
    workers, redis_url = args.workers, args.redis_url or None
    settings: dict[str, str] = {}
    cache = "in-process LRU"
    if redis_url and redis_answers(redis_url):
        settings["redis_url"] = redis_url
        cache = f"Redis ({redis_url}, ORES's keys)"
    else:
        workers = 1  # every worker would have a cache of its own to warm
    with serve(url, workers=workers, **settings) as server:
        note(f"warming the cache: {len(rev_ids)} demo revisions, {cache}, {workers} worker(s)")
        scored, version = warm(server, rev_ids)
        in_redis = cached_keys(redis_url, version, scored) if "redis_url" in settings else None
        random.Random(1).shuffle(scored)
        requests = scoring_requests(int(server.base_url.rsplit(":", 1)[1]), scored)
        context = {
            "tier": tier,
            "server": f"python -m wikiloom serve --workers {workers}",
            "score_cache": cache,
            "revisions": len(scored),
            "revisions_cached_in_redis_before": in_redis,
            "model_version": version,
            "tools": TOOLS,
            "generator": "raw asyncio sockets, keep-alive, standard loop, 1 process",
        }
        alone = min(5.0, seconds)
        note(f"baseline: {args.baseline_rate:g} requests/s for {alone:g} s")
        baseline, usage = run_generator(server, requests, args.baseline_rate, alone, DIALECTS[tier])
        report_scoring(baseline, usage, {**context, "seconds": alone}, args.baseline_rate, None)
        note(f"{args.rate:g} requests/s for {seconds:g} s")
        found, usage = run_generator(server, requests, args.rate, seconds, DIALECTS[tier])
        report_scoring(found, usage, {**context, "seconds": seconds}, args.rate, baseline)


# --- the run -------------------------------------------------------------------------------------


def labelers(url: str, tier: str, args: Any, tasks: int, seconds: float) -> None:
    """The labeling part: load a campaign, serve it, run the labelers, check the database."""
    note(f"{tier}: loading {tasks} tasks")
    campaign_id = load_campaign(url, tasks, labels_per_task=2, tasks_per_assignment=10)
    how = Behaviour(think=args.think, skip=args.skip, abandon=args.abandon)
    users = list(range(1, args.users + 1))
    context = {
        "tier": tier,
        "tasks": tasks,
        "labels_per_task": 2,
        "tasks_per_assignment": 10,
        "users": args.users,
        "seconds": seconds,
        "think_s": how.think,
        "skip_share": how.skip,
        "abandon_share": how.abandon,
        "retry_pause_s": how.retry_pause,
        "workers": args.workers,
        "database_server": server_settings(url),
        "client": f"httpx {httpx.__version__} AsyncClient per user (one keep-alive connection)",
        "server_settings": PEOPLE,
    }
    alone = 3.0 if args.quick else 5.0
    with serve(url, workers=args.workers, **PEOPLE) as server:
        campaign = f"/campaigns/enwiki/{campaign_id}/"
        note(f"baseline: 1 labeler without think time for {alone:g} s")
        quick = Behaviour(think=0.0, skip=how.skip, abandon=how.abandon)
        baseline, usage = run_labelers(
            server, campaign, [args.users + 1], alone, quick, 1, DIALECTS[tier]
        )
        report_labelers(
            baseline,
            usage,
            {**context, "users": 1, "seconds": alone, "think_s": 0.0, "role": "baseline"},
            alone,
            None,
        )
        note(f"{args.users} labelers for {seconds:g} s, {args.processes} client processes")
        tally, usage = run_labelers(
            server, campaign, users, seconds, how, args.processes, DIALECTS[tier]
        )
        log = server.stderr()
    report_labelers(tally, usage, {**context, "role": "measured"}, seconds, baseline)
    lost = labels_lost(url, tally.acknowledged + baseline.acknowledged)
    emit(
        "load.labelers.labels_lost",
        len(lost),
        "labels",
        acknowledged=len(tally.acknowledged) + len(baseline.acknowledged),
        lost_examples=lost[:10],
        goal=0,
        goal_met=not lost,
        tier=tier,
    )
    if "Traceback" in log:
        note(f"server log tail: {log[-1500:]}")
    emit_invariants("load.invariant_violations", url, tier=tier, users=args.users)


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--parts", default="labelers,scoring", help="labelers, scoring")
    options.add_argument("--users", type=int, default=200, help="concurrent labelers")
    options.add_argument("--seconds", type=float, default=None, help="labeling run length")
    options.add_argument("--think", type=float, default=3.0, help="mean seconds before a label")
    options.add_argument("--skip", type=float, default=0.1, help="share of tasks skipped")
    options.add_argument("--abandon", type=float, default=0.1, help="share of worksets abandoned")
    options.add_argument("--processes", type=int, default=2, help="client processes")
    options.add_argument("--workers", type=int, default=2, help="server worker processes")
    options.add_argument("--rate", type=float, default=500.0, help="scoring requests/s")
    options.add_argument("--scoring-seconds", type=float, default=None, help="scoring run length")
    options.add_argument(
        "--baseline-rate", type=float, default=50.0, help="scoring requests/s of the baseline"
    )
    options.add_argument("--redis-url", default=DEFAULT_REDIS, help="score cache ('' for none)")
    options.set_defaults(tiers="postgres")
    args = options.parse_args()
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    tasks = 20_000 if args.quick else 100_000
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    scoring_seconds = args.scoring_seconds or (10.0 if args.quick else 30.0)
    for tier in tiers(args.tiers):
        with fresh_database(tier, DATABASE) as url:
            if "labelers" in parts:
                labelers(url, tier, args, tasks, seconds)
            if "scoring" in parts:
                scoring(url, tier, args, scoring_seconds)


if __name__ == "__main__":
    main()
