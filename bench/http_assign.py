"""Assign and label round trips from concurrent HTTP clients against a real server.

A campaign of 100,000 tasks (20,000 with --quick; labels_per_task 2, tasks_per_assignment
10) is loaded through `insert_tasks`; then `python -m wikiloom serve --workers N` serves it
from a subprocess on loopback, with `--workers` 1 and then 2. Each client is a thread with
its own `httpx.Client` (one keep-alive connection, its own session cookie), logged in as its
own user through the development login, in a loop: assign a workset (`POST
/campaigns/<wiki>/<id>/` with `tasks`), label each of its tasks (`POST .../<workset>/<task>/`
with `label=<json>`), assign again. The clients are threads of `--processes` client
processes (multiprocessing spawn), so that the client side is not one GIL; all connect and
log in before the clock starts. Runs per worker count: 1 client in a closed loop (the
baseline), 64 in a closed loop (each sends its next request when the last is answered: a
saturation test), 64 in a paced loop (a pause of about `--think` seconds before each label,
as people do, and staggered arrivals).

Figures, per tier, worker count and run:

* `http_assign.latency`: p50 / p90 / p99 / max of each operation (`assign`, `label`) as the
  client sees it (request sent to body read), in ms; `error_count` and the errors by kind.
* `http_assign.throughput`: assignments, labels and requests per second.
* `http_assign.invariant_violations`: rows breaking tests/labels/invariants.py afterwards.

Each line also says who used the 2 cores: the server's workers, the database server, the
clients, and the whole machine.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

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
    run_together,
    server_settings,
    start_clients,
    tiers,
)
from http_server import Server, dev_login, serve

GOAL_P99_MS = 50.0
DIALECTS = {"postgres": "postgresql", "mariadb": "mysql", "sqlite": "sqlite"}
LABEL_FORM = {"label": orjson.dumps(GOOD_LABEL).decode()}


@dataclass
class Run:
    """What the clients measured: latencies in seconds per operation, errors, CPU time."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"assign": [], "label": []})
    errors: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    client_cpu_seconds: float = 0.0

    def merge(self, other: Run) -> None:
        """Add another process's measurements to these."""
        for name, values in other.latencies.items():
            self.latencies[name].extend(values)
        self.errors.update(other.errors)
        self.client_cpu_seconds += other.client_cpu_seconds
        self.wall = max(self.wall, other.wall)


def _problem(answer: httpx.Response) -> str:
    try:
        message = answer.json()["error"]["message"]
    except Exception:
        message = answer.text[:100]
    return f"{answer.status_code} {message}"[:160]


def _client_loop(
    client: httpx.Client, campaign: str, user: int, deadline: float, think: float, run: Run
) -> None:
    """One client's loop until `deadline`: assign, label each task, assign again."""
    rng = random.Random(user)
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        try:
            answer = client.post(campaign, data={"tasks": ""})
        except httpx.HTTPError as error:
            run.errors[f"assign: {type(error).__name__}"] += 1
            continue
        if answer.status_code != 200:
            run.errors[f"assign: {_problem(answer)}"] += 1
            time.sleep(0.05)
            continue
        run.latencies["assign"].append(time.perf_counter() - began)
        held = answer.json()
        workset = held["workset"]["id"]
        for task in held["tasks"]:
            if think:
                time.sleep(think * rng.uniform(0.5, 1.5))
            began = time.perf_counter()
            try:
                answer = client.post(f"{campaign}{workset}/{task['id']}/", data=LABEL_FORM)
            except httpx.HTTPError as error:
                run.errors[f"label: {type(error).__name__}"] += 1
                continue
            if answer.status_code != 200:
                run.errors[f"label: {_problem(answer)}"] += 1
                continue
            run.latencies["label"].append(time.perf_counter() - began)


def _run_clients(
    base_url: str,
    campaign: str,
    users: list[int],
    seconds: float,
    think: float,
    ready: Any,
) -> Run:
    """Run one client thread per user in this process; `ready()` runs once all logged in."""
    run = Run()
    lock = threading.Lock()

    def one(user: int, start: Callable[[], float]) -> None:
        mine = Run()
        with httpx.Client(base_url=base_url, timeout=60) as client:
            try:
                dev_login(client, user)
            except httpx.HTTPError as error:
                mine.errors[f"login: {type(error).__name__}: {error}"[:160]] += 1
            deadline = start()
            _client_loop(client, campaign, user, deadline, think, mine)
        with lock:
            run.merge(mine)

    run.wall, run.client_cpu_seconds = run_together(users, seconds, think, ready, one)
    return run


def _client_process(
    base_url: str,
    campaign: str,
    users: list[int],
    seconds: float,
    think: float,
    start: Any,
    results: Any,
) -> None:
    """A client process (multiprocessing spawn): its client threads; results go to `results`."""
    try:
        run = _run_clients(
            base_url, campaign, users, seconds, think, lambda: start.wait(timeout=600)
        )
    except BaseException as error:
        start.abort()
        run = Run()
        run.errors[f"process: {type(error).__name__}: {error}"[:160]] += 1
    results.put(run)


