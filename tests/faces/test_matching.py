"""The face matcher, its threshold and the review queue, on encodings shaped like dlib's.

Synthetic identities: a centre per person, photos scattered around it, so that photos of one
person lie 0.3 to 0.55 apart and photos of different people 0.7 to 1.0 apart (dlib's
geometry, in which 0.6 is the same-person radius); lookalikes are people whose centre lies
near the person's.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, pdist
from sklearn.base import clone, is_classifier
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from wikiloom.errors import BadRequest
from wikiloom.faces.matching import (
    ENCODING_SIZE,
    FaceMatcher,
    Threshold,
    choose_threshold,
    out_of_fold_scores,
    random_slots,
    review_order,
)

D = ENCODING_SIZE


class World:
    """People and their photos' encodings, reproducible from a seed."""

    def __init__(self, seed: int, spread: tuple[float, float] = (0.6, 1.5)) -> None:
        self.rng = np.random.default_rng(seed)
        self.base = self.rng.normal(0, 0.09, D)
        self.spread = spread

    def person(self, near: np.ndarray | None = None, offset: float = 0.045) -> np.ndarray:
        """A new identity's centre: anyone, or someone within `offset` * 11 of `near`."""
        return (self.base if near is None else near) + self.rng.normal(0, offset, D)

    def lookalike(self, of: np.ndarray) -> np.ndarray:
        return self.person(near=of, offset=0.035)

    def photos(self, centre: np.ndarray, n: int) -> np.ndarray:
        scale = 0.026 * self.rng.uniform(*self.spread, (n, 1))
        return centre + self.rng.normal(0, 1, (n, D)) * scale

    def crowd(self, people: int, each: int) -> np.ndarray:
        return np.vstack([self.photos(self.person(), each) for _ in range(people)])


