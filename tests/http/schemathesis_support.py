"""Shared parts of the schemathesis runs (test_schemathesis.py, test_schemathesis_more.py).

The operations of /openapi.json are split in two halves, one per test file, so that
pytest-xdist's `--dist loadfile` runs them in two processes.


Every operation of the schema gets property-based requests (valid and invalid data, derived
from the schema) against a campaign with a workset and a label; half of the cases name those
in the path, so that they reach real campaigns, worksets and tasks. It runs anonymous on
SQLite, and logged in as an admin (who may create and edit campaigns) on every engine: most
server errors are an engine refusing a value (a number or a text too big for its column).
Answers must have a documented status, media type and schema. Hypothesis runs derandomized:
the same requests every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup

from tests.labels.factories import GOOD_LABEL, campaign_with_tasks
from wikiloom.config import Settings
from wikiloom.db import transaction
from wikiloom.http import create_app
from wikiloom.http.sessions import COOKIE
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.labeling import save_label
from wikiloom.labels.worksets import assign_workset, workset_tasks

#: Examples per operation and generation mode (valid, invalid data), and how many times
#: more for operations with a body (writes, where values reach the database).
EXAMPLES = 5
WRITES = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
USER = 101
ADMIN = "Admin101"


def make_app(settings: Settings) -> Iterator[Any]:
    """An app with the development login, an admin, and an OAuth consumer never reached."""
    app = create_app(
        settings.model_copy(
            update={
                "dev_login": True,
                "admins": [ADMIN],
                "oauth_consumer_key": "schemathesis",
                "oauth_consumer_secret": SecretStr("schemathesis-secret"),
                "user_agent": "wikiloom-tests/0 (schemathesis; https://example.org)",
                "rate_limits": {},  # hundreds of requests a second: measured elsewhere
            }
        )
    )
    yield app
    app.state.engine.dispose()


def _known_ids(app: Any) -> dict[str, Any]:
    """Path parameters naming things that exist: a campaign, its workset, a task, a form."""
    with transaction(app.state.sessions, write=True) as session:
        campaign = campaign_with_tasks(session, 12, labels_per_task=2, tasks_per_assignment=3)
        workset = assign_workset(session, campaign.id, USER)
        tasks = [t.id for t in workset_tasks(session, workset.id)]
        save_label(
            session,
            form=load_catalog()[campaign.form],
            workset_id=workset.id,
            task_id=tasks[0],
            user_id=USER,
            data=GOOD_LABEL,
        )
        return {
            "wiki": campaign.wiki,
            "campaign_id": campaign.id,
            "workset_id": workset.id,
            "task_id": tasks[1],
            "user_id": USER,
            "name": campaign.form,
        }


async def _session_cookie(app: Any) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        login = {"user_id": str(USER), "username": ADMIN}
        answer = await client.post("/auth/dev_login/", data=login)
        assert answer.status_code == 200, answer.text
        return client.cookies[COOKIE]


def _failures(operation: Any, known: dict[str, Any], cookies: dict[str, str]) -> list[str]:
    """Run one operation's cases; describe every check that failed."""
    names = {p.name for p in operation.path_parameters}
    real = {name: value for name, value in known.items() if name in names}
    strategy = st.one_of(
        *(
            operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            for fixed in ([None, real] if real else [None])
        )
    )
    found: list[str] = []

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES * (4 if real else 2) * (WRITES if operation.body else 1),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        try:
            response = case.call(cookies=cookies)
        except Exception as error:  # the app raised: a 500 with its traceback
            found.append(f"{operation.label}: {case.as_curl_command()}: {error!r}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as error:
            found.append(f"{operation.label}: {str(error).strip()[:1500]}")

    run()
    return found


async def run_half(app: Any, who: str, half: int) -> None:
    """Run every operation of one half of the schema (0 or 1); fail with what failed."""
    known = _known_ids(app)
    cookies = {COOKIE: await _session_cookie(app)} if who == "logged in" else {}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda o: o.label)
    assert len(operations) >= 30
    mine = operations[half::2]
    failures = [f for operation in mine for f in _failures(operation, known, cookies)]
    assert not failures, "\n\n".join(failures[:20])


ENGINES = pytest.mark.parametrize(
    ("settings", "who"),
    # Anonymous requests mostly meet 401s and 403s before the database: once is enough.
    [("sqlite", "anonymous"), ("sqlite", "logged in")]
    + [(engine, "logged in") for engine in ("postgres", "mariadb")],
    indirect=["settings"],
)
