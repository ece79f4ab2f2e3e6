"""A campaign's learning curve: its active-learning rounds as recorded, and what they say.

Each round (see `wikiloom.learn.rounds`) records the labels its model was fitted on, the
model's holdout ROC-AUC and PR-AUC, and how much its predictions changed since the round
before; the last round says whether labeling more is unlikely to help.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wikiloom.labels.learning import learning_of
from wikiloom.labels.tables import Campaign, CampaignRound


def campaign_rounds(session: Session, campaign_id: int) -> list[CampaignRound]:
    """A campaign's rounds, the first first."""
    return list(
        session.scalars(
            select(CampaignRound)
            .where(CampaignRound.campaign_id == campaign_id)
            .order_by(CampaignRound.number)
        )
    )


def round_record(row: CampaignRound) -> dict[str, Any]:
    """A round as JSON (without the stop set's predictions)."""
    return {
        "number": row.number,
        "started": row.started.isoformat(),
        "finished": row.finished.isoformat(),
        "strategy": row.strategy,
        "labeled_tasks": row.labeled_tasks,
        "labels": row.labels,
        "holdout_labels": row.holdout_labels,
        "holdout_roc_auc": row.holdout_roc_auc,
        "holdout_pr_auc": row.holdout_pr_auc,
        "agreement": row.agreement,
        "stop_suggested": row.stop_suggested,
        "rescored": row.rescored,
        "without_features": row.without_features,
        "classes": row.classes,
        "estimator": row.estimator,
    }


def learning_summary(session: Session, campaign: Campaign) -> dict[str, Any]:
    """A campaign's active-learning settings, its round count, its last round and whether
    that round suggested stopping."""
    count = session.scalar(select(func.count()).where(CampaignRound.campaign_id == campaign.id))
    last = session.scalars(
        select(CampaignRound)
        .where(CampaignRound.campaign_id == campaign.id)
        .order_by(CampaignRound.number.desc())
        .limit(1)
    ).first()
    return learning_of(campaign).record() | {
        "rounds": int(count or 0),
        "last_round": None if last is None else round_record(last),
        "stop_suggested": bool(last is not None and last.stop_suggested),
    }
