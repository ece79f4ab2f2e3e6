"""Run every bench script, each in its own process, and print their JSON lines.

The first line is the machine record. Every line also goes to bench/results/<time>.jsonl.

    .venv/bin/python bench/run.py                  # everything (what `make bench` runs)
    .venv/bin/python bench/run.py --quick          # smaller data, shorter runs
    .venv/bin/python bench/run.py --only assignment --tiers postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from pathlib import Path

import orjson

from common import emit, machine

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "task_inserts",
    "assignment",
    "labels",
    "http_tasks",
    "http_assign",
    "load",
    "wiki_revisions",
    "training",
    "active_learning",
    "campaign_rounds",
    "features",
    "scoring",
    "model_states",
    "ui",
    "faces",
)
#: Run only when named with --only: faults.py restarts the machine's shared PostgreSQL,
#: MariaDB and Redis (other sessions' tests see the outages).
OPT_IN = ("faults",)


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--quick", action="store_true", help="a smaller, faster run")
    options.add_argument(
        "--only", action="append", choices=SCRIPTS + OPT_IN, help="run only this script"
    )
    options.add_argument("--tiers", help="comma-separated tiers (default: each script's own)")
    args = options.parse_args()
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (results / f"{stamp}{'-quick' if args.quick else ''}.jsonl").open("w")
    record = machine()
    emit("machine", None, "", quick=args.quick, **record)
    out.write(orjson.dumps({"figure": "machine", "quick": args.quick, **record}).decode() + "\n")
    failed = []
    for name in args.only or SCRIPTS:
        command = [sys.executable, str(HERE / f"{name}.py")]
        command += ["--quick"] if args.quick else []
        command += ["--tiers", args.tiers] if args.tiers else []
        print(f"[run] {' '.join(command)}", file=sys.stderr, flush=True)
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
            assert process.stdout is not None
            for line in process.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                out.write(line)
                out.flush()
        if process.returncode != 0:
            failed.append(name)
            emit("failed", process.returncode, "exit status", bench=name)
    out.close()
    print(f"[run] results in {out.name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
