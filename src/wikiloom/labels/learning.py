"""How a campaign learns: its sampling strategy, random holdout, retraining pace, the form
field its model learns and the feature set that model reads.

A campaign with a sampling strategy other than `random` serves the tasks its model is least
sure about first, except a random `holdout_fraction` of the tasks, which keep their random
order so that the labels they get measure the model without bias. The model is fitted
again after every `retrain_every` new labeled tasks (the learn context runs the rounds).
This module only states and checks the settings.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.errors import BadRequest, Conflict
from wikiloom.labels.forms import Field
from wikiloom.labels.tables import SAMPLING_STRATEGIES, Campaign, CampaignRound

#: The largest number of new labels between rounds (the column holds 32-bit integers).
MAX_RETRAIN_EVERY = 2**31 - 1
#: Field kinds a classifier can learn: one value out of a few.
LEARNABLE_KINDS = ("boolean", "choice")
#: The longest field and feature set names the columns hold.
MAX_NAME = 64


@dataclass(frozen=True)
class LearningSettings:
    """A campaign's active-learning settings."""

    sampling: str = "random"
    holdout_fraction: float = 0.2
    retrain_every: int = 50
    learning_field: str | None = None
    feature_set: str = "editquality"

    def record(self) -> dict[str, object]:
        """The settings as JSON, keyed as the settings route names them."""
        return {
            "sampling": self.sampling,
            "holdout_fraction": self.holdout_fraction,
            "retrain_every": self.retrain_every,
            "learning_field": self.learning_field,
            "feature_set": self.feature_set,
        }


def learning_of(campaign: Campaign) -> LearningSettings:
    """The active-learning settings stored with a campaign."""
    return LearningSettings(
        sampling=campaign.sampling,
        holdout_fraction=float(campaign.holdout_fraction),
        retrain_every=campaign.retrain_every,
        learning_field=campaign.learning_field,
        feature_set=campaign.feature_set,
    )


def parse_fraction(raw: str | float) -> float:
    """A holdout fraction from text ("0.2", "20%") or a number."""
    text = str(raw).strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError as error:
        raise BadRequest(f"holdout_fraction must be a number, not {raw!r}") from error
    return value


def check_learning(
    learning: LearningSettings,
    *,
    form: str,
    form_fields: Mapping[str, Field] | None,
    known_feature_sets: Collection[str] | None = None,
) -> None:
    """Refuse settings a campaign of the form `form` (with these fields) cannot learn with."""
    if learning.sampling not in SAMPLING_STRATEGIES:
        raise BadRequest(
            f"unknown sampling {learning.sampling!r}; one of {', '.join(SAMPLING_STRATEGIES)}"
        )
    fraction = learning.holdout_fraction
    if not (math.isfinite(fraction) and 0 <= fraction < 1):
        raise BadRequest(
            f"holdout_fraction must be at least 0 and below 1 (0.2 keeps 20 % of the tasks "
            f"in random order), not {fraction}"
        )
    if not 0 < learning.retrain_every <= MAX_RETRAIN_EVERY:
        raise BadRequest(
            f"retrain_every must be a positive integer up to {MAX_RETRAIN_EVERY}, "
            f"not {learning.retrain_every}"
        )
    if not learning.feature_set or len(learning.feature_set) > MAX_NAME:
        raise BadRequest(f"feature_set must be a name of 1 to {MAX_NAME} characters")
    if known_feature_sets is not None and learning.feature_set not in known_feature_sets:
        known = ", ".join(sorted(known_feature_sets))
        raise BadRequest(f"unknown feature_set {learning.feature_set!r}; known: {known}")
    field = learning.learning_field
    if field is not None:
        if form_fields is None:
            raise BadRequest(
                f"the form {form!r} is not available: learning_field cannot be checked"
            )
        if field not in form_fields:
            names = ", ".join(sorted(form_fields))
            raise BadRequest(
                f"learning_field {field!r} is not a field of the form {form!r}; its fields: {names}"
            )
        kind = form_fields[field].kind
        if kind not in LEARNABLE_KINDS:
            raise BadRequest(
                f"learning_field {field!r} is a {kind} field; a model learns a field of one "
                "value out of a few (a yes/no or choice field)"
            )
    if learning.sampling != "random" and field is None:
        raise BadRequest(
            f"sampling {learning.sampling!r} needs a learning_field: the form field the "
            "campaign's model learns, such as damaging"
        )


def set_learning(
    session: Session,
    campaign: Campaign,
    learning: LearningSettings,
    *,
    form_fields: Mapping[str, Field] | None,
    known_feature_sets: Collection[str] | None = None,
) -> None:
    """Store new active-learning settings on a campaign (checked first).

    The holdout fraction is fixed once the campaign has had a round: tasks chosen by the
    model since would otherwise join the holdout and bias its estimates.
    """
    check_learning(
        learning, form=campaign.form, form_fields=form_fields, known_feature_sets=known_feature_sets
    )
    current = campaign.holdout_fraction
    if (
        campaign.id is not None
        and current is not None
        and abs(learning.holdout_fraction - current) > 1e-6
    ):
        had_round = session.scalar(
            select(CampaignRound.id).where(CampaignRound.campaign_id == campaign.id).limit(1)
        )
        if had_round is not None:
            raise Conflict(
                f"campaign_id={campaign.id} has had active-learning rounds: its "
                f"holdout_fraction ({current}) can no longer change, or tasks chosen by its "
                "model would join the random holdout"
            )
    campaign.sampling = learning.sampling
    campaign.holdout_fraction = learning.holdout_fraction
    campaign.retrain_every = learning.retrain_every
    campaign.learning_field = learning.learning_field
    campaign.feature_set = learning.feature_set
