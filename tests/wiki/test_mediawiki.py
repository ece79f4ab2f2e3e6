"""The real MediaWiki of the integration tier answers as seeded (proves the fixture).

Every test that takes `mediawiki` is marked `mediawiki` by tests/support/mediawiki.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.mediawiki import (
    ANONYMOUS_IP,
    USER_AGENT,
    MediaWiki,
    api_client,
    dump_subset,
)

DUMP = """\
<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <case>first-letter</case>
    <namespaces>
      <namespace key="0" case="first-letter" />
    </namespaces>
  </siteinfo>
{pages}</mediawiki>
"""
PAGE = """\
  <page>
    <title>{title}</title>
    <ns>0</ns>
    <id>{page_id}</id>
    <revision>
      <id>{page_id}01</id>
      <timestamp>2015-03-01T10:00:00Z</timestamp>
      <contributor><username>Weaver</username><id>77</id></contributor>
      <comment>Create</comment>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text xml:space="preserve">{title} is a word.</text>
    </revision>
    <revision>
      <id>{page_id}02</id>
      <parentid>{page_id}01</parentid>
      <timestamp>2015-03-02T10:00:00Z</timestamp>
      <contributor><ip>192.0.2.7</ip></contributor>
      <comment>Expand</comment>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text xml:space="preserve">{title} is a word &amp; a page.</text>
    </revision>
  </page>
"""


def dump(*titles: str) -> bytes:
    """An export-0.10 dump with two revisions of each title."""
    pages = "".join(PAGE.format(title=t, page_id=900 + i) for i, t in enumerate(titles))
    return DUMP.format(pages=pages).encode()


@pytest.fixture
def api(mediawiki: MediaWiki) -> Iterator[httpx.Client]:
    """A JSON client of the wiki's api.php."""
    with api_client(mediawiki.server) as client:
        yield client


def query(api: httpx.Client, **params: str) -> dict[str, object]:
    """Answer an `action=query` GET, failing on API errors."""
    answer = api.get("api.php", params={"action": "query", **params})
    answer.raise_for_status()
    body: dict[str, object] = answer.json()
    assert "error" not in body, body
    query: dict[str, object] = body["query"]  # type: ignore[assignment]
    return query


def test_siteinfo_names_the_wiki(mediawiki: MediaWiki, api: httpx.Client) -> None:
    general = query(api, meta="siteinfo")["general"]
    assert isinstance(general, dict)
    assert general["sitename"] == mediawiki.sitename == "TestWiki"
    assert general["wikiid"] == mediawiki.dbname == "testwiki"
    assert general["server"] == mediawiki.server
    assert str(general["generator"]).startswith("MediaWiki 1.")
    assert mediawiki.api_url == f"{mediawiki.server}/api.php"


def test_users_have_the_seeded_groups_and_edit_counts(
    mediawiki: MediaWiki, api: httpx.Client
) -> None:
    seeded = {**mediawiki.users, mediawiki.admin.name: mediawiki.admin}
    assert {"Newbie", "Regular", "Sysop"} <= set(mediawiki.users)
    found = query(
        api,
        list="users",
        ususers="|".join(seeded),
        usprop="groups|implicitgroups|editcount|registration",
    )["users"]
    assert isinstance(found, list)
    by_name = {user["name"]: user for user in found}
    assert set(by_name) == set(seeded)
    for name, user in seeded.items():
        answer = by_name[name]
        assert answer["userid"] == user.user_id
        assert set(answer["groups"]) - set(answer["implicitgroups"]) == user.groups, name
        if user is not mediawiki.admin:  # other tests edit as the admin's bot password
            assert answer["editcount"] == user.edits, name
    assert mediawiki.users["Newbie"].edits == 0
    assert mediawiki.users["Regular"].edits >= 3
    assert "autoconfirmed" in by_name["Regular"]["groups"]
    assert "autoconfirmed" not in by_name["Newbie"]["groups"]
    assert "sysop" in by_name["Sysop"]["groups"]
    assert "bot" in by_name["Tidybot"]["groups"]


def test_seeded_revisions_come_back_with_parent_ids(
    mediawiki: MediaWiki, api: httpx.Client
) -> None:
    for page in mediawiki.pages.values():
        pages = query(
            api,
            prop="revisions",
            titles=page.title,
            rvprop="ids|user|userid|comment|flags",
            rvdir="newer",
            rvlimit="max",
        )["pages"]
        assert isinstance(pages, list)
        assert pages[0]["pageid"] == page.page_id
        revisions = pages[0]["revisions"]
        assert [r["revid"] for r in revisions] == [r.rev_id for r in page.revisions]
        assert [r["parentid"] for r in revisions] == [0, *[r.rev_id for r in page.revisions][:-1]]
        assert [r["user"] for r in revisions] == [r.user_text for r in page.revisions]
    loom = mediawiki.pages["Loom"]
    vandalism = [r for r in loom.revisions if r.damaging]
    assert [r.user_text for r in vandalism] == [ANONYMOUS_IP]
    assert len({r.user_text for r in loom.revisions}) >= 3


