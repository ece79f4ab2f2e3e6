"""Organizers: the users who manage a campaign (edit it, open or close it, add tasks)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.db import insert_ignore, utcnow
from wikiloom.errors import BadRequest
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.events import record_event
from wikiloom.labels.tables import CampaignOrganizer
from wikiloom.labels.users import ensure_user

#: The largest user id the users table holds (64-bit).
MAX_USER_ID = 2**63 - 1


def add_organizer(
    session: Session,
    campaign_id: int,
    user_id: int,
    *,
    added_by: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Make a user an organizer of a campaign (adding one twice changes nothing)."""
    if not 0 < user_id <= MAX_USER_ID:
        raise BadRequest(f"user_id must be a positive integer (a central user id), not {user_id}")
    moment = now or utcnow()
    get_campaign(session, campaign_id)
    ensure_user(session, user_id, now=moment)
    session.execute(
        insert_ignore(session, CampaignOrganizer).values(
            campaign_id=campaign_id, user_id=user_id, added=moment
        )
    )
    record_event(
        session,
        "campaign.organizer_added",
        user_id=added_by,
        campaign_id=campaign_id,
        data={"organizer": user_id},
        now=moment,
    )


def is_organizer(session: Session, campaign_id: int, user_id: int) -> bool:
    """Tell whether the user organizes the campaign."""
    found = session.scalar(
        select(CampaignOrganizer.user_id).where(
            CampaignOrganizer.campaign_id == campaign_id, CampaignOrganizer.user_id == user_id
        )
    )
    return found is not None


def organizers(session: Session, campaign_id: int) -> list[int]:
    """The user ids of a campaign's organizers."""
    query = select(CampaignOrganizer.user_id).where(CampaignOrganizer.campaign_id == campaign_id)
    return sorted(session.scalars(query))
