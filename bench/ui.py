"""The labeling app in Chromium: time to first paint, and keypress to the next task rendered.

A live server (SQLite) and the local MediaWiki (Debian's, served by `php -S`) on loopback;
Debian's Chromium through Playwright. The campaign's tasks are diffs of the real enwiki
sample articles imported into the local wiki (DiffToPrevious).

* `first_paint` of `/ui/<wiki>/`, logged in: the browser's first-contentful-paint, and the
  time until the app has drawn the campaign list (`app_ready`); baseline: the first paint of
  `/ui/`, a server-rendered page without the app.
* `next_task`: from the Enter keydown that submits a label to the next task's view in the
  DOM and painted (two animation frames), the labeler looking at each task for `--think`
  seconds (1 by default; `--think 0` answers at once, while views are still prefetched);
  baseline: rendering one view without prefetch
  (fetching its diff from the wiki and building it), which is what prefetching hides.

Goals (issue #7): first paint < 300 ms, next task < 100 ms.
"""

from __future__ import annotations

import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

import orjson

from common import emit, note, parser

TRACK = """() => {
  window.__times = [];
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter") window.__start = performance.now();
  }, true);
  document.getElementById("wikiloom-app").addEventListener("wikiloom:shown", () => {
    const start = window.__start;
    if (start === undefined) return;
    window.__start = undefined;
    const record = () => window.__times.push(performance.now() - start);
    requestAnimationFrame(() => requestAnimationFrame(record));
  });
}"""

UNCACHED = """async ([view, tasks]) => {
  const { makeView } = await import("/static/ui/views.js");
  const { WikiApi } = await import("/static/ui/api.js");
  const config = JSON.parse(document.getElementById("wikiloom-config").textContent);
  const times = [];
  for (const task of tasks) {
    const fresh = makeView(view, new WikiApi(config.api), (key) => key);
    const start = performance.now();
    document.querySelector("#main").append(await fresh.render(task));
    times.push(performance.now() - start);
  }
  return times;
}"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def paint_times(page: Any, url: str, repeats: int) -> tuple[list[float], list[float]]:
    """First-contentful-paint and app-ready times of `url`, in ms, over fresh loads."""
    paints, ready = [], []
    for _ in range(repeats):
        page.goto(url)
        page.wait_for_selector("#wl-campaigns, .wl-list, main")
        timing = page.evaluate(
            """() => ({
              paint: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
              ready: performance.now(),
            })"""
        )
        page.wait_for_function(
            "() => performance.getEntriesByName('first-contentful-paint').length > 0"
        )
        paints.append(
            page.evaluate(
                "() => performance.getEntriesByName('first-contentful-paint')[0].startTime"
            )
        )
        ready.append(timing["ready"])
    return paints, ready


def prepare(wiki: Any, root: Path, tasks: int) -> tuple[Any, list[int]]:
    """Settings of a fresh SQLite database holding a campaign of the sample's diffs."""
    from tests.support.mediawiki import USER_AGENT

    from wikiloom.config import Settings
    from wikiloom.db import make_engine, session_factory, transaction
    from wikiloom.labels.campaigns import create_campaign
    from wikiloom.labels.catalog import load_catalog
    from wikiloom.labels.tasks import insert_tasks
    from wikiloom.migrations import upgrade

    rev_ids: list[int] = []
    for title in wiki.sample_titles:
        rev_ids += wiki.history(title)[-2:]
        if len(rev_ids) >= tasks:
            break
    rev_ids = rev_ids[:tasks]
    url = f"sqlite:///{root / 'ui.db'}"
    upgrade(url)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=url, dev_login=True, user_agent=USER_AGENT,
        wikis={wiki.dbname: wiki.api_url}, cors_origins=re.escape(wiki.server),
    )  # fmt: skip
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        campaign = create_campaign(
            session, wiki=wiki.dbname, name="Bench campaign", form="damaging_and_goodfaith",
            view="DiffToPrevious", labels_per_task=1, tasks_per_assignment=len(rev_ids),
            known_forms=load_catalog(None).keys(),
        )  # fmt: skip
        insert_tasks(session, campaign.id, (orjson.dumps({"rev_id": r}) for r in rev_ids), seed=1)
    engine.dispose()
    return settings, rev_ids


