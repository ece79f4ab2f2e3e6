"""Active-learning rounds on every engine, on real editquality revisions and labels."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select, update

from tests.learn.rounds_support import (
    DELETED,
    Factory,
    anonymous_damaging,
    label,
    make_campaign,
    reverted,
    sample,
    tasks_of,
)
from wikiloom.db import transaction
from wikiloom.errors import BadRequest
from wikiloom.labels.campaigns import set_active
from wikiloom.labels.tables import Campaign, CampaignRound
from wikiloom.labels.worksets import assign_workset, workset_tasks
from wikiloom.learn.batches import diverse
from wikiloom.learn.estimators import WikiClassifier
from wikiloom.learn.holdout import aligned, holdout_ids
from wikiloom.learn.rounds import (
    MIN_FIRST_ROUND,
    RoundReport,
    campaign_rounds,
    due_campaigns,
    run_round,
)
from wikiloom.learn.sampling import margin


def round_now(sessions: Factory, campaign_id: int) -> RoundReport:
    with transaction(sessions, write=True) as session:
        return run_round(session, campaign_id)


def test_the_holdout_is_deterministic_and_holds_its_fraction() -> None:
    ids = range(1, 20_001)
    first = holdout_ids(ids, 0.2, 7)
    assert first == holdout_ids(ids, 0.2, 7)
    assert abs(len(first) / 20_000 - 0.2) < 0.01
    other = holdout_ids(ids, 0.2, 8)
    assert len(set(first) & set(other)) < 0.3 * len(first)  # another campaign, another draw
    assert set(holdout_ids(ids, 0.1, 7)) <= set(first)  # a smaller fraction holds fewer
    assert holdout_ids(ids, 0.0, 7) == []


def test_aligned_priorities_interleave_with_the_waiting_holdout() -> None:
    rng = np.random.default_rng(0)
    waiting = rng.uniform(0.4, 1.0, 200)  # holdout tasks below 0.4 were served already
    quantiles = (np.arange(800) + 0.5) / 800
    mapped = aligned(quantiles, waiting)
    assert np.all(np.diff(mapped) > 0)
    assert mapped.min() > 0.38
    assert mapped.max() < 1
    for threshold in (0.45, 0.5, 0.7, 0.9):
        ours, theirs = (mapped < threshold).sum(), (waiting < threshold).sum()
        assert abs(ours / 800 - theirs / 200) < 0.01
    assert np.array_equal(aligned(quantiles, np.zeros(0)), quantiles)


def test_a_round_serves_the_uncertain_tasks_first_and_keeps_the_holdout(
    sessions: Factory,
) -> None:
    campaign_id = make_campaign(sessions, 600)
    labeled = set(label(sessions, campaign_id, 1, 200))
    before = tasks_of(sessions, campaign_id)
    report = round_now(sessions, campaign_id)
    after = tasks_of(sessions, campaign_id)

    holdout = set(holdout_ids(sorted(before), 0.2, campaign_id))
    assert {t for t, row in after.items() if row[2]} == holdout
    assert all(after[t][1] == before[t][1] for t in holdout)  # never re-prioritised
    truth = reverted()
    usable = {t for t in labeled if before[t][0] in truth}
    assert (report.number, report.strategy) == (1, "margin")
    assert report.labels == len(usable)
    assert report.holdout_labels == len(usable & holdout)
    asked = sorted(
        t for t in after if t not in labeled and t not in holdout and before[t][0] in truth
    )
    gone = [t for t in after if t not in labeled and t not in holdout and before[t][0] in DELETED]
    assert report.rescored == len(asked)
    assert report.without_features == len(gone) > 0
    assert all(after[t][1] == before[t][1] for t in gone)
    assert report.holdout_roc_auc is not None
    assert report.holdout_roc_auc > 0.6

    # The new order is the margin ranking of the round's model, refitted here, spread over
    # the feature space in batches of the 40 tasks outside the holdout that the next
    # round's 50 labeled tasks hold.
    with transaction(sessions) as session:
        stored = session.scalars(select(CampaignRound)).one()
        params = stored.estimator["params"]
    vectors = dict(zip(sample().ids or (), sample().X, strict=True))
    train = sorted(usable)
    model = WikiClassifier(**params).fit(
        np.asarray([vectors[before[t][0]] for t in train]),
        np.asarray([truth[before[t][0]] for t in train]),
    )
    X_asked = np.asarray([vectors[before[t][0]] for t in asked])
    proba = model.predict_proba(X_asked)
    spread = diverse(margin(proba), X_asked, 40, random_state=report.number)
    served = sorted(asked, key=lambda t: (after[t][1], t))
    assert served == [asked[i] for i in np.argsort(-spread)]
    closeness = dict(zip(asked, np.abs(proba[:, 1] - 0.5), strict=True))
    fifth = len(served) // 5
    first = np.mean([closeness[t] for t in served[:fifth]])
    assert first < np.mean([closeness[t] for t in served[-fifth:]])
    assert stored.stop_set
    assert all(int(t) in holdout for t in stored.stop_set)


def test_the_first_workset_after_a_round_mixes_in_the_holdout_share(sessions: Factory) -> None:
    campaign_id = make_campaign(sessions, 1000, tasks_per_assignment=100)
    labeled = set(label(sessions, campaign_id, 1, 300))
    round_now(sessions, campaign_id)
    tasks = tasks_of(sessions, campaign_id)
    free = sorted((row[1], t) for t, row in tasks.items() if row[3] == 0)
    with transaction(sessions, write=True) as session:
        workset = assign_workset(session, campaign_id, 2)
        got = {task.id for task in workset_tasks(session, workset.id)}
    assert got == {t for _, t in free[:100]}  # exactly the highest priorities
    held_out = sum(1 for t in got if tasks[t][2])
    waiting = [t for t in tasks if t not in labeled]
    share = sum(1 for t in waiting if tasks[t][2]) / len(waiting)
    assert abs(held_out - 100 * share) <= 3


def test_later_rounds_compare_predictions_and_suggest_stopping(sessions: Factory) -> None:
    campaign_id = make_campaign(sessions, 500, retrain_every=20)
    anonymous = anonymous_damaging()  # a model predicting one class proves no stability
    label(sessions, campaign_id, 1, 150, anonymous)
    first = round_now(sessions, campaign_id)
    assert first.agreement is None
    assert not first.stop_suggested
    label(sessions, campaign_id, 2, 50, anonymous)
    second = round_now(sessions, campaign_id)
    assert second.number == 2
    assert second.agreement is not None
    assert -1 <= second.agreement <= 1
    reports = [round_now(sessions, campaign_id) for _ in range(3)]  # no new labels
    assert [r.agreement for r in reports] == [1.0, 1.0, 1.0]
    # Three agreements in a row at 0.99 or above; round 1 had none to give.
    expected = [False, second.agreement >= 0.99, True]
    assert [r.stop_suggested for r in reports] == expected
    with transaction(sessions) as session:
        rows = campaign_rounds(session, campaign_id)
        assert [r.number for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].stop_set.keys() <= rows[-1].stop_set.keys()  # the stop set stays


def test_a_random_campaign_rounds_without_changing_its_order(sessions: Factory) -> None:
    campaign_id = make_campaign(sessions, 400, sampling="random")
    labeled = label(sessions, campaign_id, 1, 150)
    before = tasks_of(sessions, campaign_id)
    report = round_now(sessions, campaign_id)
    after = tasks_of(sessions, campaign_id)
    assert report.rescored == 0
    assert report.holdout_marked > 0
    assert {t: row[1] for t, row in after.items()} == {t: row[1] for t, row in before.items()}
    assert report.labels == len(labeled) - sum(1 for t in labeled if before[t][0] in DELETED)
    with transaction(sessions) as session:
        assert due_campaigns(session) == []  # random campaigns are never due


def test_a_round_needs_two_values_and_a_field(sessions: Factory) -> None:
    campaign_id = make_campaign(sessions, 100)
    label(sessions, campaign_id, 1, 30, value={})  # every label says "not damaging"
    with pytest.raises(BadRequest, match="two values"):
        round_now(sessions, campaign_id)
    with transaction(sessions, write=True) as session:
        session.execute(update(Campaign).values(sampling="random", learning_field=None))
    with pytest.raises(BadRequest, match="no learning_field"):
        round_now(sessions, campaign_id)


def test_due_campaigns(sessions: Factory) -> None:
    campaign_id = make_campaign(sessions, 300, retrain_every=25, tasks_per_assignment=10)
    other = make_campaign(sessions, 50, name="Closed one", tasks_per_assignment=10)
    alternate = {rev_id: index % 3 == 0 for index, rev_id in enumerate(reverted())}

    def due() -> list[int]:
        with transaction(sessions) as session:
            return due_campaigns(session)

    assert due() == []
    label(sessions, campaign_id, 1, MIN_FIRST_ROUND - 1, value=alternate)
    label(sessions, other, 1, MIN_FIRST_ROUND, value=alternate)
    with transaction(sessions, write=True) as session:
        set_active(session, other, False)
    assert due() == []
    label(sessions, campaign_id, 2, 1, value=alternate)
    assert due() == [campaign_id]
    round_now(sessions, campaign_id)
    assert due() == []
    label(sessions, campaign_id, 3, 24, value=alternate)
    assert due() == []
    label(sessions, campaign_id, 4, 1, value=alternate)
    assert due() == [campaign_id]
