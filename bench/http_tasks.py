"""`GET /campaigns/<wiki>/<id>/?tasks` on a labeled campaign, against a real server.

A campaign of 20,000 tasks (2,000 with --quick) with 2 labels per task (two users, each
with one workset holding every task, labeled through plain INSERTs after a real
`assign_workset`) is served by `python -m wikiloom serve` (1 worker) in a
subprocess on loopback. An httpx client in this process downloads the whole body, as a
model builder's label fetcher does. Each measured route gets a fresh server: after a
warm-up (`/healthz` and the campaign without `?tasks`) its resident memory is the idle
figure, its peak (VmHWM, reset through /proc/<pid>/clear_refs before each request) is
read after each request.

Figures, per tier:

* `http_tasks.campaign_tasks`: wall time of `?tasks` (median of the repetitions; first byte,
  bytes, tasks and labels in the body), the server's peak RSS during it, absolute and as
  an increase over the idle server, and whether the body was streamed (no Content-Length).
* `http_tasks.campaign_tasks_jsonp`: the same with `&callback=cb` (JSONP).
* `http_tasks.baseline`: the same measurement of `GET .../export/` (JSON lines of the same
  labels, a route that was streamed from the start) and of the campaign without `?tasks`.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import orjson
from sqlalchemy import insert, select, update

from common import (
    emit,
    fresh_database,
    load_campaign,
    make_settings,
    note,
    parser,
    server_settings,
    tiers,
)
from http_server import Server, serve

GOAL_SECONDS = 2.0
GOAL_MIB = 100.0
USERS = (1, 2)


def label_everything(url: str, campaign_id: int, users: tuple[int, ...] = USERS) -> int:
    """Give each user one workset of every task (`assign_workset`) and label them all."""
    from wikiloom.db import make_engine, session_factory, transaction, utcnow
    from wikiloom.labels.tables import COMPLETE, LABELED, Label, Workset, WorksetTask
    from wikiloom.labels.worksets import assign_workset

    engine = make_engine(make_settings(url))
    factory = session_factory(engine)
    count = 0
    for user in users:
        with transaction(factory, write=True) as session:
            workset = assign_workset(session, campaign_id, user)
            ids = session.scalars(
                select(WorksetTask.task_id).where(WorksetTask.workset_id == workset.id)
            ).all()
            now = utcnow()
            rows = [
                {
                    "task_id": task_id,
                    "user_id": user,
                    "timestamp": now,
                    "data": {
                        "damaging": (task_id + user) % 7 == 0,
                        "goodfaith": (task_id * user) % 5 != 0,
                        "unsure": False,
                    },
                }
                for task_id in ids
            ]
            session.execute(insert(Label), rows)
            session.execute(
                update(WorksetTask)
                .where(WorksetTask.workset_id == workset.id)
                .values(state=LABELED, updated=now)
            )
            session.execute(
                update(Workset)
                .where(Workset.id == workset.id)
                .values(state=COMPLETE, open_key=None)
            )
            count += len(rows)
    engine.dispose()
    return count


def fetch(server: Server, path: str) -> dict[str, Any]:
    """Download `path` whole; the wall time, time to first byte, bytes and the server's peak."""
    reset = server.reset_peak()
    with httpx.Client(base_url=server.base_url, timeout=600) as client:
        began = time.perf_counter()
        first = None
        body = bytearray()
        with client.stream("GET", path) as answer:
            for chunk in answer.iter_raw():
                if first is None:
                    first = time.perf_counter() - began
                body += chunk
        wall = time.perf_counter() - began
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path}: {answer.status_code} {bytes(body[:300])!r}")
    return {
        "wall_s": wall,
        "first_byte_s": first or wall,
        "bytes": len(body),
        "streamed": "content-length" not in answer.headers,
        "peak_kib": server.memory_kib("VmHWM"),
        "peak_reset": reset,
        "body": bytes(body),
    }


