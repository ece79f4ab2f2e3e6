"""A change request in a real browser: opened and discussed by a user, decided by a steward.

Debian's Chromium through Playwright against a live server holding the sample model, active
on enwiki. The forms are driven from the keyboard; axe-core checks each page; screenshots
land in tests/artifacts/.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.test_ores import REV_IDS
from tests.support.browser import axe_violations, live_server, screenshot
from wikiloom.config import Settings

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
MODEL = "/ui/enwiki/models/reverted/"


def logged_in(browser: Any, url: str, user_id: int, name: str) -> tuple[Any, Any]:
    """A browser context logged in through the development login, and its page."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    answer = context.request.post(
        f"{url}/auth/dev_login/", form={"user_id": str(user_id), "username": name}
    )
    assert answer.ok
    return context, context.new_page()


def problems(page: Any) -> list[str]:
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in axe_violations(page)]


def open_and_discuss(browser: Any, url: str, found: dict[str, list[str]], errors: list[str]) -> str:
    """Alice opens a turn-off request from the model page and comments on it: its URL."""
    user, page = logged_in(browser, url, 41, "Alice")
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + MODEL)
    page.focus("#model-new-request")
    page.keyboard.press("Enter")
    page.wait_for_selector("#request-form")
    found["new"] = problems(page)
    page.focus("#request-kind-retrain")
    page.keyboard.press("ArrowDown")  # radios: the arrow keys move to the next kind
    page.keyboard.press("ArrowDown")
    assert page.is_checked("#request-kind-turn_off")
    page.focus("#request-title")
    page.keyboard.type("Turn it off on enwiki")
    page.keyboard.press("Tab")
    page.keyboard.type("It flags most edits by newcomers.")
    page.focus("#request-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#request-page")
    request_url: str = page.url
    assert page.inner_text("#request-title") == "Change request #1: Turn it off on enwiki"
    page.focus("#comment-body")
    page.keyboard.type("Seen on RecentChanges all week.")
    page.focus("#comment-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector(".wl-governance-comment")
    assert "Seen on RecentChanges all week." in page.inner_text("#request-comments")
    assert page.query_selector("#decision-form") is None  # Alice is no steward
    screenshot(page, "governance-request-open")
    found["request"] = problems(page)
    user.close()
    return request_url


def decide(browser: Any, url: str, request_url: str, found: dict[str, list[str]],
           errors: list[str]) -> None:  # fmt: skip
    """The steward accepts it: the model is paused, the audit log and the model page say so."""
    steward, page = logged_in(browser, url, 42, "Steward")
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(request_url)
    page.focus("#decision-accepted")
    page.keyboard.press("Space")
    page.focus("#decision-outcome")
    page.keyboard.type("Paused until it is retrained on new labels.")
    page.focus("#decision-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#request-page[data-status=done]")
    assert page.inner_text("#request-outcome").startswith("Paused until it is retrained")
    status = page.get_attribute("#request-model-status .wl-model-status", "data-status")
    assert status == "paused"
    screenshot(page, "governance-request-decided")
    found["decided"] = problems(page)
    scored = steward.request.get(f"{url}/v3/scores/enwiki/{REV_IDS[0]}/reverted/")
    assert scored.status == 404
    assert "is paused on enwiki" in scored.json()["error"]["message"]
    page.goto(f"{url}/ui/enwiki/audit/")
    kinds = page.eval_on_selector_all(
        "#audit-log tr.wl-audit-entry", "rows => rows.map(r => r.dataset.kind)"
    )
    assert kinds[:5] == [
        "change_request_decided", "status", "change_request_decided",
        "change_request_commented", "change_request_opened",
    ]  # fmt: skip
    screenshot(page, "governance-audit")
    found["audit"] = problems(page)
    page.goto(url + MODEL)
    assert page.get_attribute("#model-status", "data-status") == "paused"
    assert page.input_value("#model-status-new") == "active"  # resume comes first
    screenshot(page, "governance-model")
    found["model"] = problems(page)
    steward.close()


def test_open_discuss_and_decide_a_change_request(browser: Any, served: Settings) -> None:
    settings = served.model_copy(
        update={"dev_login": True, "model_stewards": {"enwiki": ["Steward"]}}
    )
    found: dict[str, list[str]] = {}
    errors: list[str] = []
    with live_server(settings) as server:
        request_url = open_and_discuss(browser, server.url, found, errors)
        decide(browser, server.url, request_url, found, errors)
    assert {k: v for k, v in found.items() if v} == {}
    assert errors == []
