"""Revisions with parents and editors from a real MediaWiki: `fetch_revisions` against one by one.

Starts the test harness's wiki (Debian's MediaWiki on SQLite, served by `php -S` with 4
workers), creates 200 accounts and imports a history of 20 pages x 100 revisions, every other
revision by one of the accounts in turn and the others by IPs. Then, per repeat (median kept):

* `batched`: `fetch_revisions` of 1,000 revisions in one call (every other one of the
  history, those by the accounts: no parent is among them and every editor is looked up, the
  costly shape): revisions per second, and API requests per revision;
* `batched_consecutive`: the same for 1,000 consecutive revisions (most parents
  in the set);
* `one_by_one`: the baseline, 100 of those revisions asked one at a time, as a
  scorer fetching each revision on its own does (three requests each: it, its parent, its
  editor).

Requests go one after another, as Wikimedia's API etiquette asks of a client.
Where PHP or MediaWiki is missing (scripts/install-system installs them) a `skipped` line says so.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from common import emit, note, parser
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.revisions import Revision, fetch_revisions

if TYPE_CHECKING:
    from tests.support.mediawiki import MediaWiki

AGENT = "wikiloom-bench/0.1 (https://example.org/wikiloom; bench@example.org)"
PAGES, REVISIONS, EDITORS = 20, 100, 200


async def timed_fetch(wiki: MediaWiki, rev_ids: list[int], one_by_one: bool) -> tuple[float, int]:
    """Fetch the revisions (all at once, or one call each); return seconds and requests."""
    client = WikiClient(AGENT, custom_wikis={wiki.dbname: wiki.api_url}, timeout=60)
    try:
        await client.siteinfo(wiki.dbname)  # open the connection before the clock starts
        client.requests = 0
        started = time.perf_counter()
        if one_by_one:
            found = {}
            for rev_id in rev_ids:
                found.update(await fetch_revisions(client, wiki.dbname, [rev_id]))
        else:
            found = await fetch_revisions(client, wiki.dbname, rev_ids)
        seconds = time.perf_counter() - started
    finally:
        await client.aclose()
    good = [value for value in found.values() if isinstance(value, Revision)]
    assert len(good) == len(rev_ids), f"{len(rev_ids) - len(good)} revisions were not found"
    named = [revision for revision in good if not revision.anonymous]
    assert named, "no revision by a named editor"
    assert all(revision.user is not None and revision.user.exists for revision in named)
    assert all(revision.parent_text is not None for revision in good)
    return seconds, client.requests


def main() -> None:
    options = parser(__doc__ or "")
    options.add_argument("--repeats", type=int, default=3, help="measurements per figure")
    options.add_argument("--count", type=int, default=1000, help="revisions per batched fetch")
    options.add_argument("--baseline", type=int, default=100, help="revisions one by one")
    args = options.parse_args()
    # After `common`, which puts the repository on sys.path.
    from tests.support.mediawiki import (
        DEFAULT_MEDIAWIKI_DIR,
        SERVER_WORKERS,
        history_dump,
        serve_wiki,
    )

    if args.quick:
        args.repeats, args.count, args.baseline = 1, 500, 30
    mediawiki_dir = Path(DEFAULT_MEDIAWIKI_DIR)
    if not (mediawiki_dir / "maintenance" / "install.php").is_file():
        emit("skipped", None, "", reason=f"no MediaWiki at {mediawiki_dir}")
        return
    pages = max(1, -(-args.count * 2 // REVISIONS))
    with tempfile.TemporaryDirectory(prefix="wikiloom-bench-wiki-") as root:
        note("installing and seeding the wiki")
        with serve_wiki(mediawiki_dir, Path(root)) as wiki:
            editors = [f"Bench editor {n}" for n in range(EDITORS)]
            wiki.create_users(editors)
            note(f"importing {pages} x {REVISIONS} revisions")
            wiki.import_dump(history_dump("Bench page", pages, REVISIONS, editors=editors))
            rev_ids = [r for p in range(pages) for r in wiki.history(f"Bench page {p}")]
            shapes = {
                "batched": (rev_ids[::2][: args.count], False),
                "batched_consecutive": (rev_ids[: args.count], False),
                "one_by_one": (rev_ids[::2][: args.baseline], True),
            }
            rates: dict[str, float] = {}
            for shape, (wanted, one_by_one) in shapes.items():
                runs = [
                    asyncio.run(timed_fetch(wiki, wanted, one_by_one)) for _ in range(args.repeats)
                ]
                seconds = statistics.median(run[0] for run in runs)
                requests = runs[0][1]
                rates[shape] = len(wanted) / seconds
                context = {
                    "revisions": len(wanted),
                    "repeats": args.repeats,
                    "editors": EDITORS,
                    "server_workers": SERVER_WORKERS,
                }
                emit(f"{shape}.revisions_per_second", rates[shape], "rev/s", **context)
                emit(
                    f"{shape}.requests_per_revision",
                    requests / len(wanted),
                    "requests/rev",
                    requests=requests,
                    **context,
                )
                emit(f"{shape}.seconds", seconds, "s", **context)
            emit(
                "batched.speedup_over_one_by_one",
                rates["batched"] / rates["one_by_one"],
                "x",
            )


if __name__ == "__main__":
    main()
