"""Training observations from a campaign: aggregated labels joined with stored features."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest
from wikiloom.labels.campaigns import get_campaign
from wikiloom.labels.statistics import campaign_statistics
from wikiloom.labels.tables import Task
from wikiloom.learn.datasets import Dataset
from wikiloom.learn.featurestore import FeatureSet, get_vectors
from wikiloom.learn.feedback import feedback_targets, same_label

AGGREGATIONS = ("majority", "dawid-skene")


@dataclass(frozen=True)
class CampaignTargets:
    """The label of each labelled revision of a campaign, and where it came from."""

    wiki: str
    field: str
    targets: dict[int, Hashable]
    provenance: dict[str, Any]
    #: The revisions whose label comes from feedback on scores, not from the campaign.
    from_feedback: frozenset[int] = frozenset()


def campaign_targets(
    session: Session,
    campaign_id: int,
    field: str,
    *,
    aggregation: str = "majority",
    include_feedback: bool = False,
) -> CampaignTargets:
    """Aggregate a campaign's labels of one form field into one value per revision.

    Tasks without a `rev_id`, and tasks nobody answered the field for, are left out. The
    provenance names the campaign, the aggregation, the label and labeler counts and
    Krippendorff's alpha, for the model card. `include_feedback` adds the labels feedback on
    scores gives (see `with_feedback`).
    """
    if aggregation not in AGGREGATIONS:
        raise BadRequest(f"aggregate by {' or '.join(AGGREGATIONS)}, not {aggregation!r}")
    campaign = get_campaign(session, campaign_id)
    statistics = campaign_statistics(session, campaign_id, [field], bootstrap=200)
    labels = statistics.fields[field]
    if not labels.distribution:
        raise BadRequest(f"campaign {campaign_id} has no labels of the field {field!r}")
    if aggregation == "majority":
        values: Mapping[Hashable, Hashable] = {
            task: consensus.value for task, consensus in labels.majority.items()
        }
    else:
        values = labels.dawid_skene.labels()
    rows = session.execute(select(Task.id, Task.data).where(Task.campaign_id == campaign_id))
    task_data: dict[int, Any] = {task_id: data for task_id, data in rows}  # noqa: C416
    targets: dict[int, Hashable] = {}
    for task_id, value in values.items():
        data = task_data.get(task_id)  # type: ignore[call-overload]
        if isinstance(data, dict) and isinstance(data.get("rev_id"), int):
            targets[data["rev_id"]] = value
    alpha = labels.alpha
    found = CampaignTargets(
        wiki=campaign.wiki,
        field=field,
        targets=targets,
        provenance={
            "campaign": {
                "id": campaign.id,
                "wiki": campaign.wiki,
                "name": campaign.name,
                "form": campaign.form,
                "field": field,
                "aggregation": aggregation,
                "labels": statistics.progress.labels,
                "labelers": len(labels.labelers),
                "tasks_labelled": len(values),
                "distribution": {str(k): v for k, v in labels.distribution.items()},
                "krippendorff_alpha": alpha.alpha,
                "alpha_interval": [alpha.low, alpha.high],
            }
        },
    )
    return with_feedback(session, found) if include_feedback else found


def with_feedback(session: Session, found: CampaignTargets) -> CampaignTargets:
    """The targets with the labels feedback on scores gives the revisions the campaign lacks.

    Feedback counts for the models of the campaign's wiki that predict the field (see
    `feedback_targets`). Where the campaign labelled a revision too, its label wins: the
    provenance counts those revisions as `overridden` (feedback said otherwise) or
    `confirmed`, and lists the feedback and users behind the labels added.
    """
    given = feedback_targets(session, found.wiki, found.field)
    targets = dict(found.targets)
    added: list[int] = []
    overridden = confirmed = 0
    for rev_id, value in given.targets.items():
        if rev_id not in targets:
            targets[rev_id] = value
            added.append(rev_id)
        elif same_label(targets[rev_id], value):
            confirmed += 1
        else:
            overridden += 1
    users = {user for rev_id in added for user in given.users[rev_id]}
    provenance = {
        **found.provenance,
        "feedback": {
            "revisions": len(added),
            "feedback_ids": sorted(i for rev_id in added for i in given.feedback_ids[rev_id]),
            "users": len(users),
            "overridden": overridden,
            "confirmed": confirmed,
            "ties": given.ties,
        },
    }
    return replace(
        found,
        targets=targets,
        provenance=provenance,
        from_feedback=found.from_feedback | frozenset(added),
    )


def dataset_from_store(
    session: Session, targets: CampaignTargets, feature_set: FeatureSet
) -> Dataset:
    """The observations of the targets whose features are stored; the others are counted."""
    names = tuple(str(name) for name in feature_set.get_feature_names_out())
    vectors = get_vectors(
        session, targets.wiki, targets.targets, feature_set.name, feature_set.version
    )
    rev_ids = [rev_id for rev_id in targets.targets if rev_id in vectors]
    if not rev_ids:
        raise BadRequest(
            f"none of the {len(targets.targets)} labelled revisions has stored "
            f"{feature_set.name} features; extract them first"
        )
    labels = [targets.targets[rev_id] for rev_id in rev_ids]
    kinds = {type(label) for label in labels}
    return Dataset(
        features=names,
        X=np.asarray([vectors[rev_id] for rev_id in rev_ids], dtype=np.float64),
        y=np.asarray(labels, dtype=bool if kinds == {bool} else object),
        ids=tuple(rev_ids),
        source={
            "name": f"campaign {targets.provenance['campaign']['id']}",
            "format": "feature store",
            "rows": len(rev_ids),
            "without_features": len(targets.targets) - len(rev_ids),
            "from_feedback": sum(rev_id in targets.from_feedback for rev_id in rev_ids),
            "feature_set": feature_set.name,
            "feature_set_version": feature_set.version,
        },
    )