def measure_paint(page: Any, server: str, app: str, repeats: int) -> None:
    """First paint of the app's page, against a server-rendered page without the app."""
    context = {"repeats": repeats, "database": "sqlite", "browser": "chromium"}
    base_paints, _ = paint_times(page, f"{server}/ui/", repeats)
    paints, ready = paint_times(page, app, repeats)
    emit("first_paint.p50", statistics.median(paints), "ms", **context)
    emit("first_paint.p95", percentile(paints, 0.95), "ms", **context)
    emit("app_ready.p50", statistics.median(ready), "ms", **context)
    base = statistics.median(base_paints)
    emit("baseline.first_paint_server_page.p50", base, "ms", **context)
    emit("first_paint.ratio_to_baseline", statistics.median(paints) / base, "x", **context)


def measure_next_task(page: Any, app: str, rev_ids: list[int], think: float) -> None:
    """Label every task with the keyboard; time each Enter to the next task painted."""
    page.goto(app)
    page.wait_for_selector("#wl-campaigns")
    page.evaluate(TRACK)
    page.keyboard.press("Enter")
    page.wait_for_selector("#wl-request")
    page.keyboard.press("Enter")
    for _ in rev_ids:
        page.wait_for_selector("#wl-view > *")
        page.wait_for_timeout(think * 1000)
        page.keyboard.press("2")
        page.keyboard.press("4")
        count = page.evaluate("() => window.__times.length")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "n => window.__times.length > n || document.querySelector('#wl-complete')", arg=count
        )
    page.wait_for_selector("#wl-complete")
    times = page.evaluate("() => window.__times")
    tasks = [{"id": i, "data": {"rev_id": r}} for i, r in enumerate(rev_ids)]
    uncached = page.evaluate(UNCACHED, ["DiffToPrevious", tasks])
    context = {
        "tasks": len(rev_ids), "think_seconds": think, "database": "sqlite", "browser": "chromium",
    }  # fmt: skip
    note("next task times (ms): " + ", ".join(f"{t:.0f}" for t in times))
    emit("next_task.p50", statistics.median(times), "ms", measured=len(times), **context)
    emit("next_task.p95", percentile(times, 0.95), "ms", **context)
    emit("next_task.max", max(times), "ms", **context)
    emit("baseline.view_without_prefetch.p50", statistics.median(uncached), "ms", **context)
    emit("baseline.view_without_prefetch.p95", percentile(uncached, 0.95), "ms", **context)


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--tasks", type=int, default=40, help="tasks labeled in the workset")
    options.add_argument("--repeats", type=int, default=20, help="page loads per paint figure")
    options.add_argument(
        "--think", type=float, default=1.0, help="seconds a labeler looks at a task first"
    )
    args = options.parse_args()
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, live_server
    from tests.support.mediawiki import DEFAULT_MEDIAWIKI_DIR, serve_wiki

    if args.quick:
        args.tasks, args.repeats = 15, 5
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        emit("skipped", None, "", reason="playwright is not installed")
        return
    mediawiki_dir = Path(DEFAULT_MEDIAWIKI_DIR)
    if not Path(CHROMIUM).exists() or not (mediawiki_dir / "maintenance").is_dir():
        emit("skipped", None, "", reason="no Chromium or no MediaWiki")
        return
    with tempfile.TemporaryDirectory(prefix="wikiloom-bench-ui-") as root:
        note("installing and seeding the wiki")
        (Path(root) / "wiki").mkdir()
        with serve_wiki(mediawiki_dir, Path(root) / "wiki") as wiki:
            settings, rev_ids = prepare(wiki, Path(root), args.tasks)
            with live_server(settings) as server, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                app = f"{server.url}/ui/{wiki.dbname}/"
                page.goto(app)
                page.fill("#wl-dev-user", "1")
                page.press("#wl-dev-name", "Enter")
                page.wait_for_selector("#wl-campaigns")
                measure_paint(page, server.url, app, args.repeats)
                measure_next_task(page, app, rev_ids, args.think)
                browser.close()


if __name__ == "__main__":
    main()
