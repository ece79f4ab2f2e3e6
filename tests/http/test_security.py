"""Security properties over the whole app: escaping, CSP, CSRF, who may write, redirects, logs.

- XSS: text users control (campaign names, usernames, face project names and labels) comes
  back escaped in every page that shows it, and pages forbid inline scripts by their CSP.
- CSRF: every cookie-authenticated write route of /openapi.json refuses a request whose
  Origin is another site, with 403, whatever the body.
- Authorization: for the write routes, anonymous → 401 (403 on the Wiki labels API, as it
  answered), logged in without the role → 403, with it → 2xx.
- Open redirects: `next` never sends the browser off the site, at login start or callback.
- Secrets: a login, a token store and app start-up at DEBUG log none of the settings' secrets
  (nor the database password), and error answers carry none.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.http.conftest import client_for
from tests.http.test_oauth import (
    OUR_SITE,
    PROVIDER_THREAD,
    in_process,
    log_in,
    login_settings,
)
from tests.support.mediawiki_oauth import MediaWikiOAuth, serve_provider
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.faces.credentials import new_token_key
from wikiloom.http import create_app
from wikiloom.http.identity import safe_next
from wikiloom.migrations import upgrade

pytestmark = pytest.mark.anyio
ADMIN, ADMIN_ID, USER_ID, OTHER_ID = "Admin9", 9001, 9002, 9003
PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
EVIL = "https://evil.example"


@pytest.fixture
def admin_app(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"admins": [ADMIN]})


def _raw_payloads(html: str) -> list[str]:
    """The payloads that appear unescaped in `html`."""
    return [p for p in PAYLOADS if p in html or "<img src=x" in html or "<script>alert" in html]


# --- XSS and CSP ---------------------------------------------------------------------------


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_user_text_is_escaped_in_pages_and_the_csp_forbids_inline_scripts(
    admin_app: Settings,
) -> None:
    pages: list[str] = []
    for number, payload in enumerate(PAYLOADS):
        async with client_for(admin_app, ADMIN_ID + 10 * number, ADMIN) as admin:
            made = await admin.post(
                "/campaigns/enwiki/",
                data={
                    "name": payload,
                    "form": "damaging_and_goodfaith",
                    "view": "DiffToPrevious",
                    "labels_per_task": "1",
                    "tasks_per_assignment": "1",
                },
            )
            assert made.status_code == 200, made.text
            campaign = made.json()["campaign"]["id"]
            project = await admin.post(
                "/faces/projects/",
                json={"qid": "Q76", "name": payload, "label": payload, "categories": ["A"]},
            )
            assert project.status_code == 201, project.text
            pages += [
                f"/ui/enwiki/campaigns/{campaign}/",
                f"/ui/enwiki/campaigns/{campaign}/manage/",
                f"/ui/faces/{project.json()['id']}/",
            ]
        async with client_for(admin_app, USER_ID + number, payload) as user:  # the username
            for path in ["/", "/ui/", "/ui/enwiki/", "/ui/faces/", *pages]:
                answer = await user.get(path)
                assert answer.status_code == 200, (path, answer.text[:300])
                assert answer.headers["content-type"].startswith("text/html")
                assert not _raw_payloads(answer.text), (path, payload)
                policy = answer.headers.get("content-security-policy", "")
                scripts = re.search(r"script-src ([^;]*)", policy)
                assert scripts is not None, (path, policy)
                assert scripts.group(1).split() == ["'self'"], policy  # no inline, no eval
                assert "object-src 'none'" in policy
                assert "base-uri 'none'" in policy
            assert "&lt;script&gt;" in (await user.get(pages[0])).text or number == 1


# --- CSRF ----------------------------------------------------------------------------------

#: Write routes that take no cookie: scoring, anonymous previews (nothing to forge).
NO_COOKIE = ("/v3/", "/v1/", "/form_builder/preview")


def _fill(path: str) -> str:
    path = path.replace("{wiki}", "enwiki").replace("{name}", "damaging")
    return re.sub(r"\{[a-z_]+\}", "1", path.replace("{model}", "damaging"))


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_every_cookie_write_refuses_another_sites_origin(admin_app: Settings) -> None:
    app = create_app(admin_app)
    writes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete") and not path.startswith(NO_COOKIE)
    ]
    app.state.engine.dispose()
    assert len(writes) >= 25
    body = {"user_id": "5", "name": "n", "form": "damaging_and_goodfaith", "view": "View"}
    async with client_for(admin_app, ADMIN_ID, ADMIN) as client:
        for method, path in writes:
            for headers in ({"Origin": EVIL}, {"Origin": "null"}):
                answer = await client.request(method, _fill(path), data=body, headers=headers)
                assert answer.status_code == 403, (method, path, answer.text)
                assert answer.json()["error"]["code"] == "forbidden", (method, path)
        # The same writes from our own origin get past the check (to whatever comes next).
        own = await client.post("/campaigns/enwiki/", data=body, headers={"Origin": OUR_ORIGIN})
        assert own.status_code in (200, 400), own.text


OUR_ORIGIN = "http://127.0.0.1"


# --- authorization matrix ------------------------------------------------------------------

CAMPAIGN = {
    "form": "damaging_and_goodfaith",
    "view": "DiffToPrevious",
    "labels_per_task": "1",
    "tasks_per_assignment": "1",
}


async def _campaign(client: httpx.AsyncClient, name: str) -> int:
    made = await client.post("/campaigns/enwiki/", data={**CAMPAIGN, "name": name})
    assert made.status_code == 200, made.text
    return int(made.json()["campaign"]["id"])


async def _project(client: httpx.AsyncClient, name: str) -> int:
    body = {"qid": "Q76", "name": name, "categories": ["A"]}
    made = await client.post("/faces/projects/", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


#: (route, request maker, status anonymous, status without the role): each request is made
#: against things the admin made, by nobody, by a user without the role, then by the admin.
MATRIX: list[tuple[str, str, str, dict[str, Any], int]] = [
    # name, method, path template, request kwargs, anonymous status
    ("create campaign", "POST", "/campaigns/enwiki/", {"data": {**CAMPAIGN, "name": "M"}}, 403),
    (
        "campaign settings",
        "POST",
        "/campaigns/enwiki/{c}/settings/",
        {"data": {"name": "N"}},
        403,
    ),
    ("add tasks", "POST", "/campaigns/enwiki/{c}/tasks/", {"content": b'{"rev_id": 5}\n'}, 403),
    (
        "add organizer",
        "POST",
        "/campaigns/enwiki/{c}/organizers/",
        {"data": {"user_id": "77"}},
        403,
    ),
    (
        "project settings",
        "PATCH",
        "/faces/projects/{p}",
        {"json": {"target_precision": 0.9}},
        401,
    ),
    (
        "project members",
        "POST",
        "/faces/projects/{p}/members",
        {"json": {"user_id": 78}},
        401,
    ),
    ("delete encodings", "DELETE", "/faces/projects/{p}/encodings", {}, 401),
]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("name", "method", "path", "request_kwargs", "anonymous"), MATRIX)
async def test_write_routes_refuse_anonymous_and_the_wrong_role(
    admin_app: Settings,
    name: str,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    anonymous: int,
) -> None:
    async with client_for(admin_app, ADMIN_ID, ADMIN) as admin:
        url = path.format(c=await _campaign(admin, "C"), p=await _project(admin, "P"))
        async with client_for(admin_app, None) as nobody:
            answer = await nobody.request(method, url, **request_kwargs)
            assert answer.status_code == anonymous, (name, answer.text)
        async with client_for(admin_app, OTHER_ID, "Stranger") as stranger:
            answer = await stranger.request(method, url, **request_kwargs)
            assert answer.status_code == 403, (name, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"
        answer = await admin.request(method, url, **request_kwargs)
        assert 200 <= answer.status_code < 300, (name, answer.text)


# --- open redirects ------------------------------------------------------------------------

HOSTILE_NEXT = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "/%5Cevil.example",
    "/\tevil.example",
    "http:evil.example",
    "///evil.example",
    " //evil.example",
    "data:text/html,<script>alert(1)</script>",
]


def _stays_here(location: str) -> bool:
    parts = httpx.URL(location)
    return (
        location.startswith("/")
        and not location.startswith(("//", "/\\"))
        and not parts.is_absolute_url
        and "\\" not in location
    )


@pytest.mark.parametrize("value", HOSTILE_NEXT)
def test_safe_next_never_leaves_the_site(value: str) -> None:
    assert _stays_here(safe_next(value)), safe_next(value)


@pytest.fixture(scope="module")
def provider() -> Any:
    with serve_provider() as found:
        yield found


async def test_login_and_callback_never_redirect_off_the_site(
    tmp_path: Path, provider: MediaWikiOAuth
) -> None:
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer)
    async with httpx.AsyncClient(timeout=10) as browser:
        for value in HOSTILE_NEXT:
            async with await in_process(settings) as app:
                finished = await log_in(app, browser, value)
                assert finished.status_code == 302, finished.text
                assert _stays_here(finished.headers["location"]), (value, finished.headers)


# --- secrets never logged ------------------------------------------------------------------

SECRET_KEY = "SECRET-KEY-0f1e2d3c"
CONSUMER_SECRET = "CONSUMER-SECRET-4b5a6978"
DB_PASSWORD = "DBPASS-8c7d6e5f"


async def test_secrets_never_reach_logs_or_error_answers(
    tmp_path: Path, provider: MediaWikiOAuth, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token_key = new_token_key()
    consumer = provider.add_consumer("2.0", f"{OUR_SITE}/auth/callback/")
    settings = login_settings(tmp_path, provider, consumer, token_key=SecretStr(token_key))
    settings = settings.model_copy(update={"secret_key": SECRET_KEY})
    upgrade(settings.database_url)
    secrets = [SECRET_KEY, token_key, consumer.secret, DB_PASSWORD]
    answers: list[str] = []
    async with await in_process(settings) as app:  # start-up, a login that stores tokens
        async with httpx.AsyncClient(timeout=10) as browser:
            finished = await log_in(app, browser)
            assert finished.status_code == 302, finished.text
        for path in ("/auth/whoami/", "/no/such/", "/auth/callback/?code=x&state=y"):
            answer = await app.get(path)
            answers.append(answer.text + str(answer.headers))
    # A database URL with a password: the engine, its errors and the settings' repr hide it.
    remote = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"postgresql+psycopg://loom:{DB_PASSWORD}@127.0.0.1:9/nowhere",
        database_pool_timeout=0.5,
        secret_key=SECRET_KEY,
        oauth_consumer_secret=SecretStr(CONSUMER_SECRET),
        token_key=SecretStr(token_key),
    )
    engine = make_engine(remote)
    try:
        with (
            pytest.raises(Exception, match=r".") as failed,
            transaction(session_factory(engine)) as s,
        ):
            s.connection()
        answers.append(str(failed.value))
        answers.append(repr(engine))
    finally:
        engine.dispose()
    remote_app = create_app(remote)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=remote_app, raise_app_exceptions=False),
        base_url="http://127.0.0.1",
    ) as client:
        answer = await client.get("/campaigns/enwiki/")
        answers.append(answer.text)
    remote_app.state.engine.dispose()
    ours = [r for r in caplog.records if r.threadName != PROVIDER_THREAD]
    logged = "\n".join(logging.Formatter().format(r) for r in ours)
    assert "HTTP Request: POST" in logged  # the capture saw the token exchange
    for secret in [*secrets, CONSUMER_SECRET]:
        assert secret not in logged, secret
        for text in answers:
            assert secret not in text, (secret, text[:300])
    assert DB_PASSWORD not in repr(remote)
    assert CONSUMER_SECRET not in repr(remote)
