"""Fetching revisions with parents and editors from a real MediaWiki (the `mediawiki` tier)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

import httpx
import pytest

from tests.support.mediawiki import MediaWiki, history_dump
from tests.wiki.conftest import AGENT, client_of
from wikiloom.errors import (
    CommentDeleted,
    RevisionNotFound,
    RevisionProblem,
    TextDeleted,
    UserDeleted,
)
from wikiloom.wiki.revisions import Revision, fetch_revisions, hidden_problem


def revision(found: dict[int, Revision | RevisionProblem], rev_id: int) -> Revision:
    value = found[rev_id]
    assert isinstance(value, Revision), value
    return value


@pytest.mark.anyio
async def test_seeded_revisions_come_with_parent_texts_and_editors(mediawiki: MediaWiki) -> None:
    loom = mediawiki.pages["Loom"].revisions
    weaving = mediawiki.pages["Weaving"].revisions
    ids = [seeded.rev_id for seeded in (*loom, *weaving)]
    client = client_of(mediawiki)
    found = await fetch_revisions(client, mediawiki.dbname, ids)
    await client.aclose()
    # One request for the 8 revisions (every parent is among them), one for the editors.
    assert client.requests == 2
    assert list(found) == ids
    first = revision(found, loom[0].rev_id)
    assert (first.parent_id, first.parent_text) == (0, "")
    assert first.title == "Loom"
    assert first.namespace == 0
    assert first.page_id == mediawiki.pages["Loom"].page_id
    assert first.comment == loom[0].comment
    assert first.timestamp.tzinfo is not None
    assert first.timestamp <= dt.datetime.now(dt.UTC)
    assert first.content_model == "wikitext"
    assert first.sha1
    assert first.size
    for previous, seeded in itertools.pairwise(loom):
        current = revision(found, seeded.rev_id)
        assert current.parent_id == previous.rev_id
        assert current.parent_text == revision(found, previous.rev_id).text
    vandalism = revision(found, loom[2].rev_id)
    assert vandalism.anonymous
    assert vandalism.user is None
    assert vandalism.user_name == loom[2].user_text
    assert "BORING" in (vandalism.text or "")
    regular = revision(found, loom[0].rev_id).user
    assert regular is not None
    assert regular.name == "Regular"
    assert regular.edit_count == mediawiki.users["Regular"].edits
    assert regular.registration
    bot = revision(found, weaving[1].rev_id)
    assert bot.minor is False
    assert bot.user is not None
    assert "bot" in bot.user.groups
    assert all(hidden_problem(revision(found, rev_id)) is None for rev_id in ids)


@pytest.mark.anyio
async def test_parents_outside_the_batch_are_fetched_and_unknown_ids_reported(
    mediawiki: MediaWiki,
) -> None:
    loom = mediawiki.pages["Loom"].revisions
    unknown = [10_000_000 + n for n in range(60)]
    client = client_of(mediawiki)
    found = await fetch_revisions(client, mediawiki.dbname, [loom[-1].rev_id, *unknown])
    await client.aclose()
    # 61 ids: two revision batches, one parent batch, one user batch.
    assert client.requests == 4
    last = revision(found, loom[-1].rev_id)
    assert last.parent_id == loom[-2].rev_id
    assert last.parent_text
    assert "== History ==" in last.parent_text
    for rev_id in unknown:
        problem = found[rev_id]
        assert isinstance(problem, RevisionNotFound)
        assert problem.rev_id == rev_id
        assert problem.code == "RevisionNotFound"


def admin_session(wiki: MediaWiki) -> tuple[httpx.Client, str]:
    """Log the admin in with its main password (clientlogin) and return a CSRF token."""
    api = httpx.Client(
        base_url=f"{wiki.server}/",
        params={"format": "json", "formatversion": "2"},
        headers={"User-Agent": AGENT},
        timeout=30,
    )
    tokens = api.get("api.php", params={"action": "query", "meta": "tokens", "type": "login"})
    login = api.post(
        "api.php",
        data={
            "action": "clientlogin",
            "username": wiki.admin.name,
            "password": wiki.admin.password,
            "logintoken": tokens.json()["query"]["tokens"]["logintoken"],
            "loginreturnurl": wiki.server,
        },
    ).json()
    assert login["clientlogin"]["status"] == "PASS", login
    csrf = api.get("api.php", params={"action": "query", "meta": "tokens"})
    return api, str(csrf.json()["query"]["tokens"]["csrftoken"])


def post(api: httpx.Client, **data: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.post("api.php", data=data).json()
    assert "error" not in answer, answer
    return answer


@pytest.mark.anyio
async def test_deleted_revisions_text_comment_and_user_are_reported(mediawiki: MediaWiki) -> None:
    api, token = admin_session(mediawiki)
    title = f"Revdel test {uuid.uuid4().hex[:8]}"
    ids = []
    for n in range(4):
        edit = post(
            api, action="edit", title=title, text=f"Version {n}.", summary=f"v{n}", token=token
        )
        ids.append(int(edit["edit"]["newrevid"]))
    post(
        api, action="revisiondelete", type="revision", ids=str(ids[1]), hide="content", token=token
    )
    post(
        api,
        action="revisiondelete",
        type="revision",
        ids=str(ids[3]),
        hide="comment|user",
        token=token,
    )
    gone = f"Deleted test {uuid.uuid4().hex[:8]}"
    gone_id = int(
        post(api, action="edit", title=gone, text="Soon gone.", token=token)["edit"]["newrevid"]
    )
    post(api, action="delete", title=gone, token=token)
    api.close()

    client = client_of(mediawiki)
    found = await fetch_revisions(client, mediawiki.dbname, [*ids, gone_id])
    await client.aclose()
    assert isinstance(found[ids[0]], Revision)
    assert isinstance(found[ids[1]], TextDeleted)  # its own text is hidden
    assert isinstance(found[ids[2]], TextDeleted)  # its parent's text is hidden
    assert str(found[ids[1]]) == "TextDeleted: Text deleted (datasource.revision.text)"
    hidden = revision(found, ids[3])
    assert (hidden.comment, hidden.user_name, hidden.user_id, hidden.user) == (None,) * 4
    assert hidden.text == "Version 3."
    assert hidden.parent_text == "Version 2."
    assert isinstance(hidden_problem(hidden), CommentDeleted)
    assert isinstance(
        hidden_problem(hidden.__class__(**{**vars(hidden), "comment": ""})), UserDeleted
    )
    assert isinstance(found[gone_id], RevisionNotFound)


@pytest.mark.anyio
async def test_a_thousand_revisions_cost_under_a_tenth_of_a_request_each(
    mediawiki: MediaWiki,
) -> None:
    prefix = f"Bulk {uuid.uuid4().hex[:8]}"
    mediawiki.import_dump(history_dump(prefix, pages=20, revisions=100))  # about 15 s
    client = client_of(mediawiki)
    history: list[int] = []
    for p in range(20):
        history.extend(mediawiki.history(f"{prefix} {p}"))
    assert len(history) == 2000
    wanted = history[1::2]  # every parent is outside the set asked for
    client.requests = 0
    found = await fetch_revisions(client, mediawiki.dbname, wanted)  # about 3 s
    await client.aclose()
    assert len(found) == 1000
    assert all(isinstance(value, Revision) for value in found.values())
    assert client.requests / len(wanted) <= 0.1
    assert client.requests == 20 + 20  # no named local editors: no `list=users` request
    sample = revision(found, wanted[-1])
    assert sample.parent_text is not None
    assert sample.parent_text.startswith("Page 19, version 98.")


@pytest.mark.anyio
async def test_imported_edits_by_local_accounts_come_with_their_editors(
    mediawiki: MediaWiki,
) -> None:
    tag = uuid.uuid4().hex[:8]
    editors = [f"Local {tag} {n}" for n in range(3)]
    mediawiki.create_users(editors)
    mediawiki.import_dump(history_dump(f"Attributed {tag}", pages=1, revisions=6, editors=editors))
    rev_ids = mediawiki.history(f"Attributed {tag} 0")
    client = client_of(mediawiki)
    client.requests = 0
    found = await fetch_revisions(client, mediawiki.dbname, rev_ids)
    await client.aclose()
    assert client.requests == 2  # the revisions with their parents, then the three editors
    named = [revision(found, rev_id) for rev_id in rev_ids[::2]]
    assert [r.user_name for r in named] == editors
    for record in named:
        assert record.user is not None
        assert record.user.exists
        assert record.user_id == record.user.user_id
        assert record.user_id > 0
        assert record.user.registration is not None
    assert [revision(found, rev_id).anonymous for rev_id in rev_ids] == [False, True] * 3
