"""The labeling app in a real browser, against a live server and the local MediaWiki.

Debian's Chromium through Playwright: log in, request a workset, label every task with the
keyboard only while diffs come from the local wiki, skip the deleted revision, undo one answer,
finish, and find the labels stored; the same through the gadget loader on a wiki page; the
accessibility check (axe-core), the XSS check, and FaceOnImage's face box over a photo of the
wiki. Screenshots land in tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from PIL import Image
from sqlalchemy import select

from tests.support.browser import axe_violations, live_server, screenshot
from tests.support.mediawiki import USER_AGENT, MediaWiki
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.labels.campaigns import create_campaign
from wikiloom.labels.catalog import load_catalog
from wikiloom.labels.tables import Label, LabelHistory, Task
from wikiloom.labels.tasks import insert_tasks

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
MISSING_REVISION = 98_765_432
USER = 4242
#: The keys that answer the damaging/goodfaith form: 1/2 damaging yes/no, 3 unsure,
#: 4/5 good faith yes/no, 6 unsure, 7 the form's own "unsure" checkbox.
GOOD = ("2", "4")
BAD = ("1", "5")


@pytest.fixture
def wiki_settings(settings: Settings, mediawiki: MediaWiki) -> Settings:
    """Settings that name the local wiki and let its pages call us with credentials."""
    return settings.model_copy(
        update={
            "dev_login": True,
            "wikis": {mediawiki.dbname: mediawiki.api_url},
            "cors_origins": re.escape(mediawiki.server),
            "user_agent": USER_AGENT,
        }
    )


def make_campaign(
    settings: Settings, wiki: str, tasks: list[dict[str, Any]], *, view: str, name: str
) -> int:
    """A campaign whose one workset holds every task."""
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        campaign = create_campaign(
            session,
            wiki=wiki,
            name=name,
            form="damaging_and_goodfaith",
            view=view,
            labels_per_task=1,
            tasks_per_assignment=len(tasks),
            known_forms=load_catalog(None).keys(),
        )
        insert_tasks(session, campaign.id, (orjson.dumps(t) for t in tasks), seed=1)
        campaign_id = campaign.id
    engine.dispose()
    return campaign_id


def stored(settings: Settings, campaign_id: int) -> tuple[dict[int, Any], int]:
    """The labels by rev_id, and how many earlier labels the history keeps."""
    engine = make_engine(settings)
    with transaction(session_factory(engine)) as session:
        rows = session.execute(
            select(Task.data, Label.data)
            .join(Label, Label.task_id == Task.id)
            .where(Task.campaign_id == campaign_id)
        ).all()
        history = session.scalars(select(LabelHistory)).all()
    engine.dispose()
    return {data["rev_id"]: label for data, label in rows}, len(history)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page with its console errors collected (`page.errors`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.errors = errors
    yield opened
    context.close()


def dev_login_with_keys(page: Any) -> None:
    """Log in through the development login form, typing and pressing Enter."""
    page.wait_for_selector("#wl-dev-login")
    page.fill("#wl-dev-user", str(USER))
    page.fill("#wl-dev-name", "Keyboard labeler")
    page.press("#wl-dev-name", "Enter")
    page.wait_for_selector("#wl-campaigns")


def shown_revision(page: Any) -> int:
    """Wait for a task's view and return the revision it shows (0 for none)."""
    page.wait_for_selector("#wl-view > *")
    found = page.eval_on_selector(
        "#wl-view", "v => v.querySelector('[data-rev-id]')?.dataset.revId"
    )
    return int(found or 0)


def label_workset(page: Any, bad: set[int], missing: int) -> list[int]:
    """Label every task with the keyboard (skipping the missing revision); return the order."""
    seen: list[int] = []
    while not page.query_selector("#wl-complete"):
        shown = page.get_attribute("#wikiloom-app, .wikiloom-labels", "data-shown-task")
        rev_id = shown_revision(page)
        seen.append(rev_id)
        if rev_id == missing:
            assert "was deleted or hidden" in page.inner_text("#wl-view")
            page.keyboard.press("s")
        else:
            assert page.query_selector("#wl-view table.diff, #wl-view .wl-diff")
            for key in BAD if rev_id in bad else GOOD:
                page.keyboard.press(key)
            page.keyboard.press("Enter")
        page.wait_for_function(
            "previous => !document.querySelector('#wl-complete') ? "
            "document.querySelector('[data-shown-task]')?.dataset.shownTask !== previous : true",
            arg=shown,
        )
    return seen


