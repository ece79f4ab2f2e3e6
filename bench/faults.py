"""Faults: the service while PostgreSQL or MariaDB restarts, and while Redis is down (#10).

**This script restarts the machine's shared database servers and Redis** (for a few seconds
each; other sessions' tests see the outage): `bench/run.py` runs it only with `--only faults`.

* `postgres`, `mariadb` (`--tiers`): a campaign of 20,000 tasks in a fresh database
  (`wikiloom_bench_faults`), served by `python -m wikiloom serve --workers 2`; `--users` (50)
  labelers of bench/load.py (asyncio + httpx, 2 client processes; think 0.5-1.5 x `--think`
  = 1 s; skips and abandons as there) for `--seconds` (40). At `--before` (10 s) the
  database server is restarted at once: PostgreSQL with `pg_ctlcluster
  --skip-systemctl-redirect <version> main restart` (fast shutdown: sessions terminated),
  MariaDB with `mariadb-admin -uroot shutdown` then `start-stop-daemon --start --oknodo
  --background --exec /usr/sbin/mariadbd` (DESIGN.md's command). A labeler whose request
  fails (5xx, broken connection) tries it again every 0.25 s (`--retry-pause`, ignoring the
  5 s of Retry-After so that the moment the service is back is seen); a label counts as
  acknowledged only when answered 2xx. Meanwhile this process probes the database directly
  (a new connection and `SELECT 1` every 50 ms) and `/healthz` every 100 ms.
* `redis` (`--parts`): the demo model on SQLite, a server (1 worker) with
  `WIKILOOM_REDIS_URL` (`--redis-url`), every demo revision scored once (so cached), then ORES
  v3 scores one after another: with Redis up (cached), after `redis-cli shutdown nosave`
  (for `--redis-outage` s: uncached), and after Redis is started again with DESIGN.md's
  command (empty: the first request of each revision computes it and caches it again).

Figures:

* `faults.database.recovery_s` (per engine): seconds from the database answering again to the
  end of the last failed request (goal <= 5); beside it how long the database was down, the
  statuses answered meanwhile per route, and when `/healthz` answered 200 again.
* `faults.database.outage_answers`: failed requests that were not 503 with Retry-After (500s,
  broken connections; goal 0), with samples (route, status, body).
* `faults.database.labels_lost`: labels answered 2xx that are not in the database (goal 0).
* `faults.database.invariant_violations`: tests/labels/invariants.py afterwards (goal 0).
* `faults.redis.latency` (per phase `cached`, `redis_down`, `redis_back`): p50 / p99 / max,
  statuses (goal: all 200).
* `faults.redis.caching_resumed`: whether scores are written to and read from Redis again
  after it is back (its keys, and the cache hits of `/metrics`), and how soon.

Broker down and worker killed are covered by tests, not here: tests/jobs/test_worker.py
`test_enqueueing_to_a_broker_that_is_down_fails_loudly` (503 `ServiceUnavailable`) and
`test_a_job_whose_worker_is_killed_completes_on_another_once` (Redis, RabbitMQ, SQLite).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from common import (
    emit,
    emit_invariants,
    fresh_database,
    latency_summary,
    load_campaign,
    note,
    parser,
    server_settings,
    tiers,
)
from http_server import serve
from load import (
    DIALECTS,
    PEOPLE,
    ROUTES,
    Behaviour,
    Tally,
    cached_keys,
    labels_lost,
    load_demo,
    redis_answers,
    run_labelers,
    warm,
)

DATABASE = "wikiloom_bench_faults"
GOAL_RECOVERY_S = 5.0
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
#: DESIGN.md's commands that start each service.
MARIADB_START = [
    "start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd",
]  # fmt: skip
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


def command(argv: list[str], timeout: float = 120) -> dict[str, Any]:
    """Run a service command detached from us (its daemon must not hold our pipes)."""
    began = time.monotonic()
    done = subprocess.run(
        argv, check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True, timeout=timeout,
    )  # fmt: skip
    seconds = round(time.monotonic() - began, 3)
    return {"command": shlex.join(argv), "status": done.returncode, "seconds": seconds}


def postgres_version() -> str:
    """The cluster version under /etc/postgresql (one is installed)."""
    return sorted(os.listdir("/etc/postgresql"))[0]


# --- probes ------------------------------------------------------------------------------------


class Probes:
    """The database probed directly, and `/healthz`, each from a thread of its own."""

    def __init__(self, url: str, base_url: str) -> None:
        self.url = url
        self.base_url = base_url
        self.database: list[tuple[float, bool]] = []
        self.health: list[tuple[float, int, str | None]] = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._database, daemon=True),
            threading.Thread(target=self._health, daemon=True),
        ]

    def __enter__(self) -> Probes:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _database(self) -> None:
        timeout = {"connect_timeout": 1}
        engine = create_engine(self.url, poolclass=NullPool, connect_args=timeout)
        while not self.stop.wait(0.05):
            moment = time.monotonic()
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                self.database.append((moment, True))
            except Exception:
                self.database.append((moment, False))
        engine.dispose()

    def _health(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while not self.stop.wait(0.1):
                moment = time.monotonic()
                try:
                    answer = client.get("/healthz")
                except httpx.HTTPError:
                    self.health.append((moment, 0, None))
                    continue
                self.health.append((moment, answer.status_code, answer.headers.get("retry-after")))

    def database_up_after(self, moment: float) -> bool:
        """Tell whether a probe that began after `moment` succeeded."""
        return any(ok and at > moment for at, ok in list(self.database))


def restart(tier: str, probes: Probes) -> dict[str, Any]:
    """Restart the tier's database server at once; answer what was run and when."""
    times: dict[str, Any] = {"began": time.monotonic()}
    steps = []
    try:
        if tier == "postgres":
            version = postgres_version()
            argv = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]
            steps.append(command(argv))
        else:
            steps.append(command(["mariadb-admin", "-uroot", "shutdown"]))
            steps.append(command(MARIADB_START))
    finally:
        times["commands_ended"] = time.monotonic()
        deadline = time.monotonic() + 60
        while not probes.database_up_after(times["commands_ended"]):
            if time.monotonic() > deadline:
                # Not back: the same command that starts it, once more (DESIGN.md).
                if tier == "postgres":
                    version = postgres_version()
                    argv = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
                    steps.append(command(argv))
                else:
                    steps.append(command(MARIADB_START))
                deadline = time.monotonic() + 60
            time.sleep(0.05)
    times["steps"] = steps
    return times


