"""A bounded schemathesis run over /openapi.json: no server errors, answers as documented.

Every operation of the schema gets property-based requests (valid and invalid data, derived
from the schema) against a campaign with a workset and a label; half of the cases name those
in the path, so that they reach real campaigns, worksets and tasks. It runs anonymous on
SQLite, and logged in as an admin (who may create and edit campaigns) on every engine: most
server errors are an engine refusing a value (a number or a text too big for its column).
Answers must have a documented status, media type and schema. Hypothesis runs derandomized:
the same requests every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.routing import APIRoute
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
from wikiloom.http import create_app, health, identity, organizing, pages, reports, wikilabels
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


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    """An app with the development login, an admin, and an OAuth consumer never reached."""
    app = create_app(
        settings.model_copy(
            update={
                "dev_login": True,
                "admins": [ADMIN],
                "oauth_consumer_key": "schemathesis",
                "oauth_consumer_secret": SecretStr("schemathesis-secret"),
                "user_agent": "wikiloom-tests/0 (schemathesis; https://example.org)",
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


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("settings", "who"),
    # Anonymous requests mostly meet 403s before the database: once is enough.
    [("sqlite", "anonymous"), ("sqlite", "logged in")]
    + [(engine, "logged in") for engine in ("postgres", "mariadb")],
    indirect=["settings"],
)
async def test_no_operation_answers_a_server_error_or_off_its_schema(app: Any, who: str) -> None:
    known = _known_ids(app)
    cookies = {COOKIE: await _session_cookie(app)} if who == "logged in" else {}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    failures = [f for operation in operations for f in _failures(operation, known, cookies)]
    assert not failures, "\n\n".join(failures[:20])


#: Routes left out of /openapi.json on purpose.
UNDOCUMENTED = {("POST", "/auth/dev_login/"): "development only (404 unless enabled on loopback)"}


def test_openapi_describes_every_route_and_the_fields_read_by_hand() -> None:
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        paths = app.openapi()["paths"]
    finally:
        app.state.engine.dispose()
    for module in (health, pages, identity, wikilabels, reports, organizing):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            path = re.sub(r":int}", "}", route.path)
            for method in route.methods:
                if (method, path) in UNDOCUMENTED:
                    assert not route.include_in_schema
                    continue
                assert method.lower() in paths.get(path, {}), f"{method} {path} undocumented"
    campaign = paths["/campaigns/{wiki}/{campaign_id}/"]
    flags = {p["name"] for p in campaign["get"]["parameters"] if p["in"] == "query"}
    assert flags == {"campaign", "tasks", "worksets", "requirements", "learning", "callback"}
    task = paths["/campaigns/{wiki}/{campaign_id}/{workset_id}/{task_id}/"]
    for method in ("post", "put"):
        body = task[method]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        assert body["schema"]["required"] == ["label"]
        assert set(body["schema"]["properties"]) == {"label", "campaign", "workset", "task"}
    envelope = task["delete"]["responses"]["404"]["content"]["application/json"]
    assert envelope["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