def centroid_rule(confirmed: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """WikiVisage: the person when nearer than 0.6 to the mean of the confirmed encodings."""
    return np.linalg.norm(faces - confirmed.mean(axis=0), axis=1) < 0.6


def labelled(
    positives: np.ndarray, negatives: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    negatives = np.zeros((0, D)) if negatives is None else negatives
    X = np.vstack([positives, negatives])
    return X, np.r_[np.ones(len(positives), bool), np.zeros(len(negatives), bool)]


def proba(matcher: FaceMatcher, faces: np.ndarray) -> np.ndarray:
    return matcher.predict_proba(faces)[:, 1]


# The synthetic world ------------------------------------------------------------------


def test_the_synthetic_world_has_dlibs_geometry() -> None:
    world = World(0)
    person = world.photos(world.person(), 60)
    others = world.crowd(40, 3)
    same, different = pdist(person), cdist(person, others).ravel()
    assert 0.3 < np.median(same) < 0.5
    assert np.quantile(same, 0.95) < 0.6
    assert 0.75 < np.median(different) < 1.0
    assert np.quantile(different, 0.01) > 0.65


# The matcher ----------------------------------------------------------------------------


def test_with_confirmed_faces_only_the_dlib_radius_decides() -> None:
    world = World(1)
    confirmed = world.photos(world.person(), 3)
    matcher = FaceMatcher().fit(*labelled(confirmed))
    assert not matcher.learned_
    direction = world.rng.normal(0, 1, D)
    direction /= np.linalg.norm(direction)
    distances = np.array([0.0, 0.2, 0.4, 0.55, 0.59, 0.61, 0.65, 0.8, 1.0])
    faces = confirmed[0] + distances[:, None] * direction
    nearest = cdist(faces, confirmed).min(axis=1)
    p = proba(matcher, faces)
    np.testing.assert_array_equal(matcher.predict(faces), nearest < 0.6)
    np.testing.assert_array_equal(p > 0.5, nearest < 0.6)
    assert np.all(np.diff(p[np.argsort(nearest)]) <= 0)
    assert p[np.argmin(np.abs(nearest - 0.4))] > 0.9
    assert p[np.argmin(np.abs(nearest - 0.8))] < 0.1


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(1, 12),
    distance=st.floats(0.0, 1.5),
)
def test_without_rejected_faces_the_prior_holds_for_any_confirmed_set(
    seed: int, count: int, distance: float
) -> None:
    world = World(seed)
    confirmed = world.photos(world.person(), count)
    direction = world.rng.normal(0, 1, D)
    face = confirmed[0] + distance * direction / np.linalg.norm(direction)
    nearest = float(cdist(face[None], confirmed).min())
    p = float(proba(FaceMatcher().fit(*labelled(confirmed)), face[None])[0])
    assert p == pytest.approx(1 / (1 + math.exp(-15 * (0.6 - nearest))), abs=1e-9)


def test_a_person_photographed_at_two_ages_is_matched_where_a_centroid_fails() -> None:
    world = World(2)
    adult = world.person()
    child = adult + world.rng.normal(0, 0.8 / math.sqrt(D), D)  # another mode, 0.8 away
    confirmed = np.vstack([world.photos(adult, 8), world.photos(child, 3)])
    rejected = world.crowd(10, 1)
    matcher = FaceMatcher().fit(*labelled(confirmed, rejected))
    adults, children, others = (
        world.photos(adult, 200),
        world.photos(child, 200),
        world.crowd(300, 2),
    )

    centroid_recall = centroid_rule(confirmed, children).mean()
    matcher_recall = matcher.predict(children).mean()
    assert centroid_recall < 0.3
    assert matcher_recall > 0.95
    assert matcher.predict(adults).mean() > 0.95
    assert matcher.predict(others).mean() <= max(centroid_rule(confirmed, others).mean(), 0.01)


def test_a_rejected_lookalike_pushes_the_faces_near_it_down() -> None:
    world = World(3)
    person = world.person()
    lookalike = world.lookalike(person)
    confirmed, rejected = world.photos(person, 10), world.photos(lookalike, 1)
    strangers = world.crowd(5, 1)
    before = FaceMatcher().fit(*labelled(confirmed, strangers))
    after = FaceMatcher().fit(*labelled(confirmed, np.vstack([strangers, rejected])))
    assert after.learned_
    assert after.coef_[2] < 0  # depth inside a rejected ball counts against
    their_photos, our_photos = world.photos(lookalike, 100), world.photos(person, 100)

    assert proba(before, their_photos).mean() > 0.5  # the lookalike fools dlib's radius
    assert proba(after, their_photos).mean() < proba(before, their_photos).mean() - 0.3
    assert proba(after, our_photos).mean() > proba(before, our_photos).mean() - 0.05
    assert after.predict(our_photos).mean() > 0.95


def test_many_answers_move_the_coefficients_away_from_the_prior() -> None:
    world = World(4)
    person = world.person()
    looks = [world.lookalike(person) for _ in range(4)]
    rejected = np.vstack([world.photos(look, 40) for look in looks] + [world.crowd(100, 1)])
    matcher = FaceMatcher().fit(*labelled(world.photos(person, 200), rejected))
    assert matcher.learned_
    assert 0 < matcher.n_iter_ < matcher.max_iter
    prior = np.array([-15.0, 0.0, -15.0])
    assert np.abs(matcher.coef_ - prior).max() > 1.0


def test_fitting_takes_milliseconds_for_hundreds_of_faces() -> None:
    world = World(5)
    X, y = labelled(world.photos(world.person(), 300), world.crowd(300, 1))
    FaceMatcher().fit(X, y)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        FaceMatcher().fit(X, y)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.1  # about 8 ms on one core here; generous for loaded CI


def test_it_follows_the_scikit_learn_contract() -> None:
    matcher = FaceMatcher(radius=0.55, n_neighbors=5)
    assert is_classifier(matcher)
    copy = clone(matcher)
    assert copy.get_params() == matcher.get_params()
    assert copy.set_params(slope=12.0).slope == 12.0
    assert FaceMatcher(**matcher.get_params()).get_params() == matcher.get_params()
    for check in (
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_set_params,
    ):
        check("FaceMatcher", FaceMatcher())
    world = World(6)
    X, y = labelled(world.photos(world.person(), 20), world.crowd(20, 1))
    fitted = FaceMatcher().fit(X, y.astype(int))
    np.testing.assert_array_equal(fitted.classes_, [False, True])
    assert fitted.n_features_in_ == D
    assert fitted.score(X, y) == 1.0
    assert cross_val_score(FaceMatcher(), X, y, cv=3).mean() > 0.9
    np.testing.assert_allclose(fitted.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.decision_function(X) > 0, fitted.predict(X))


@pytest.mark.parametrize(
    ("X", "y", "reason"),
    [
        (np.zeros((3, 127)), [True] * 3, "rows of 128 numbers"),
        (np.zeros(128), [True], "rows of 128 numbers"),
        (np.zeros((0, 128)), [], "no face encodings"),
        (
            np.r_[np.zeros((1, 128)), np.full((1, 128), np.nan)],
            [True, True],
            "NaN or infinity \\(row 1\\)",
        ),
        (np.full((2, 128), np.inf), [True, False], "NaN or infinity \\(row 0\\)"),
        ([["a"] * 128], [True], "must be numbers"),
        (np.zeros((2, 128)), [True], "expected 2 answers"),
        (np.zeros((2, 128)), [1, 2], "answers must be True"),
        (np.zeros((2, 128)), ["yes", "no"], "answers must be True"),
        (np.zeros((2, 128)), [False, False], "at least one confirmed face"),
    ],
)
def test_bad_input_is_refused_with_its_reason(X: object, y: object, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        FaceMatcher().fit(X, y)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"radius": 0}, "radius must be a positive number"),
        ({"slope": float("nan")}, "slope must be a positive number"),
        ({"n_neighbors": 0}, "n_neighbors must be a positive integer"),
        ({"max_iter": 2.5}, "max_iter must be a positive integer"),
    ],
)
def test_bad_settings_are_refused(params: dict[str, object], reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        FaceMatcher(**params).fit(np.zeros((1, D)), [True])


def test_scoring_checks_its_input_too() -> None:
    matcher = FaceMatcher().fit(np.zeros((1, D)), [True])
    with pytest.raises(BadRequest, match="not an array of shape \\(2, 64\\)"):
        matcher.predict_proba(np.zeros((2, 64)))


# Out-of-fold scores -------------------------------------------------------------------


def test_tiny_classes_are_held_out_one_by_one() -> None:
    world = World(7)
    X, y = labelled(world.photos(world.person(), 3), world.crowd(1, 1))
    scores = out_of_fold_scores(FaceMatcher(), X, y)
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        alone = FaceMatcher().fit(X[keep], y[keep]).predict_proba(X[i : i + 1])[0, 1]
        assert scores[i] == pytest.approx(alone)


def test_out_of_fold_scores_are_honest_and_reproducible() -> None:
    world = World(8)
    person = world.person()
    X, y = labelled(world.photos(person, 40), world.crowd(60, 1))
    scores = out_of_fold_scores(FaceMatcher(), X, y, random_state=3)
    np.testing.assert_array_equal(scores, out_of_fold_scores(FaceMatcher(), X, y, random_state=3))
    in_sample = FaceMatcher().fit(X, y).predict_proba(X)[:, 1]
    assert scores[y].mean() < in_sample[y].mean()  # no face sees itself at distance 0
    assert scores[y].min() > 0.5
    assert scores[~y].max() < 0.5


def test_out_of_fold_scores_need_two_confirmed_faces() -> None:
    with pytest.raises(BadRequest, match="two confirmed faces"):
        out_of_fold_scores(FaceMatcher(), np.zeros((3, D)), [True, False, False])
    with pytest.raises(BadRequest, match="folds must be"):
        out_of_fold_scores(FaceMatcher(), np.zeros((3, D)), [True, True, False], folds=1)


# Thresholds -----------------------------------------------------------------------------


def population(world: World, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces of a Commons category: the person at two ages, lookalikes, a crowd."""
    person = world.person()
    older = person + world.rng.normal(0, 0.05, D)
    looks = [world.lookalike(person) for _ in range(8)]
    centres = np.array([person, older, *looks, *(world.person() for _ in range(200))])
    weights = np.r_[0.2, 0.1, np.full(8, 0.025), np.full(200, 0.0025)]

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        who = world.rng.choice(len(centres), count, p=weights)
        scale = 0.026 * world.rng.uniform(*world.spread, (count, 1))
        return centres[who] + world.rng.normal(0, 1, (count, D)) * scale, who < 2

    return draw(n)


@pytest.mark.parametrize(("seed", "target"), [(10, 0.9), (11, 0.9), (12, 0.99), (13, 0.99)])
def test_the_estimated_precision_holds_on_unseen_faces(seed: int, target: float) -> None:
    world = World(seed, spread=(0.6, 2.0))  # photos of one person up to 0.75 apart
    faces, truth = population(world, 4400)
    X, y, unseen, unseen_truth = faces[:400], truth[:400], faces[400:], truth[400:]
    threshold = choose_threshold(
        y, out_of_fold_scores(FaceMatcher(), X, y), target_precision=target
    )
    assert threshold.reached
    assert target <= threshold.precision < target + 0.02  # the lowest threshold that reaches
    taken = proba(FaceMatcher().fit(X, y), unseen) >= threshold.value
    precision = (taken & unseen_truth).sum() / taken.sum()
    recall = (taken & unseen_truth).sum() / unseen_truth.sum()
    assert precision == pytest.approx(threshold.precision, abs=0.04)
    assert recall == pytest.approx(threshold.recall, abs=0.05)
    assert threshold.precision_lower_bound < threshold.precision
    assert threshold.precision_lower_bound < precision


def test_the_threshold_reports_its_counts_and_wilson_bound() -> None:
    y = [True] * 9 + [False, False, True] + [False] * 8
    scores = np.linspace(1.0, 0.05, 20)
    threshold = choose_threshold(y, scores, target_precision=0.9, min_positives=5)
    assert threshold == Threshold(
        value=pytest.approx(scores[9]),
        precision=0.9,
        recall=0.9,
        precision_lower_bound=pytest.approx(0.5958, abs=1e-4),
        positives_above=9,
        selected=10,
        labelled=20,
        target_precision=0.9,
        reached=True,
    )
    unreached = choose_threshold(y, scores, target_precision=0.9, min_positives=10)
    assert not unreached.reached
    assert (unreached.value, unreached.positives_above, unreached.selected) == (scores[11], 10, 12)
    perfect = choose_threshold([True] * 10, np.ones(10), target_precision=0.99)
    assert perfect.precision_lower_bound == pytest.approx(0.7225, abs=1e-4)


def test_tied_scores_are_taken_together() -> None:
    threshold = choose_threshold(
        [True, True, False, True], [0.9, 0.5, 0.5, 0.1], target_precision=0.6, min_positives=1
    )
    assert (threshold.value, threshold.selected, threshold.positives_above) == (0.1, 4, 3)


def test_conservative_thresholds_reach_the_target_with_the_lower_bound() -> None:
    y = np.r_[np.ones(200, bool), np.zeros(20, bool)]
    scores = np.r_[np.linspace(1.0, 0.3, 200), np.linspace(0.5, 0.0, 20)]
    loose = choose_threshold(y, scores, target_precision=0.95)
    strict = choose_threshold(y, scores, target_precision=0.95, conservative=True)
    assert loose.reached
    assert strict.reached
    assert strict.precision_lower_bound >= 0.95 > loose.precision_lower_bound
    assert strict.value > loose.value


def test_hopeless_data_answer_the_best_threshold_without_raising() -> None:
    rng = np.random.default_rng(14)
    y, scores = rng.random(300) < 0.5, rng.random(300)
    threshold = choose_threshold(y, scores, target_precision=0.99)
    assert not threshold.reached
    assert threshold.precision < 0.99
    assert threshold.positives_above >= 10
    few = choose_threshold([True, False, True], [0.9, 0.8, 0.2], target_precision=0.99)
    assert (few.reached, few.value, few.precision) == (False, 0.9, 1.0)
    nobody = choose_threshold([False, False], [0.3, 0.7])
    assert not nobody.reached
    assert nobody.value > 0.7
    assert nobody.selected == 0


@pytest.mark.parametrize(
    ("y", "scores", "options", "reason"),
    [
        ([], [], {}, "no labelled faces"),
        ([True], [0.5, 0.2], {}, "expected 2 answers"),
        ([True], [float("nan")], {}, "NaN or infinity"),
        ([True], ["high"], {}, "scores must be numbers"),
        ([True], [0.5], {"target_precision": 1.5}, "target_precision must lie in"),
        ([True], [0.5], {"confidence": 1.0}, "confidence must lie in"),
    ],
)
def test_threshold_input_is_checked(
    y: list[object], scores: list[object], options: dict[str, float], reason: str
) -> None:
    with pytest.raises(BadRequest, match=reason):
        choose_threshold(y, scores, **options)


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=1, max_size=60),
    target=st.floats(0.05, 1.0),
    min_positives=st.integers(0, 5),
    conservative=st.booleans(),
)
def test_the_chosen_threshold_is_the_lowest_that_reaches_the_target(
    pairs: list[tuple[bool, int]], target: float, min_positives: int, conservative: bool
) -> None:
    y = np.array([label for label, _ in pairs])
    scores = np.array([score / 20 for _, score in pairs])
    found = choose_threshold(
        y, scores, target_precision=target, min_positives=min_positives, conservative=conservative
    )
    assert 0.0 <= found.precision_lower_bound <= found.precision <= 1.0
    assert 0.0 <= found.recall <= 1.0

    def measured(value: float) -> tuple[float, float, int]:
        taken = scores >= value
        hits = int((taken & y).sum())
        return hits / int(taken.sum()), wilson(hits, int(taken.sum())), hits

    if not y.any():
        assert not found.reached
        assert found.value > scores.max()
        return
    assert found.selected == (scores >= found.value).sum()
    assert found.positives_above == (y & (scores >= found.value)).sum()
    reaching = []
    for value in np.unique(scores):
        precision, bound, hits = measured(value)
        if hits >= min_positives and (bound if conservative else precision) >= target:
            reaching.append(value)
    assert found.reached == bool(reaching)
    if reaching:
        assert found.value == min(reaching)


def wilson(successes: int, trials: int, z: float = 1.959964) -> float:
    """The Wilson score interval's lower end, from its textbook formula."""
    p = successes / trials
    root = math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (p + z * z / (2 * trials) - z * root) / (1 + z * z / trials)


# The review queue -----------------------------------------------------------------------


def test_the_queue_starts_at_the_boundary() -> None:
    scores = np.array([0.99, 0.52, 0.1, 0.45, 0.7, 0.5, 0.01])
    assert review_order(scores, 0.5, random_fraction=0.0).tolist() == [5, 1, 3, 4, 2, 0, 6]


def test_every_prefix_holds_the_random_share() -> None:
    rng = np.random.default_rng(15)
    scores = rng.random(1000)
    order = review_order(scores, 0.4, random_fraction=0.1, random_state=1)
    slots = random_slots(len(order), 0.1)
    prefix = np.cumsum(slots)
    m = np.arange(1, len(order) + 1)
    assert np.all(np.abs(prefix - 0.1 * m) <= 1)
    boundary = order[~slots]
    distances = np.abs(scores[boundary] - 0.4)
    assert np.all(np.diff(distances) >= 0)  # everything else is boundary first
    # The random faces are not the boundary ones: they spread over all scores.
    assert np.abs(scores[order[slots]] - 0.4).mean() > 0.2
    np.testing.assert_array_equal(order, review_order(scores, 0.4, random_state=1))


def test_the_random_share_is_a_uniform_sample_of_all_faces() -> None:
    scores = np.linspace(0, 1, 50)
    picked = np.zeros(50)
    runs = 2000
    for seed in range(runs):
        order = review_order(scores, 0.5, random_fraction=0.2, random_state=seed)
        picked[order[random_slots(50, 0.2)]] += 1
    rates = picked / runs
    # Each face, the one on the boundary too, is in the random sample with probability 0.2.
    assert np.abs(rates - 0.2).max() < 0.05
    assert rates[25] > 0.14


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1), max_size=300),
    threshold=st.floats(0, 1),
    fraction=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_queue_is_a_permutation_with_the_share_in_every_prefix(
    scores: list[float], threshold: float, fraction: float, seed: int
) -> None:
    order = review_order(scores, threshold, random_fraction=fraction, random_state=seed)
    assert sorted(order.tolist()) == list(range(len(scores)))
    slots = random_slots(len(scores), fraction)
    assert np.all(np.abs(np.cumsum(slots) - fraction * np.arange(1, len(scores) + 1)) <= 1)
    rest = np.asarray(scores)[order[~slots]] if len(scores) else np.zeros(0)
    assert np.all(np.diff(np.abs(rest - threshold)) >= 0)


@pytest.mark.parametrize(
    ("scores", "threshold", "fraction", "reason"),
    [
        ([0.5, float("inf")], 0.5, 0.1, "NaN or infinity"),
        ([[0.5]], 0.5, 0.1, "list of numbers"),
        ([0.5], float("nan"), 0.1, "threshold must be a finite number"),
        ([0.5], 0.5, 1.5, "random_fraction must lie in"),
    ],
)
def test_queue_input_is_checked(
    scores: list[object], threshold: float, fraction: float, reason: str
) -> None:
    with pytest.raises(BadRequest, match=reason):
        review_order(scores, threshold, random_fraction=fraction)
