"""Settings: defaults, environment, and documentation of every field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wikiloom.config import Settings
from wikiloom.db import normalize_url

DOCS = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`WIKILOOM_([A-Z_]+)`", DOCS.read_text()))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from docs/settings.md"
    assert documented - expected - {"TEST_POSTGRES_URL", "TEST_MARIADB_URL"} == set()


def test_database_url_defaults_to_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIKILOOM_DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url == "sqlite:///./wikiloom.db"  # type: ignore[call-arg]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", "postgresql://u@db/x")
    monkeypatch.setenv("WIKILOOM_WORKSET_EXPIRY", "60")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.workset_expiry == 60
    assert normalize_url(settings.database_url) == "postgresql+psycopg://u@db/x"
    assert normalize_url("mysql://root@h/db") == "mysql+pymysql://root@h/db"


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIKILOOM_WORKSET_EXPIRY", "0")
    with pytest.raises(ValueError, match="workset_expiry"):
        Settings(_env_file=None)  # type: ignore[call-arg]