# --- reading one outage --------------------------------------------------------------------------


def _failed(status: int) -> bool:
    return status == 0 or status >= 500


def outage_figures(tally: Tally, probes: Probes, times: dict[str, Any]) -> dict[str, Any]:
    """When the database was down and back, and what the requests got meanwhile."""
    began = times["began"]
    downs = [at for at, ok in probes.database if not ok and at >= began - 0.1]
    down_at = downs[0] if downs else None
    ups = [at for at, ok in probes.database if ok and at > (down_at or began)]
    up_at = ups[0] if ups else times["commands_ended"]
    failures = [e for e in tally.events if _failed(e[3])]
    during = [e for e in failures if e[1] >= began]
    before = [e for e in failures if e[1] < began]
    last_end = max((e[1] for e in during), default=None)
    answered_ok_after = [e[1] for e in tally.events if 200 <= e[3] < 300 and e[0] >= up_at]
    window_end = last_end if last_end is not None else up_at
    in_window = [e for e in tally.events if e[1] >= began and e[0] <= window_end]
    statuses: dict[str, Counter[str]] = {route: Counter() for route in ROUTES}
    for _, _, route, status in in_window:
        statuses[route][str(status or "no answer")] += 1
    health_down = [(at, s, ra) for at, s, ra in probes.health if began <= at <= up_at + 0.5]
    health_ok = [at for at, s, _ in probes.health if s == 200 and at >= up_at]
    return {
        "database_down_s": None if down_at is None else round(up_at - down_at, 3),
        "database_seen_down": down_at is not None,
        "commands": times.get("steps", []),
        "restart_command_s": round(times["commands_ended"] - began, 3),
        "recovery_s": round(max(0.0, last_end - up_at), 3) if last_end is not None else 0.0,
        "failed_requests": len(during),
        "failed_requests_before_the_restart": len(before),
        "first_failure_after_restart_began_s": round(min(e[0] for e in during) - began, 3)
        if during
        else None,
        "unavailable_s": round(last_end - min(e[0] for e in during), 3) if during else 0.0,
        "first_success_after_database_up_s": round(min(answered_ok_after) - up_at, 3)
        if answered_ok_after
        else None,
        "healthz_200_after_database_up_s": round(min(health_ok) - up_at, 3) if health_ok else None,
        "healthz_during_outage": dict(
            Counter(f"{s or 'no answer'}{' Retry-After' if ra else ''}" for _, s, ra in health_down)
        ),
        "statuses_during_outage": {r: dict(c) for r, c in statuses.items() if c},
    }


