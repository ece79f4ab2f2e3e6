"""Workset assignment under concurrency, against the same loop with one labeler.

A campaign of 1,000,000 tasks (labels_per_task 2, tasks_per_assignment 10; 100,000 with
--quick) is loaded through `insert_tasks`. Then labeler threads, each with its own pooled
connection, loop for a fixed time: assign a workset, label all its tasks (one transaction
per label), assign again. First one labeler (the baseline), then 64 at once.

Figures, per tier and per number of labelers:

* `assignment.latency`: p50 / p99 of the assignment transaction (`assign_workset` and
  `workset_tasks` in one `transaction(factory, write=True)`), in ms.
* `assignment.throughput`: assignments per second over the run.
* `assignment.label_latency`: p99 of the label transactions run meanwhile, in ms.
* `assignment.invariant_violations`: rows breaking tests/labels/invariants.py after both runs.
"""

from __future__ import annotations

from common import (
    emit,
    fresh_database,
    latency_summary,
    load_campaign,
    make_settings,
    note,
    parser,
    run_labelers,
    server_settings,
    tiers,
    violation_counts,
)
from wikiloom.db import make_engine, session_factory

GOAL_P99_MS = 25.0


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--labelers", type=int, default=64, help="concurrent labelers")
    options.add_argument("--seconds", type=float, default=None, help="length of each run")
    options.set_defaults(tiers="postgres,mariadb")
    args = options.parse_args()
    tasks = 100_000 if args.quick else 1_000_000
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    for tier in tiers(args.tiers):
        with fresh_database(tier) as url:
            note(f"{tier}: loading {tasks} tasks")
            campaign_id = load_campaign(url, tasks, labels_per_task=2, tasks_per_assignment=10)
            pool = args.labelers + 4
            engine = make_engine(make_settings(url, database_pool_size=pool))
            factory = session_factory(engine)
            context = {
                "tier": tier,
                "tasks": tasks,
                "labels_per_task": 2,
                "tasks_per_assignment": 10,
                "seconds": seconds,
                "pool_size": pool,
                "server": server_settings(url),
            }
            runs = {}
            next_user = 1
            for labelers in (1, args.labelers):
                users = range(next_user, next_user + labelers)
                next_user += labelers
                note(f"{tier}: {labelers} labeler(s) for {seconds} s")
                runs[labelers] = run = run_labelers(factory, campaign_id, users, seconds)
                assign = latency_summary(run.assign)
                label = latency_summary(run.label)
                note(f"{tier}: {labelers} labelers: assign {assign}, label {label}")
                role = "baseline" if labelers == 1 else "measured"
                emit(
                    "assignment.latency",
                    assign["p99_ms"],
                    "ms (p99)",
                    labelers=labelers,
                    role=role,
                    **assign,
                    ratio_p99_to_baseline=round(
                        assign["p99_ms"] / latency_summary(runs[1].assign)["p99_ms"], 2
                    )
                    if labelers != 1
                    else 1.0,
                    goal_p99_ms=GOAL_P99_MS,
                    goal_met=assign["p99_ms"] <= GOAL_P99_MS,
                    errors=dict(run.errors.most_common(5)),
                    error_count=sum(run.errors.values()),
                    **context,
                )
                emit(
                    "assignment.throughput",
                    len(run.assign) / run.wall,
                    "assignments/s",
                    labelers=labelers,
                    role=role,
                    labels_per_s=round(len(run.label) / run.wall, 1),
                    ratio_to_baseline=round(
                        (len(run.assign) / run.wall) / (len(runs[1].assign) / runs[1].wall), 2
                    ),
                    **context,
                )
                emit(
                    "assignment.label_latency",
                    label["p99_ms"],
                    "ms (p99)",
                    labelers=labelers,
                    role=role,
                    **label,
                    **context,
                )
            engine.dispose()
            note(f"{tier}: checking invariants")
            found = violation_counts(url)
            emit(
                "assignment.invariant_violations",
                sum(found.values()),
                "rows",
                checks=found,
                goal=0,
                goal_met=not found,
                **context,
            )


if __name__ == "__main__":
    main()