def test_label_a_workset_with_the_keyboard_only(
    page: Any, mediawiki: MediaWiki, wiki_settings: Settings
) -> None:
    loom = [r.rev_id for r in mediawiki.pages["Loom"].revisions]
    weaving = [r.rev_id for r in mediawiki.pages["Weaving"].revisions]
    vandalism = {r.rev_id for r in mediawiki.pages["Loom"].revisions if r.damaging}
    rev_ids = [*loom, *weaving, MISSING_REVISION]
    campaign_id = make_campaign(
        wiki_settings, mediawiki.dbname, [{"rev_id": r} for r in rev_ids],
        view="DiffToPrevious", name="Keyboard campaign",
    )  # fmt: skip
    with live_server(wiki_settings) as server:
        page.goto(f"{server.url}/ui/{mediawiki.dbname}/")
        screenshot(page, "ui-login")
        dev_login_with_keys(page)
        screenshot(page, "ui-campaigns")
        page.keyboard.press("Enter")  # the first campaign's link has the focus
        page.wait_for_selector("#wl-request")
        page.keyboard.press("Enter")
        page.wait_for_selector("#wl-view table.diff, #wl-view .wl-diff-view")

        # The first task is the page creation: every line added, no editor, no time.
        assert shown_revision(page) == loom[0]
        view = page.inner_text("#wl-view")
        assert "This edit created the page." in view
        assert "loom" in view
        for editor in ("Regular", "Sysop", "Tidybot"):
            assert editor not in view
        screenshot(page, "ui-task")
        for key in GOOD:
            page.keyboard.press(key)
        page.keyboard.press("Enter")

        # The second: a real diff as MediaWiki renders it. Answer it, then undo and change.
        page.wait_for_function(f"document.querySelector('[data-rev-id=\"{loom[1]}\"]')")
        assert page.query_selector("#wl-view td.diff-addedline")
        for key in BAD:
            page.keyboard.press(key)
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.querySelector('[data-rev-id=\"{loom[2]}\"]')")
        page.keyboard.press("z")
        page.wait_for_selector("#wl-undone")
        assert shown_revision(page) == loom[1]
        assert page.get_attribute("#wl-form [data-value='true']", "aria-checked") == "true"
        for key in GOOD:
            page.keyboard.press(key)
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.querySelector('[data-rev-id=\"{loom[2]}\"]')")

        # The arrows move between tasks without answering.
        page.keyboard.press("ArrowLeft")
        page.wait_for_selector("#wl-state")
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"document.querySelector('[data-rev-id=\"{loom[2]}\"]')")

        seen = label_workset(page, vandalism, MISSING_REVISION)
        screenshot(page, "ui-complete")
        assert page.inner_text("#wl-complete").startswith("Workset complete!")
        assert MISSING_REVISION in seen
        assert page.errors == []

    labels, history = stored(wiki_settings, campaign_id)
    good = {"damaging": False, "goodfaith": True, "unsure": False}
    bad = {"damaging": True, "goodfaith": False, "unsure": False}
    assert labels == {r: (bad if r in vandalism else good) for r in rev_ids[:-1]}
    assert history == 1  # the undone answer, kept


def test_the_gadget_loader_mounts_the_app_on_a_wiki_page(
    page: Any, mediawiki: MediaWiki, wiki_settings: Settings
) -> None:
    weaving = [r.rev_id for r in mediawiki.pages["Weaving"].revisions]
    campaign_id = make_campaign(
        wiki_settings, mediawiki.dbname, [{"rev_id": r} for r in weaving],
        view="DiffToPrevious", name="Gadget campaign",
    )  # fmt: skip
    with live_server(wiki_settings) as server:
        mediawiki.maintenance(
            "edit.php", "-u", mediawiki.admin.name, "-s", "wikiloom gadget", "MediaWiki:Common.js",
            stdin=f'mw.loader.load("{server.url}/gadget/loader.js");\n',
        )  # fmt: skip
        mediawiki.maintenance(
            "edit.php", "-u", mediawiki.admin.name, "Project:Labels",
            stdin=f'<div class="wikiloom-labels" data-wiki="{mediawiki.dbname}"></div>\n',
        )  # fmt: skip
        page.goto(f"{mediawiki.index_url}?title=Project:Labels&debug=1")
        dev_login_with_keys(page)
        assert page.query_selector("#mw-content-text .wikiloom-labels #wl-campaigns")
        page.click(".wl-campaign-link")
        page.click("#wl-request")
        seen = label_workset(page, set(), MISSING_REVISION)
        screenshot(page, "gadget-complete")
        assert seen == weaving
        assert page.errors == []
    labels, _ = stored(wiki_settings, campaign_id)
    good = {"damaging": False, "goodfaith": True, "unsure": False}
    assert labels == dict.fromkeys(weaving, good)