def test_compare_diffs_the_vandalism_and_its_revert(
    mediawiki: MediaWiki, api: httpx.Client
) -> None:
    revisions = mediawiki.pages["Loom"].revisions
    vandalism = next(r for r in revisions if r.damaging)
    answer = api.get(
        "api.php",
        params={"action": "compare", "fromrev": vandalism.parent_id, "torev": vandalism.rev_id},
    ).json()
    assert answer["compare"]["fromrevid"] == vandalism.parent_id
    assert "BORING" in answer["compare"]["body"]


def test_recent_changes_list_the_anonymous_edit(mediawiki: MediaWiki, api: httpx.Client) -> None:
    changes = query(api, list="recentchanges", rcprop="ids|user|flags", rcshow="anon", rclimit="50")
    rev_ids = {change["revid"] for change in changes["recentchanges"]}  # type: ignore[attr-defined]
    vandalism = next(r for r in mediawiki.pages["Loom"].revisions if r.damaging)
    assert vandalism.rev_id in rev_ids


def test_bot_password_logs_in_and_edits(mediawiki: MediaWiki, api: httpx.Client) -> None:
    token = query(api, meta="tokens", type="login")["tokens"]["logintoken"]  # type: ignore[index]
    login = api.post(
        "api.php",
        data={
            "action": "login",
            "lgname": mediawiki.bot.username,
            "lgpassword": mediawiki.bot.password,
            "lgtoken": token,
        },
    ).json()["login"]
    assert login["result"] == "Success", login
    assert login["lgusername"] == mediawiki.admin.name
    csrf = query(api, meta="tokens")["tokens"]["csrftoken"]  # type: ignore[index]
    title = f"Bot test {uuid.uuid4().hex[:8]}"
    edit = api.post(
        "api.php",
        data={"action": "edit", "title": title, "text": "Made by a bot password.", "token": csrf},
    ).json()
    assert edit["edit"]["result"] == "Success", edit
    assert edit["edit"]["newrevid"] > 0
    pages = query(api, prop="revisions", titles=title, rvprop="user")["pages"]
    assert pages[0]["revisions"][0]["user"] == mediawiki.admin.name  # type: ignore[index]


def test_cross_site_requests_are_allowed(mediawiki: MediaWiki) -> None:
    origin = "http://127.0.0.1:8000"
    answer = httpx.get(
        mediawiki.api_url,
        params={"action": "query", "meta": "siteinfo", "format": "json", "origin": origin},
        headers={"Origin": origin, "User-Agent": USER_AGENT},
    )
    assert answer.headers["access-control-allow-origin"] == origin
    assert answer.headers["access-control-allow-credentials"] == "true"


def test_dump_subset_keeps_the_chosen_pages() -> None:
    source = dump("Alpha", "Beta", "Gamma")
    assert dump_subset(source) == source
    only_beta = dump_subset(source, titles=["Beta"]).decode()
    assert "<title>Beta</title>" in only_beta
    assert "<title>Alpha</title>" not in only_beta
    assert only_beta.startswith("<mediawiki")
    assert only_beta.endswith("</mediawiki>\n")
    first_two = dump_subset(source, limit=2).decode()
    assert first_two.count("<page>") == 2
    assert "Gamma" not in first_two


def test_an_imported_dump_subset_has_its_revisions(mediawiki: MediaWiki, api: httpx.Client) -> None:
    source = dump("Imported loom", "Not imported loom")
    mediawiki.import_dump(dump_subset(source, titles=["Imported loom"]))
    pages = query(
        api,
        prop="revisions",
        titles="Imported loom|Not imported loom",
        rvprop="ids|user|content",
        rvslots="main",
    )["pages"]
    by_title = {page["title"]: page for page in pages}  # type: ignore[attr-defined]
    assert by_title["Not imported loom"].get("missing") is True
    latest = by_title["Imported loom"]["revisions"][0]
    assert latest["parentid"] > 0
    assert latest["slots"]["main"]["content"] == "Imported loom is a word & a page."
    assert latest["user"] == "192.0.2.7"


def test_the_enwiki_sample_is_imported(mediawiki: MediaWiki, api: httpx.Client) -> None:
    assert len(mediawiki.sample_titles) == 206
    assert "Anarchism" in mediawiki.sample_titles
    titles = mediawiki.sample_titles[:50]
    pages = query(api, prop="revisions", titles="|".join(titles), rvprop="ids")["pages"]
    assert len(pages) == 50  # type: ignore[arg-type]
    assert all(page["revisions"][0]["revid"] > 0 for page in pages)  # type: ignore[attr-defined]


def test_photos_are_uploaded_into_a_category_tree(mediawiki: MediaWiki, api: httpx.Client) -> None:
    assert set(mediawiki.files) == {
        "File:Biden.jpg",
        "File:Biden2.jpg",
        "File:Obama.jpg",
        "File:Obama2.jpg",
        "File:Obama and biden.jpg",
    }
    members = query(api, list="categorymembers", cmtitle="Category:Portraits", cmprop="title")
    titles = {row["title"] for row in members["categorymembers"]}  # type: ignore[attr-defined]
    assert titles == {"File:Biden.jpg", "File:Biden2.jpg", "Category:Presidents"}
    parents = query(api, prop="categories", titles="Category:Portraits")["pages"]
    assert parents[0]["categories"][0]["title"] == "Category:Obama and Biden"  # type: ignore[index]
    assert api.get(f"{mediawiki.server}/images/no/such/photo.jpg").status_code == 404