def database_fault(tier: str, args: Any) -> None:
    """Labelers against a server whose database restarts in the middle."""
    with fresh_database(tier, DATABASE) as url:
        tasks = 20_000
        note(f"{tier}: loading {tasks} tasks")
        campaign_id = load_campaign(url, tasks, labels_per_task=2, tasks_per_assignment=10)
        how = Behaviour(think=args.think, retry_pause=args.retry_pause)
        users = list(range(1, args.users + 1))
        times: dict[str, Any] = {}
        with (
            serve(url, workers=args.workers, **PEOPLE) as server,
            Probes(url, server.base_url) as probes,
        ):

            def during(start: float) -> None:
                time.sleep(max(0.0, start + args.before - time.monotonic()))
                note(f"{tier}: restarting the database server")
                times.update(restart(tier, probes))
                note(f"{tier}: back after {time.monotonic() - times['began']:.2f} s")

            campaign = f"/campaigns/enwiki/{campaign_id}/"
            note(f"{tier}: {args.users} labelers for {args.seconds:g} s")
            tally, usage = run_labelers(
                server, campaign, users, args.seconds, how, 2, DIALECTS[tier], during
            )
            log = server.stderr()
        found = outage_figures(tally, probes, times)
        context = {
            "tier": tier,
            "database_server": server_settings(url),
            "users": args.users,
            "think_s": args.think,
            "seconds": args.seconds,
            "restart_at_s": args.before,
            "retry_pause_s": args.retry_pause,
            "workers": args.workers,
            "requests": sum(sum(c.values()) for c in tally.statuses.values()),
            "labels_acknowledged": len(tally.acknowledged),
            **usage,
        }
        note(f"{tier}: {found}")
        emit(
            "faults.database.recovery_s",
            found["recovery_s"],
            "s",
            recovery_means="from the database answering again to the end of the last failed "
            "request (5xx or no answer)",
            goal=GOAL_RECOVERY_S,
            goal_met=found["recovery_s"] <= GOAL_RECOVERY_S,
            **found,
            **context,
        )
        bad = sum(
            n
            for route in ROUTES
            for status, n in tally.statuses[route].items()
            if status == "no answer"
            or (status.isdigit() and int(status) >= 500 and status != "503")
        )
        bad += tally.unavailable_without_retry_after
        emit(
            "faults.database.outage_answers",
            bad,
            "requests",
            means="failed requests that were not 503 with Retry-After (500, no answer, 503 "
            "without Retry-After)",
            unavailable_without_retry_after=tally.unavailable_without_retry_after,
            statuses={r: dict(c) for r, c in tally.statuses.items() if c},
            problems=dict(tally.problems.most_common(10)),
            samples=tally.samples[:8],
            server_log_tracebacks=log.count("Traceback"),
            server_log_errors=sorted(set(re.findall(r"\n(\w+(?:\.\w+)*Error: [^\n]{0,160})", log)))[
                :5
            ],
            goal=0,
            goal_met=bad == 0,
            tier=tier,
        )
        lost = labels_lost(url, tally.acknowledged)
        emit(
            "faults.database.labels_lost",
            len(lost),
            "labels",
            acknowledged=len(tally.acknowledged),
            lost_examples=lost[:10],
            goal=0,
            goal_met=not lost,
            tier=tier,
        )
        emit_invariants("faults.database.invariant_violations", url, tier=tier)


