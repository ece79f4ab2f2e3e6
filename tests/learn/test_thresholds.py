"""The threshold query language and ORES model_info paths, on hand-computed tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from wikiloom.errors import BadRequest
from wikiloom.learn.statistics import classification_statistics, threshold_table
from wikiloom.learn.thresholds import (
    ThresholdQuery,
    is_query,
    model_info_path,
    split_fields,
    split_path,
)

# The 10-observation example of test_statistics: P(true) per observation, first four true.
#   y     T    T    T    T    F    F    F    F    F    F
#   p    .9   .8   .6   .3   .7   .4   .2   .2   .1   .05
Y10 = [True] * 4 + [False] * 6
P10 = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.4, 0.2, 0.2, 0.1, 0.05])
STATISTICS = classification_statistics(Y10, np.column_stack([P10, 1 - P10]), [True, False])
MODEL_INFO: dict[str, Any] = {
    "type": "GradientBoosting",
    "version": "0.5.1",
    "params": {"labels": [True, False], "max_depth": 7},
    "statistics": STATISTICS,
}
TRUE_TABLE = STATISTICS["thresholds"]["true"]
FALSE_TABLE = STATISTICS["thresholds"]["false"]


def at(table: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    return next(entry for entry in table if entry["threshold"] == threshold)


def test_parse_reads_every_part_case_insensitively() -> None:
    query = ThresholdQuery.parse("  MAXIMUM Recall @ Precision >= 0.9 ")
    assert query == ThresholdQuery(True, "recall", "precision", True, 0.9)
    assert str(query) == "maximum recall @ precision >= 0.9"
    assert ThresholdQuery.parse("minimum match_rate @ !recall <= .5") == ThresholdQuery(
        False, "match_rate", "!recall", False, 0.5
    )
    assert ThresholdQuery.parse("maximum filter_rate @ recall>=1").value == 1.0
    assert is_query("Maximum recall @ precision >= 0.9")
    assert not is_query("roc_auc")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("maximum recall @ precison >= 0.9", "unknown condition statistic 'precison'"),
        ("maximum recal @ precision >= 0.9", "unknown target statistic 'recal'"),
        ("maximal recall @ precision >= 0.9", "'maximal' is not 'maximum' or 'minimum'"),
        ("maximum recall @ precision > 0.9", "bad operator '>'"),
        ("maximum recall @ precision == 0.9", "bad operator '=='"),
        ("maximum recall @ precision 0.9", "missing operator after 'precision'"),
        ("maximum recall @ precision >= 0.9x", "bad number '0.9x'"),
        ("maximum recall @ precision >= nan", "bad number 'nan'"),
        ("maximum recall @ precision >=", "bad number ''"),
        ("maximum recall precision >= 0.9", "exactly one '@'"),
        ("maximum @ precision >= 0.9", "one target statistic"),
        ("maximum recall @ @ precision >= 0.9", "exactly one '@'"),
        ("maximum recall @", "condition statistic"),
        ("", "exactly one '@'"),
        ("@ precision >= 0.9", "'' is not 'maximum' or 'minimum'"),
    ],
)
def test_malformed_queries_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(BadRequest) as caught:
        ThresholdQuery.parse(text)
    assert problem in caught.value.message
    assert repr(text) in caught.value.message


def test_reference_queries_on_the_hand_computed_table() -> None:
    # precision >= .9 holds at t = .8 (precision 1, recall 2/4) and t = .9 (recall 1/4).
    chosen = ThresholdQuery.parse("maximum recall @ precision >= 0.9").evaluate(TRUE_TABLE)
    assert chosen == at(TRUE_TABLE, 0.8)
    assert chosen is not None
    assert chosen["recall"] == 0.5
    # recall >= .9 needs all four trues: t <= .3; t = .3 matches 6 of 10, the fewest.
    minimum = ThresholdQuery.parse("minimum match_rate @ recall >= 0.9").evaluate(TRUE_TABLE)
    assert minimum == at(TRUE_TABLE, 0.3)
    assert minimum is not None
    assert minimum["match_rate"] == 0.6
    maximum = ThresholdQuery.parse("maximum filter_rate @ recall >= 0.9").evaluate(TRUE_TABLE)
    assert maximum == at(TRUE_TABLE, 0.3)
    # On label false (scores 1 - p): only t >= .8 ({.8, .8, .9, .95}, all false) is precise.
    likelygood = ThresholdQuery.parse("maximum recall @ precision >= 0.995")
    good = likelygood.evaluate(FALSE_TABLE)
    assert good is not None
    assert (good["threshold"], good["precision"], good["recall"]) == (0.8, 1.0, 0.667)


def test_bounds_are_inclusive() -> None:
    # t = .6 has precision exactly .75 (recall .75); the next precise one is t = .8 (recall .5).
    at_least = ThresholdQuery.parse("maximum recall @ precision >= 0.75").evaluate(TRUE_TABLE)
    assert at_least == at(TRUE_TABLE, 0.6)
    # fpr at t = .6 is 1/6, .167 in the table; t = .4 has fpr 2/6.
    at_most = ThresholdQuery.parse("maximum recall @ fpr <= 0.167").evaluate(TRUE_TABLE)
    assert at_most == at(TRUE_TABLE, 0.6)


def test_unsatisfiable_query_gives_none() -> None:
    assert ThresholdQuery.parse("maximum recall @ precision >= 1.1").evaluate(TRUE_TABLE) is None
    assert ThresholdQuery.parse("minimum fpr @ match_rate <= -1").evaluate(TRUE_TABLE) is None
    assert ThresholdQuery.parse("maximum recall @ precision >= 0.9").evaluate([]) is None


def test_undefined_statistics_never_satisfy() -> None:
    # At t = .05 everything is predicted true: !precision is None, and not >= 0.
    assert TRUE_TABLE[0]["!precision"] is None
    # Were it compared, t = .05 (match_rate 1) would win; t = .1 matches 9 of 10.
    query = ThresholdQuery.parse("maximum match_rate @ !precision <= 2")
    assert query.evaluate(TRUE_TABLE) == TRUE_TABLE[1]


def test_ties_go_to_the_larger_threshold_for_maximum_and_smaller_for_minimum() -> None:
    table = [
        {"threshold": t, "recall": r, "precision": 0.95}
        for t, r in ((0.2, 0.5), (0.4, 0.5), (0.6, 0.5))
    ]
    maximum = ThresholdQuery.parse("maximum recall @ precision >= 0.9").evaluate(table)
    minimum = ThresholdQuery.parse("minimum recall @ precision >= 0.9").evaluate(table)
    assert (maximum, minimum) == (table[2], table[0])


def test_full_precision_tables_give_unrounded_entries() -> None:
    table = threshold_table(Y10, P10, population_rate=0.2)
    chosen = ThresholdQuery.parse("maximum recall @ precision >= 0.5").evaluate(table)
    # t = .6 holds tp 1.5 and fp 1.3333 after rescaling (test_statistics): precision .52941.
    assert chosen is not None
    assert chosen["threshold"] == 0.6
    assert chosen["precision"] == pytest.approx(1.5 / (1.5 + 4 / 3))


def test_revid_scorer_parity() -> None:
    # ORES's RevIdScorer statistics (ores/scoring/models/rev_id_scorer.py and its test):
    # P(true) = reversed last two digits of rev ids 0..99 / 100, labelled by its own
    # prediction P > .5, thresholds rounded to one digit. ORES asserts these three values.
    def reversed_last_two(rev_id: int) -> int:
        digits = str(rev_id)[-2:]
        return int(digits + "0") if len(digits) == 1 else int(digits[::-1])

    p = np.array([reversed_last_two(rev_id) / 100 for rev_id in range(100)])
    y = p > 0.5
    tree = classification_statistics(
        y, np.column_stack([1 - p, p]), [False, True], predictions=y, threshold_ndigits=1
    )
    assert tree["roc_auc"]["micro"] == 0.996
    assert tree["pr_auc"]["micro"] == 0.992
    answer = model_info_path(
        {"statistics": tree}, 'statistics."maximum recall @ !precision >= 0.8"'
    )
    assert answer["statistics"]["maximum recall @ !precision >= 0.8"]["labels"]["true"] == 0.5


def test_split_path_respects_quotes() -> None:
    assert split_path('statistics.thresholds.true."maximum recall @ precision >= 0.9"') == [
        "statistics",
        "thresholds",
        "true",
        "maximum recall @ precision >= 0.9",
    ]
    assert split_path("statistics.thresholds.'minimum match_rate @ recall >= 0.9'.recall") == [
        "statistics",
        "thresholds",
        "minimum match_rate @ recall >= 0.9",
        "recall",
    ]
    assert split_path("version") == ["version"]
    for bad in ('statistics."maximum recall', "statistics..roc_auc", "statistics.", ".version"):
        with pytest.raises(BadRequest, match="Could not parse model_info path"):
            split_path(bad)


def test_split_fields_respects_quotes() -> None:
    assert split_fields('type|statistics."a | b".c|version') == [
        "type",
        'statistics."a | b".c',
        "version",
    ]
    assert split_fields("") == []
    with pytest.raises(BadRequest):
        split_fields("type||version")


def test_model_info_path_answers_the_reference_example() -> None:
    answer = model_info_path(
        MODEL_INFO, 'statistics.thresholds.true."maximum recall @ precision >= 0.9"'
    )
    assert answer == {"statistics": {"thresholds": {"true": [at(TRUE_TABLE, 0.8)]}}}
    assert next(iter(answer["statistics"]["thresholds"]["true"][0])) == "threshold"


def test_several_queries_give_a_list_in_request_order_with_null_when_unsatisfiable() -> None:
    paths = "|".join(
        f'statistics.thresholds.true."{q}"'
        for q in (
            "minimum match_rate @ recall >= 0.9",
            "maximum recall @ precision >= 1.1",
            "maximum recall @ precision >= 0.9",
        )
    )
    answer = model_info_path(MODEL_INFO, f"version|{paths}|statistics.roc_auc")
    assert answer == {
        "version": "0.5.1",
        "statistics": {
            "thresholds": {"true": [at(TRUE_TABLE, 0.3), None, at(TRUE_TABLE, 0.8)]},
            "roc_auc": STATISTICS["roc_auc"],
        },
    }


def test_query_with_chosen_fields() -> None:
    answer = model_info_path(
        MODEL_INFO, 'statistics.thresholds.false."maximum recall @ precision >= 0.995".recall'
    )
    assert answer["statistics"]["thresholds"]["false"] == [{"threshold": 0.8, "recall": 0.667}]


def test_statistics_leave_out_threshold_tables_unless_asked() -> None:
    everything = model_info_path(MODEL_INFO, "")
    assert list(everything) == ["type", "version", "params", "statistics"]
    assert "thresholds" not in everything["statistics"]
    assert "thresholds" not in model_info_path(MODEL_INFO, "statistics")["statistics"]
    tables = model_info_path(MODEL_INFO, "statistics.thresholds")["statistics"]["thresholds"]
    assert tables == STATISTICS["thresholds"]
    single = model_info_path(MODEL_INFO, "statistics.thresholds.true")
    assert single == {"statistics": {"thresholds": {"true": TRUE_TABLE}}}
    assert model_info_path(MODEL_INFO, ["type", "statistics.roc_auc.micro"]) == {
        "type": "GradientBoosting",
        "statistics": {"roc_auc": {"micro": STATISTICS["roc_auc"]["micro"]}},
    }


def test_query_over_every_label_answers_the_chosen_thresholds() -> None:
    key = "maximum recall @ precision >= 0.9"
    block = model_info_path(MODEL_INFO, f'statistics."{key}"')["statistics"][key]
    # true: t = .8 (above); false: t = .8 too; micro weighs 4 trues and 6 falses.
    assert block == {"micro": 0.8, "macro": 0.8, "labels": {"true": 0.8, "false": 0.8}}


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        ("foo", "foo"),
        ("statistics.foo", "foo"),
        ("statistics.roc_auc.labels.maybe", "maybe"),
        ("statistics.thresholds.maybe", "maybe"),
        ("version.major", "major"),
        ('statistics.thresholds.true."maximum recall @ precision >= 0.9".roc_auc', "roc_auc"),
    ],
)
def test_missing_keys_answer_ores_lookup_error(path: str, missing: str) -> None:
    with pytest.raises(BadRequest) as caught:
        model_info_path(MODEL_INFO, path)
    assert caught.value.message == f"Model information could not be retrieved for {missing!r}"


def test_malformed_query_in_a_path_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="bad operator"):
        model_info_path(MODEL_INFO, 'statistics.thresholds.true."maximum recall @ precision > 0.9"')
    with pytest.raises(BadRequest, match="unknown target statistic"):
        model_info_path(MODEL_INFO, 'statistics."maximum roc_auc @ precision >= 0.9"')