def measure(url: str, path: str, warm_up: str, repeats: int) -> dict[str, Any]:
    """Serve `url` on a fresh server, GET `warm_up`, then fetch `path` `repeats` times."""
    with serve(url) as server:
        with httpx.Client(base_url=server.base_url) as client:
            client.get("/healthz").raise_for_status()
            client.get(warm_up).raise_for_status()
        idle_kib = server.memory_kib("VmRSS")
        runs = [fetch(server, path) for _ in range(repeats)]
    walls = [run["wall_s"] for run in runs]
    peak = max(run["peak_kib"] for run in runs)
    return {
        "seconds_median": round(statistics.median(walls), 3),
        "seconds_min": round(min(walls), 3),
        "seconds_max": round(max(walls), 3),
        "seconds_first_request": round(walls[0], 3),
        "first_byte_s": round(statistics.median(run["first_byte_s"] for run in runs), 4),
        "bytes": runs[0]["bytes"],
        "streamed": runs[0]["streamed"],
        "idle_rss_mib": round(idle_kib / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "peak_increase_mib": round((peak - idle_kib) / 1024, 1),
        "peak_reset_per_request": all(run["peak_reset"] for run in runs),
        "repeats": repeats,
        "body": runs[0]["body"],
    }


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--tasks", type=int, default=None, help="tasks in the campaign")
    options.add_argument("--repeats", type=int, default=5, help="requests per route")
    options.set_defaults(tiers="postgres,sqlite")
    args = options.parse_args()
    tasks = args.tasks or (2_000 if args.quick else 20_000)
    for tier in tiers(args.tiers):
        with fresh_database(tier) as url:
            note(f"{tier}: loading {tasks} tasks and {len(USERS)} labels each")
            campaign_id = load_campaign(url, tasks, labels_per_task=2, tasks_per_assignment=tasks)
            labels = label_everything(url, campaign_id)
            context = {
                "tier": tier,
                "tasks": tasks,
                "labels": labels,
                "server_workers": 1,
                "server_command": "python -m wikiloom serve --workers 1",
                "client": f"httpx {httpx.__version__}, same machine",
                "server": server_settings(url),
            }
            base = f"/campaigns/enwiki/{campaign_id}/"
            note(f"{tier}: baselines")
            export = measure(url, f"{base}export/", base, args.repeats)
            bare = measure(url, base, base, args.repeats)
            note(f"{tier}: ?tasks")
            found = measure(url, f"{base}?tasks", base, args.repeats)
            jsonp = measure(url, f"{base}?tasks&callback=cb", base, args.repeats)
            body = orjson.loads(found.pop("body"))
            wrapped = jsonp.pop("body")
            checks = {
                "tasks_in_body": len(body["tasks"]),
                "labels_in_body": sum(len(t["labels"]) for t in body["tasks"]),
                "jsonp_matches": wrapped.startswith(b"cb(") and orjson.loads(wrapped[3:-2]) == body,
            }
            del export["body"], bare["body"]
            for name, run in (("campaign_tasks", found), ("campaign_tasks_jsonp", jsonp)):
                note(f"{tier}: {name}: {run}")
                emit(
                    f"http_tasks.{name}",
                    run["seconds_median"],
                    "s (median)",
                    **run,
                    **checks,
                    ratio_to_export=round(run["seconds_median"] / export["seconds_median"], 2),
                    goal_seconds=GOAL_SECONDS,
                    goal_mib=GOAL_MIB,
                    goal_met=run["seconds_median"] < GOAL_SECONDS
                    and run["peak_increase_mib"] < GOAL_MIB
                    and run["streamed"],
                    **context,
                )
            for name, run in (("export", export), ("campaign", bare)):
                note(f"{tier}: baseline {name}: {run}")
                emit("http_tasks.baseline", run["seconds_median"], "s (median)", route=name, **run,
                     **context)  # fmt: skip


if __name__ == "__main__":
    main()
