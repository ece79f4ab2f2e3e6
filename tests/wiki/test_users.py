"""Looking users up on a real MediaWiki (the `mediawiki` tier)."""

from __future__ import annotations

import pytest

from tests.support.mediawiki import MediaWiki
from tests.wiki.conftest import AGENT, client_of
from wikiloom.errors import NotConfigured, WikiError, WikiUnavailable
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.users import fetch_users


@pytest.mark.anyio
async def test_seeded_users_come_back_with_their_groups_and_edit_counts(
    mediawiki: MediaWiki,
) -> None:
    client = client_of(mediawiki)
    names = [*mediawiki.users, "regular", "Nobody Here"]
    found = await fetch_users(client, mediawiki.dbname, names)
    await client.aclose()
    assert set(found) == set(names)
    for name, seeded in mediawiki.users.items():
        user = found[name]
        assert (user.name, user.user_id, user.exists) == (name, seeded.user_id, True)
        assert seeded.groups <= set(user.groups)
        assert user.edit_count == seeded.edits
        assert user.registration
    assert found["regular"] == found["Regular"]  # MediaWiki capitalises the first letter
    assert not found["Nobody Here"].exists
    assert (found["Nobody Here"].edit_count, found["Nobody Here"].groups) == (0, ())


@pytest.mark.anyio
async def test_more_than_fifty_names_are_asked_in_batches(mediawiki: MediaWiki) -> None:
    client = client_of(mediawiki)
    names = [f"Ghost {n}" for n in range(120)] + ["Sysop"]
    found = await fetch_users(client, mediawiki.dbname, names)
    await client.aclose()
    assert set(found) == set(names)
    assert found["Sysop"].exists
    assert sum(user.exists for user in found.values()) == 1


@pytest.mark.anyio
async def test_api_errors_and_unreachable_wikis_raise_our_errors(mediawiki: MediaWiki) -> None:
    client = WikiClient(
        AGENT,
        custom_wikis={mediawiki.dbname: mediawiki.api_url, "gone": "http://127.0.0.1:9/api.php"},
        timeout=2,
    )
    with pytest.raises(WikiError) as error:
        await client.get(mediawiki.dbname, {"action": "no-such-action"})
    assert error.value.api_code == "badvalue"
    with pytest.raises(WikiUnavailable, match="gone could not be reached"):
        await client.get("gone", {"action": "query"})
    await client.aclose()


def test_a_client_without_a_user_agent_refuses_to_exist() -> None:
    for agent in (None, "", "  "):
        with pytest.raises(NotConfigured, match="WIKILOOM_USER_AGENT"):
            WikiClient(agent)
