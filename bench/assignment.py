"""Workset assignment under concurrency, against the same loop with one labeler.

A campaign of 1,000,000 tasks (labels_per_task 2, tasks_per_assignment 10; 100,000 with
--quick) is loaded through `insert_tasks`. Then labeler threads, each with its own pooled
connection, loop for a fixed time: assign a workset, label all its tasks (one transaction
per label), assign again. First one labeler (the baseline), then 64 at once in a closed
loop (each starts its next transaction as soon as the last ends: a saturation test), then
64 in a paced loop (a pause of about `--think` seconds before each label, as people do).
The 64 labelers run as threads of `--processes` client processes (default 8 x 8 threads,
like the workers of a deployment; `--processes 1` runs them all in one process, under one
GIL); the baseline runs in this process.

Figures, per tier and per number of labelers:

* `assignment.latency`: p50 / p99 of the assignment transaction (`assign_workset` and
  `workset_tasks` in one `transaction(factory, write=True)`), in ms.
* `assignment.throughput`: assignments per second over the run.
* `assignment.label_latency`: p99 of the label transactions run meanwhile, in ms.
* `assignment.invariant_violations`: rows breaking tests/labels/invariants.py after both runs.
"""

from __future__ import annotations

from typing import Any

from common import (
    Labelers,
    emit,
    emit_invariants,
    fresh_database,
    latency_summary,
    load_campaign,
    note,
    parser,
    run_labelers,
    server_settings,
    tiers,
)

GOAL_P99_MS = 25.0


def report(
    run: Labelers, baseline: Labelers, loop: str, labelers: int, think: float, context: Any
) -> None:
    """Emit the latency, throughput and label-latency figures of one run."""
    assign = latency_summary(run.assign)
    label = latency_summary(run.label)
    baseline_p99 = latency_summary(baseline.assign)["p99_ms"]
    note(f"{context['tier']}: {labelers} labelers {loop}: assign {assign}, label {label}")
    shared = {
        "labelers": labelers,
        "loop": loop,
        "think_s": think,
        "role": "baseline" if run is baseline else "measured",
        **context,
        **run.context(),
    }
    emit(
        "assignment.latency",
        assign["p99_ms"],
        "ms (p99)",
        **assign,
        ratio_p99_to_baseline=round(assign["p99_ms"] / baseline_p99, 2),
        goal_p99_ms=GOAL_P99_MS,
        goal_met=assign["p99_ms"] <= GOAL_P99_MS,
        error_count=sum(run.errors.values()),
        errors=dict(run.errors.most_common(5)),
        server_sessions=dict(run.waits.most_common(8)),
        **shared,
    )
    rate = len(run.assign) / run.wall
    emit(
        "assignment.throughput",
        rate,
        "assignments/s",
        labels_per_s=round(len(run.label) / run.wall, 1),
        ratio_to_baseline=round(rate / (len(baseline.assign) / baseline.wall), 2),
        **shared,
    )
    emit("assignment.label_latency", label["p99_ms"], "ms (p99)", **label, **shared)


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--labelers", type=int, default=64, help="concurrent labelers")
    options.add_argument("--seconds", type=float, default=None, help="length of each run")
    options.add_argument(
        "--think", type=float, default=1.0, help="mean pause before each label in the paced run"
    )
    options.add_argument(
        "--processes",
        type=int,
        default=8,
        help="client processes the concurrent labelers are split over (1: all in one process)",
    )
    options.set_defaults(tiers="postgres,mariadb")
    args = options.parse_args()
    tasks = 100_000 if args.quick else 1_000_000
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    for tier in tiers(args.tiers):
        with fresh_database(tier) as url:
            note(f"{tier}: loading {tasks} tasks")
            campaign_id = load_campaign(url, tasks, labels_per_task=2, tasks_per_assignment=10)
            context = {
                "tier": tier,
                "tasks": tasks,
                "labels_per_task": 2,
                "tasks_per_assignment": 10,
                "seconds": seconds,
                "server": server_settings(url),
            }
            runs: dict[tuple[str, int], Labelers] = {}
            next_user = 1
            plan = [("closed", 1, 0.0), ("closed", args.labelers, 0.0)]
            if args.think > 0:
                plan.append(("paced", args.labelers, args.think))
            for loop, labelers, think in plan:
                users = range(next_user, next_user + labelers)
                next_user += labelers
                length = seconds if loop == "closed" else seconds * 1.5
                note(f"{tier}: {labelers} labeler(s), {loop} loop, for {length} s")
                run = run_labelers(
                    url, campaign_id, users, length, think=think, processes=args.processes
                )
                runs[loop, labelers] = run
                report(
                    run, runs["closed", 1], loop, labelers, think, {**context, "seconds": length}
                )
            note(f"{tier}: checking invariants")
            emit_invariants("assignment.invariant_violations", url, **context)


if __name__ == "__main__":
    main()
