"""Campaign requirements: stating them, storing them and checking a labeler."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.labels.factories import campaign_with_tasks
from wikiloom.db import transaction
from wikiloom.errors import BadRequest, Forbidden
from wikiloom.labels.campaigns import edit_campaign, get_campaign
from wikiloom.labels.requirements import (
    Requirements,
    check_eligible,
    parse_groups,
    requirements_of,
)


def test_groups_parse_from_pipes_commas_and_lists() -> None:
    assert parse_groups("rollbacker| sysop,rollbacker") == ("rollbacker", "sysop")
    assert parse_groups(["extendedconfirmed"]) == ("extendedconfirmed",)
    assert parse_groups(" | ") == ()
    with pytest.raises(BadRequest, match="'sys op' is not a user group name"):
        parse_groups("sys op")


def check(requirements: Requirements, groups: tuple[str, ...], edits: int) -> None:
    check_eligible(
        requirements, campaign_id=7, wiki="enwiki", username="Ann", groups=groups, edit_count=edits
    )


def test_one_of_the_groups_and_enough_edits_are_needed() -> None:
    rule = Requirements(("rollbacker", "sysop"), 100)
    check(rule, ("user", "sysop"), 100)
    with pytest.raises(Forbidden) as refused:
        check(rule, ("user",), 12)
    assert refused.value.message == (
        "campaign_id=7 requires membership of one of the groups rollbacker, sysop and "
        "at least 100 edits (you have 12) on enwiki; checked for Ann."
    )
    with pytest.raises(Forbidden, match="at least 100 edits"):
        check(rule, ("rollbacker",), 99)
    check(Requirements(), (), 0)
    assert not Requirements()
    assert Requirements(min_edit_count=1)


def test_requirements_are_stored_and_edited(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions, write=True) as session:
        campaign_id = campaign_with_tasks(session, 1).id
    with transaction(sessions, write=True) as session:
        assert requirements_of(get_campaign(session, campaign_id)) == Requirements()
        edit_campaign(session, campaign_id, requirements=Requirements(("sysop",), 5))
    with transaction(sessions) as session:
        stored = requirements_of(get_campaign(session, campaign_id))
        assert stored == Requirements(("sysop",), 5)
    with (
        pytest.raises(BadRequest, match="min_edit_count must not be negative"),
        transaction(sessions, write=True) as session,
    ):
        edit_campaign(session, campaign_id, requirements=Requirements((), -1))
