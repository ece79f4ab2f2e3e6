"""Who may label in a campaign: user groups and an edit count on the campaign's wiki.

A campaign may ask that its labelers belong to at least one of some user groups (for
instance `rollbacker` or `sysop`) and have made a minimum number of edits, both as the
campaign's wiki reports them. The lookup on the wiki belongs to the caller; this module
only states and checks the rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from wikiloom.errors import BadRequest, Forbidden
from wikiloom.labels.tables import Campaign

GROUP = re.compile(r"[a-z0-9_-]{1,64}", re.IGNORECASE)
#: The largest edit count a campaign can ask for (its column holds 32-bit integers).
MAX_EDIT_COUNT = 2**31 - 1


@dataclass(frozen=True)
class Requirements:
    """What a labeler needs on the campaign's wiki."""

    groups: tuple[str, ...] = ()
    min_edit_count: int = 0

    def __bool__(self) -> bool:
        return bool(self.groups) or self.min_edit_count > 0

    def record(self) -> dict[str, object]:
        """The requirements as JSON: `{"groups": [...], "min_edit_count": N}`."""
        return {"groups": list(self.groups), "min_edit_count": self.min_edit_count}


def requirements_of(campaign: Campaign) -> Requirements:
    """The requirements stored with a campaign."""
    return Requirements(tuple(campaign.required_groups or ()), campaign.min_edit_count or 0)


def parse_groups(raw: str | Iterable[str]) -> tuple[str, ...]:
    """User group names from a list or a `|`- or comma-separated string."""
    names = re.split(r"[|,]", raw) if isinstance(raw, str) else list(raw)
    groups = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    for group in groups:
        if not GROUP.fullmatch(group):
            raise BadRequest(f"{group!r} is not a user group name (letters, digits, _ and -)")
    return groups


def set_requirements(campaign: Campaign, requirements: Requirements) -> None:
    """Store new requirements on a campaign (checked first)."""
    if requirements.min_edit_count < 0:
        raise BadRequest(f"min_edit_count must not be negative, not {requirements.min_edit_count}")
    if requirements.min_edit_count > MAX_EDIT_COUNT:
        count = requirements.min_edit_count
        raise BadRequest(f"min_edit_count must be at most {MAX_EDIT_COUNT}, not {count}")
    campaign.required_groups = list(requirements.groups) or None
    campaign.min_edit_count = requirements.min_edit_count


def check_eligible(
    requirements: Requirements,
    *,
    campaign_id: int,
    wiki: str,
    username: str,
    groups: Iterable[str],
    edit_count: int,
) -> None:
    """Refuse, naming what is missing, a labeler who does not meet the requirements."""
    held = set(groups)
    missing: list[str] = []
    if requirements.groups and not held & set(requirements.groups):
        missing.append(f"membership of one of the groups {', '.join(requirements.groups)}")
    if edit_count < requirements.min_edit_count:
        missing.append(f"at least {requirements.min_edit_count} edits (you have {edit_count})")
    if missing:
        raise Forbidden(
            f"campaign_id={campaign_id} requires {' and '.join(missing)} on {wiki}; "
            f"checked for {username}."
        )
