"""Label submission: `save_label` latency, against a bare write of the same label.

A campaign of 100,000 tasks (10,000 with --quick; labels_per_task 2, tasks_per_assignment
10) is loaded through `insert_tasks`. Labelers then assign worksets and label each task,
one transaction per label, in a closed loop: one labeler, then 8 at once, as threads of
`--processes` client processes (default 4 x 2 threads; `--processes 1`: one process).

Figures, per tier:

* `labels.save_label`: p50 / p99 of the `save_label` transaction, in ms.
* `labels.baseline`: p50 / p99 of the minimal transaction that stores a label without our
  code (one INSERT into labels and one UPDATE of the lease, plain SQL, same engine), in ms.
"""

from __future__ import annotations

import time

from sqlalchemy import text

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
)
from wikiloom.db import make_engine, session_factory, transaction, utcnow
from wikiloom.labels.worksets import assign_workset, workset_tasks

GOAL_P99_MS = 10.0


def bare_labels(factory: object, campaign_id: int, count: int, first_user: int) -> list[float]:
    """Store `count` labels with plain SQL, one transaction each; return the latencies."""
    latencies: list[float] = []
    user_id = first_user
    while len(latencies) < count:
        with transaction(factory, write=True) as session:  # type: ignore[arg-type]
            workset = assign_workset(session, campaign_id, user_id)
            task_ids = [task.id for task in workset_tasks(session, workset.id)]
        for task_id in task_ids:
            began = time.perf_counter()
            with transaction(factory, write=True) as session:  # type: ignore[arg-type]
                session.execute(
                    text(
                        "INSERT INTO labels (task_id, user_id, data, timestamp) "
                        "VALUES (:task, :user, :data, :now)"
                    ),
                    {
                        "task": task_id,
                        "user": user_id,
                        "data": '{"damaging": false}',
                        "now": utcnow().replace(tzinfo=None),
                    },
                )
                session.execute(
                    text(
                        "UPDATE workset_tasks SET state = 'labeled', updated = :now "
                        "WHERE workset_id = :workset AND task_id = :task"
                    ),
                    {"workset": workset.id, "task": task_id, "now": utcnow().replace(tzinfo=None)},
                )
            latencies.append(time.perf_counter() - began)
        user_id += 1  # the bare writes leave the workset open: the next one is someone else's
    return latencies


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--seconds", type=float, default=None, help="length of each run")
    options.add_argument("--labelers", type=int, default=8, help="concurrent labelers")
    options.add_argument(
        "--processes",
        type=int,
        default=4,
        help="client processes the concurrent labelers are split over (1: all in one process)",
    )
    args = options.parse_args()
    tasks = 10_000 if args.quick else 100_000
    seconds = args.seconds or (4.0 if args.quick else 15.0)
    for tier in tiers(args.tiers):
        with fresh_database(tier) as url:
            note(f"{tier}: loading {tasks} tasks")
            campaign_id = load_campaign(url, tasks, labels_per_task=2, tasks_per_assignment=10)
            engine = make_engine(make_settings(url, database_pool_size=args.labelers + 4))
            factory = session_factory(engine)
            context = {
                "tier": tier,
                "tasks": tasks,
                "seconds": seconds,
                "server": server_settings(url),
            }
            baseline = latency_summary(bare_labels(factory, campaign_id, 500, 1_000_000))
            emit(
                "labels.baseline",
                baseline["p99_ms"],
                "ms (p99)",
                labelers=1,
                **baseline,
                what="INSERT label + UPDATE lease, plain SQL",
                **context,
            )
            next_user = 1
            for labelers in (1, args.labelers):
                users = range(next_user, next_user + labelers)
                next_user += labelers
                run = run_labelers(url, campaign_id, users, seconds, processes=args.processes)
                label = latency_summary(run.label)
                note(f"{tier}: {labelers} labelers: save_label {label}")
                emit(
                    "labels.save_label",
                    label["p99_ms"],
                    "ms (p99)",
                    labelers=labelers,
                    **label,
                    ratio_p99_to_baseline=round(label["p99_ms"] / baseline["p99_ms"], 2),
                    goal_p99_ms=GOAL_P99_MS,
                    goal_met=label["p99_ms"] <= GOAL_P99_MS,
                    error_count=sum(run.errors.values()),
                    errors=dict(run.errors.most_common(3)),
                    **context,
                    **run.context(),
                )
            engine.dispose()


if __name__ == "__main__":
    main()