def run_clients(
    server: Server,
    campaign: str,
    users: list[int],
    seconds: float,
    think: float,
    processes: int,
    dialect: str = "postgresql",
) -> tuple[Run, dict[str, Any]]:
    """Run the clients over `processes` processes; their figures and the CPU use meanwhile
    (of the server's workers, the `dialect`'s local database server, the clients, the machine).
    """
    processes = max(1, min(processes, len(users)))
    groups = [users[index::processes] for index in range(processes)]
    before: dict[str, Any] = {}

    def clock_starts() -> None:
        before.update(
            cpu_snapshot(dialect),
            wall=time.perf_counter(),
            own=time.process_time(),
            workers=server.cpu_seconds(),
        )

    if processes == 1:
        run = _run_clients(server.base_url, campaign, users, seconds, think, clock_starts)
    else:
        children, results = start_clients(
            _client_process,
            [(server.base_url, campaign, group, seconds, think) for group in groups],
        )
        clock_starts()
        run = Run()
        for result in collect_clients(children, results, seconds + 600):
            run.merge(result)
        run.client_cpu_seconds += time.process_time() - before["own"]
    after = cpu_snapshot(dialect)
    wall = time.perf_counter() - before["wall"]
    total = after["total"] - before["total"]
    cores = os.cpu_count() or 1
    usage = {
        "client_processes": processes,
        "threads_per_process": len(groups[0]),
        "cpus": cores,
        "server_worker_cpu_per_wall": round((server.cpu_seconds() - before["workers"]) / wall, 2),
        "database_cpu_per_wall": None
        if after["server"] is None or before["server"] is None
        else round((after["server"] - before["server"]) / wall, 2),
        "client_cpu_per_wall": round(run.client_cpu_seconds / wall, 2),
        "machine_cpu_busy": round(1 - (after["idle"] - before["idle"]) / total, 2)
        if total > 0
        else None,
    }
    return run, usage


def report(run: Run, usage: dict[str, Any], baseline: Run | None, context: dict[str, Any]) -> None:
    """Emit the latency of each operation and the throughput of one run."""
    errors = sum(run.errors.values())
    for name, values in run.latencies.items():
        summary = latency_summary(values)
        ratio = None
        if baseline is not None and baseline.latencies[name]:
            ratio = round(
                summary["p99_ms"] / latency_summary(baseline.latencies[name])["p99_ms"], 2
            )
        who = f"{context['workers']} worker(s), {context['clients']} {context['loop']}"
        note(f"{who}: {name} {summary}")
        emit(
            "http_assign.latency",
            summary["p99_ms"],
            "ms (p99)",
            operation=name,
            **summary,
            ratio_p99_to_baseline=ratio,
            goal_p99_ms=GOAL_P99_MS,
            goal_met=summary["p99_ms"] <= GOAL_P99_MS and errors == 0,
            error_count=errors,
            errors=dict(run.errors.most_common(5)),
            **context,
            **usage,
        )
    assigns, labels = len(run.latencies["assign"]), len(run.latencies["label"])
    emit(
        "http_assign.throughput",
        assigns / run.wall,
        "assignments/s",
        labels_per_s=round(labels / run.wall, 1),
        requests_per_s=round((assigns + labels) / run.wall, 1),
        error_count=errors,
        **context,
        **usage,
    )


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--clients", type=int, default=64, help="concurrent HTTP clients")
    options.add_argument("--seconds", type=float, default=None, help="length of each run")
    options.add_argument("--think", type=float, default=1.0, help="mean pause before a label")
    options.add_argument("--processes", type=int, default=8, help="client processes")
    options.add_argument(
        "--workers", default="1,2", help="comma-separated uvicorn worker counts to run"
    )
    options.set_defaults(tiers="postgres")
    args = options.parse_args()
    tasks = 20_000 if args.quick else 100_000
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    for tier in tiers(args.tiers):
        with fresh_database(tier) as url:
            note(f"{tier}: loading {tasks} tasks")
            campaign_id = load_campaign(url, tasks, labels_per_task=2, tasks_per_assignment=10)
            campaign = f"/campaigns/enwiki/{campaign_id}/"
            shared = {
                "tier": tier,
                "tasks": tasks,
                "labels_per_task": 2,
                "tasks_per_assignment": 10,
                "server": server_settings(url),
                "server_command": "python -m wikiloom serve (log level warning)",
                "client": f"httpx {httpx.__version__} (one keep-alive connection per client)",
            }
            next_user = 1
            for workers in (int(w) for w in args.workers.split(",") if w.strip()):
                with serve(url, workers=workers) as server:
                    baseline: Run | None = None
                    plan = [("closed", 1, 0.0), ("closed", args.clients, 0.0)]
                    if args.think > 0:
                        plan.append(("paced", args.clients, args.think))
                    for loop, clients, think in plan:
                        users = list(range(next_user, next_user + clients))
                        next_user += clients
                        length = seconds if loop == "closed" else seconds * 1.5
                        note(
                            f"{tier}: {workers} worker(s), {clients} client(s), {loop}, {length} s"
                        )
                        run, usage = run_clients(
                            server,
                            campaign,
                            users,
                            length,
                            think,
                            1 if clients == 1 else args.processes,
                            DIALECTS[tier],
                        )
                        context = {
                            **shared,
                            "workers": workers,
                            "clients": clients,
                            "loop": loop,
                            "think_s": think,
                            "seconds": length,
                            "role": "baseline" if clients == 1 else "measured",
                        }
                        report(run, usage, baseline, context)
                        if clients == 1:
                            baseline = run
                    note(f"server log tail: {server.stderr()[-500:]!r}")
            emit_invariants("http_assign.invariant_violations", url, **shared)


if __name__ == "__main__":
    main()
