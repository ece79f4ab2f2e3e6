"""Migrations run from empty on every engine and produce exactly the tables' schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import wikiloom.faces.tables
import wikiloom.jobs.tables
import wikiloom.labels.tables
import wikiloom.learn.tables  # noqa: F401  (these imports register the tables on Base.metadata)
from tests.conftest import fresh_database
from wikiloom.db import Base
from wikiloom.migrations import downgrade, upgrade

TABLES = {
    "alembic_version", "campaign_organizers", "campaigns", "events", "label_history", "labels",
    "tasks", "users",
    "workset_tasks", "worksets",
    "feature_vectors", "model_events", "model_versions", "models",
    "form_proposals",
    "job_runs", "wiki_gates",
    "score_feedback",
    "change_request_comments", "change_requests",
    "campaign_rounds",
    "credentials", "depicts_edits", "face_answers", "face_images", "face_project_members",
    "face_projects", "faces",
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/empty.db"
    return fresh_database(request.param, "wikiloom_migrations")


def test_upgrade_downgrade_upgrade_from_empty(empty_url: str) -> None:
    upgrade(empty_url)
    engine = create_engine(empty_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    downgrade(empty_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()


def test_migrated_schema_matches_the_tables(empty_url: str) -> None:
    upgrade(empty_url)
    engine = create_engine(empty_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_floating_point_columns_keep_double_precision(empty_url: str) -> None:
    upgrade(empty_url)
    engine = create_engine(empty_url)
    precise = 0.23796462709189137
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO campaigns (id, wiki, name, name_seq, form, view, labels_per_task,"
                " tasks_per_assignment, active, created, workset_expiry, holdout_fraction,"
                " sampling, min_edit_count, retrain_every, feature_set)"
                " VALUES (1, 'enwiki', 'c', 0, 'f', 'v', 1, 1, true, :now, 60, :p, 'random', 0,"
                " 50, 'editquality')"
            ),
            {"now": dt.datetime(2026, 1, 1), "p": precise / 10},
        )
        connection.execute(
            text(
                "INSERT INTO tasks (id, campaign_id, data, priority, assigned, holdout)"
                " VALUES (1, 1, '{}', :p, 0, false)"
            ),
            {"p": precise},
        )
        assert connection.scalar(text("SELECT priority FROM tasks")) == precise
        assert connection.scalar(text("SELECT holdout_fraction FROM campaigns")) == precise / 10
    engine.dispose()