# --- Redis down ----------------------------------------------------------------------------------

HITS = re.compile(r'^wikiloom_scores_total\{[^}]*source="cache"[^}]*\} ([0-9.e+]+)$', re.M)


def cache_hits(client: httpx.Client) -> float:
    """The scores the server answered from its cache so far (`/metrics`)."""
    found = HITS.search(client.get("/metrics").text)
    return float(found.group(1)) if found else 0.0


def scores(client: httpx.Client, rev_ids: list[int], seconds: float) -> dict[str, Any]:
    """Score `rev_ids` in turn, one request after another, for `seconds` (each at least once)."""
    latencies, statuses = [], Counter[str]()
    deadline = time.monotonic() + seconds
    index = 0
    while index < len(rev_ids) or time.monotonic() < deadline:
        rev_id = rev_ids[index % len(rev_ids)]
        index += 1
        began = time.monotonic()
        try:
            answer = client.get(f"/v3/scores/enwiki/{rev_id}/reverted/?format=json")
        except httpx.HTTPError as error:
            statuses[type(error).__name__] += 1
            continue
        latencies.append(time.monotonic() - began)
        ok = (
            answer.status_code == 200
            and "score" in answer.json()["enwiki"]["scores"][str(rev_id)]["reverted"]
        )
        statuses[
            str(answer.status_code) if ok or answer.status_code != 200 else "200 no score"
        ] += 1
    return {**latency_summary(latencies), "statuses": dict(statuses)}


