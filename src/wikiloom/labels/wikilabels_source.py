"""A Wiki labels database as a source: reading it in one snapshot, and the import report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

from wikiloom.errors import BadRequest

SOURCE_TABLES = ("campaign", "task", "label", "workset", "workset_task")
REJECTED = "import.rejected"
Row = Mapping[str, Any]


@dataclass
class ImportReport:
    """What an import copied, skipped as already present, updated and rejected (and why)."""

    copied: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        """Render the report for a terminal."""

        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{name} {n}" for name, n in counter.items() if n) or "nothing"

        out = [
            f"copied: {counts(self.copied)}",
            f"already present (skipped): {counts(self.skipped)}",
            f"updated: {counts(self.updated)}",
            f"rejected (recorded as {REJECTED} events): {sum(self.rejected.values())}",
        ]
        out += [f"  {table}: {why}: {n}" for (table, why), n in sorted(self.rejected.items())]
        return out


@contextmanager
def _snapshot(source: Connection | Engine) -> Iterator[Connection]:
    if isinstance(source, Connection):
        yield source
        return
    with source.connect() as connection:
        snapshot = connection.execution_options(isolation_level="REPEATABLE READ")
        with snapshot.begin():
            yield snapshot


def read_source(source: Connection | Engine) -> dict[str, list[Row]]:
    """Read the rows of each Wiki labels table in one snapshot (0.4.0 lacks `info_url`)."""
    with _snapshot(source) as connection:
        inspector = inspect(connection)
        missing = sorted(set(SOURCE_TABLES) - set(inspector.get_table_names()))
        if missing:
            raise BadRequest(f"not a Wiki labels database: no table {', '.join(missing)}")
        columns = {column["name"] for column in inspector.get_columns("campaign")}
        info_url = "info_url" if "info_url" in columns else "NULL AS info_url"
        queries = {
            "campaign": f"id, name, wiki, form, view, {info_url}, created, labels_per_task, "
            "tasks_per_assignment, active FROM campaign ORDER BY id",
            "task": "id, campaign_id, data FROM task ORDER BY id",
            "workset": "id, campaign_id, user_id, created, expires FROM workset ORDER BY id",
            "workset_task": "workset_id, task_id FROM workset_task ORDER BY workset_id, task_id",
            "label": 'task_id, user_id, "timestamp", data FROM label ORDER BY task_id, user_id',
        }
        return {
            table: [dict(row) for row in connection.execute(text(f"SELECT {sql}")).mappings()]
            for table, sql in queries.items()
        }
