"""The `wikiloom` command: administration, loading data, training, and starting the processes."""

from __future__ import annotations

from wikiloom.cli import campaigns, jobs, models, operations
from wikiloom.cli.common import app

__all__ = ["app", "campaigns", "jobs", "main", "models", "operations"]


def main() -> None:
    """Run the command line."""
    app()
