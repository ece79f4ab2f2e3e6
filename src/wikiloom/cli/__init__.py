"""The `wikiloom` command: administration, loading data, training, and starting the processes."""

from __future__ import annotations

from wikiloom.cli import backups, campaigns, jobs, models, operations
from wikiloom.cli.common import app

__all__ = ["app", "backups", "campaigns", "jobs", "main", "models", "operations"]


def main() -> None:
    """Run the command line."""
    app()