def stop_redis(client: httpx.Client, redis_url: str, rev_ids: list[int], seconds: float) -> Any:
    """Stop Redis, score for `seconds`, start it again (whatever happened): the phase, times."""
    down: dict[str, Any] = {}
    phase: dict[str, Any] = {}
    try:
        note("redis: redis-cli shutdown nosave")
        down["began"] = time.monotonic()
        down["stop"] = command(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"])
        while redis_answers(redis_url) and time.monotonic() - down["began"] < 10:
            time.sleep(0.05)
        down["seen_down"] = not redis_answers(redis_url)
        hits = cache_hits(client)
        phase = scores(client, rev_ids, seconds)
        phase["cache_hits"] = cache_hits(client) - hits
    finally:
        note("redis: starting it again")
        down["start"] = command(REDIS_START)
        deadline = time.monotonic() + 30
        while not redis_answers(redis_url) and time.monotonic() < deadline:
            time.sleep(0.05)
        down["up_at"] = time.monotonic()
    return phase, down


def first_round(
    client: httpx.Client, redis_url: str, version: str, rev_ids: list[int], up_at: float
) -> dict[str, Any]:
    """Score each revision once after Redis is back (and empty): is each one stored again?"""
    first_stored = None
    hits = cache_hits(client)
    latencies, statuses = [], Counter[str]()
    for rev_id in rev_ids:
        moment = time.monotonic()
        answer = client.get(f"/v3/scores/enwiki/{rev_id}/reverted/?format=json")
        latencies.append(time.monotonic() - moment)
        statuses[str(answer.status_code)] += 1
        if first_stored is None and cached_keys(redis_url, version, [rev_id]):
            first_stored = time.monotonic() - up_at
    return {
        **latency_summary(latencies),
        "statuses": dict(statuses),
        "cache_hits": cache_hits(client) - hits,
        "revisions_in_redis_after": cached_keys(redis_url, version, rev_ids),
        "first_score_stored_after_redis_up_s": None
        if first_stored is None
        else round(first_stored, 3),
    }


def redis_fault(args: Any) -> None:
    """Scoring with Redis up, down and back."""
    redis_url = args.redis_url
    if shutil.which("redis-cli") is None or not redis_answers(redis_url):
        emit("faults.redis.skipped", None, "", reason=f"no Redis answering at {redis_url}")
        return
    phases: dict[str, dict[str, Any]] = {}
    with fresh_database("sqlite") as url:
        rev_ids = load_demo(url)[: args.revisions]
        with (
            serve(url, redis_url=redis_url) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            note(f"redis: warming {len(rev_ids)} revisions")
            scored, version = warm(server, rev_ids)
            in_redis = cached_keys(redis_url, version, scored)
            hits = cache_hits(client)
            phases["cached"] = scores(client, scored, 3.0)
            phases["cached"] |= {"cache_hits": cache_hits(client) - hits, "in_redis": in_redis}
            phases["redis_down"], down = stop_redis(client, redis_url, scored, args.redis_outage)
            # Redis is empty now (nosave): the first round computes and stores, the next hits.
            phases["redis_back"] = first_round(client, redis_url, version, scored, down["up_at"])
            hits = cache_hits(client)
            phases["redis_back_again"] = scores(client, scored, 0.0)
            phases["redis_back_again"]["cache_hits"] = cache_hits(client) - hits
            log = server.stderr()
    context = {
        "server": "python -m wikiloom serve --workers 1, SQLite, the demo model",
        "redis_url": redis_url,
        "revisions": len(scored),
        "model_version": version,
        "client": "one httpx client, requests one after another",
    }
    for phase, found in phases.items():
        note(f"redis {phase}: {found}")
        emit(
            "faults.redis.latency",
            found["p99_ms"],
            "ms (p99)",
            phase=phase,
            **found,
            goal="every answer 200 with a score",
            goal_met=set(found["statuses"]) == {"200"},
            **context,
        )
    back, again = phases["redis_back"], phases["redis_back_again"]
    emit(
        "faults.redis.caching_resumed",
        back["revisions_in_redis_after"] == len(scored) and again["cache_hits"] >= len(scored),
        "",
        first_score_stored_after_redis_up_s=back["first_score_stored_after_redis_up_s"],
        stored_in_first_round=back["revisions_in_redis_after"],
        cache_hits_next_round=again["cache_hits"],
        stop=down.get("stop"),
        start=down.get("start"),
        redis_seen_down=down.get("seen_down"),
        redis_down_s=round(down["up_at"] - down["began"], 3),
        server_log_cache_warnings=log.count("score cache unavailable"),
        server_log_tracebacks=log.count("Traceback"),
        **context,
    )


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--parts", default="database,redis", help="database, redis")
    options.add_argument("--users", type=int, default=50, help="concurrent labelers")
    options.add_argument("--seconds", type=float, default=None, help="labeling run length")
    options.add_argument("--before", type=float, default=None, help="seconds before the restart")
    options.add_argument("--think", type=float, default=1.0, help="mean seconds before a label")
    options.add_argument("--retry-pause", type=float, default=0.25, help="seconds between tries")
    options.add_argument("--workers", type=int, default=2, help="server worker processes")
    options.add_argument("--redis-url", default=DEFAULT_REDIS, help="the score cache's Redis")
    options.add_argument("--redis-outage", type=float, default=3.0, help="seconds Redis stays down")
    options.add_argument("--revisions", type=int, default=200, help="revisions scored (redis)")
    options.set_defaults(tiers="postgres,mariadb")
    args = options.parse_args()
    args.seconds = args.seconds or (25.0 if args.quick else 40.0)
    args.before = args.before or (6.0 if args.quick else 10.0)
    if args.quick:
        args.users = min(args.users, 20)
        args.revisions = min(args.revisions, 50)
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if "database" in parts:
        for tier in tiers(args.tiers):
            if tier == "sqlite":
                emit("skipped", None, "", tier=tier, reason="an embedded database has no server")
                continue
            if tier == "postgres" and not Path("/etc/postgresql").is_dir():
                emit("skipped", None, "", tier=tier, reason="no local cluster to restart")
                continue
            database_fault(tier, args)
    if "redis" in parts:
        redis_fault(args)


if __name__ == "__main__":
    main()