def test_accessibility_of_the_labeling_pages(
    browser: Any, mediawiki: MediaWiki, wiki_settings: Settings
) -> None:
    rev_ids = [r.rev_id for r in mediawiki.pages["Loom"].revisions]
    make_campaign(
        wiki_settings, mediawiki.dbname, [{"rev_id": r} for r in rev_ids],
        view="DiffToPrevious", name="Accessible campaign",
    )  # fmt: skip
    context = browser.new_context(bypass_csp=True)  # to inject axe-core
    page = context.new_page()
    with live_server(wiki_settings) as server:
        found: dict[str, list[Any]] = {}
        page.goto(f"{server.url}/ui/")
        found["wikis"] = axe_violations(page)
        page.goto(f"{server.url}/ui/{mediawiki.dbname}/")
        dev_login_with_keys(page)
        found["campaigns"] = axe_violations(page)
        page.click(".wl-campaign-link")
        page.click("#wl-request")
        page.wait_for_selector("#wl-view table.diff")
        found["task"] = axe_violations(page)
    context.close()
    described = {
        name: [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in violations]
        for name, violations in found.items()
    }
    assert all(not v for v in described.values()), described


XSS = {
    "rev_id": 1,
    "script": "<script>window.__xss = 'script'</script>",
    "image": "<img src=x onerror=\"window.__xss = 'onerror'\">",
}


def test_task_data_renders_inert(page: Any, mediawiki: MediaWiki, wiki_settings: Settings) -> None:
    loom = mediawiki.pages["Loom"].revisions[1].rev_id
    tasks = {
        "View": [XSS],
        "RenderedHTML": [{"html": XSS["script"] + XSS["image"]}],
        "MultiDiffToPrevious": [{"rev_ids": [loom], "note": XSS["image"] + XSS["script"]}],
    }
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with live_server(wiki_settings) as server:
        for view, data in tasks.items():
            make_campaign(wiki_settings, mediawiki.dbname, data, view=view, name=f"XSS {view}")
        page.goto(f"{server.url}/ui/{mediawiki.dbname}/")
        dev_login_with_keys(page)
        for view in tasks:
            page.goto(f"{server.url}/ui/{mediawiki.dbname}/")
            page.wait_for_selector("#wl-campaigns")
            page.click(f"text=XSS {view}")
            page.click("#wl-request")
            page.wait_for_selector("#wl-view > *")
            page.wait_for_timeout(300)  # let any injected handler fire
            if view == "View":
                text = page.inner_text("#wl-view")
                assert all(orjson.dumps(XSS[key]).decode() in text for key in ("script", "image"))
            screenshot(page, f"xss-{view}")
            assert page.evaluate("window.__xss") is None, view
    assert dialogs == []
    assert page.errors == []


def test_the_face_box_is_drawn_over_the_image(
    browser: Any, mediawiki: MediaWiki, wiki_settings: Settings
) -> None:
    seeded = mediawiki.files["File:Obama.jpg"]
    width, height = Image.open(seeded.path).size
    box = [height // 4, 3 * width // 4, 3 * height // 4, width // 4]  # top, right, bottom, left
    task = {"image": seeded.title, "box": box, "width": width, "height": height}
    make_campaign(wiki_settings, mediawiki.dbname, [task], view="FaceOnImage", name="Faces")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    with live_server(wiki_settings) as server:
        page.goto(f"{server.url}/ui/{mediawiki.dbname}/")
        dev_login_with_keys(page)
        page.click("text=Faces")
        page.click("#wl-request")
        page.wait_for_selector(".wl-face img")
        page.wait_for_function("() => document.querySelector('.wl-face img').naturalWidth > 0")
        image = page.locator(".wl-face img").bounding_box()
        mark = page.locator(".wl-face-box").bounding_box()
        screenshot(page, "view-face")
    page.close()
    # The box covers the middle half of the displayed image, whatever its displayed size.
    assert mark["x"] == pytest.approx(image["x"] + image["width"] / 4, abs=2)
    assert mark["y"] == pytest.approx(image["y"] + image["height"] / 4, abs=2)
    assert mark["width"] == pytest.approx(image["width"] / 2, abs=2)
    assert mark["height"] == pytest.approx(image["height"] / 2, abs=2)
