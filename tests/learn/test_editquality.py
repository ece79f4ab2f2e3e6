"""Edit-quality features: ORES's nine, worked by hand, the fuller set, scikit-learn, a real wiki."""

from __future__ import annotations

import csv
import datetime as dt
import math
import pickle
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks

from tests.learn.strategies import edits_of
from tests.learn.test_wordcounts import PIECES as WORD_PIECES
from tests.support.mediawiki import LOOM_V2, MediaWiki
from wikiloom.errors import CommentDeleted, TextDeleted, UserDeleted
from wikiloom.learn.editquality import EDIT_QUALITY_FEATURES, EditQualityFeatures, structure
from wikiloom.learn.oresfeatures import ORES_DEMO_FEATURES, OresDemoFeatures
from wikiloom.learn.regexlists import FrequencyDelta, changes
from wikiloom.learn.revisionfeatures import CHRONOLOGY_FALLBACK
from wikiloom.learn.tokens import tokenize
from wikiloom.learn.wordlists import load_wordlists
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.revisions import Revision, fetch_revisions
from wikiloom.wiki.users import WikiUser

AGENT = "wikiloom-tests/0.1 (https://example.org/wikiloom; tests@example.org)"
#: The header of editquality's demo file enwiki.features_reverted.training.20k_2015.
DEMO_HEADER = (
    "rev_id,wikitext.revision.diff.longest_repeated_char_added,wikitext.revision.diff.words_added,"
    "wikitext.revision.diff.words_removed,english.badwords.revision.diff.match_prop_delta_sum,"
    "english.informals.revision.diff.match_prop_delta_sum,"
    "english.stopwords.revision.diff.non_stopword_prop_delta_sum,revision.user.is_anon,"
    '"revision.user.in_group({bot,sysop})",temporal.revision.user.seconds_since_registration,'
    "reverted"
)


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def user(
    groups: tuple[str, ...] = ("user", "*"), registration: str | None = None, edits: int = 10
) -> WikiUser:
    return WikiUser("Weaver", 7, groups, edits, registration, True)


def edit(parent_text: str | None, text: str | None, **fields: Any) -> Revision:
    """A revision record of an edit, by the registered user Weaver unless told otherwise."""
    values: dict[str, Any] = {
        "wiki": "enwiki",
        "rev_id": 100,
        "parent_id": 99 if parent_text else 0,
        "page_id": 1,
        "namespace": 0,
        "title": "Loom",
        "timestamp": at("2015-01-01T00:00:00Z"),
        "comment": "",
        "text": text,
        "parent_text": parent_text,
        "user_name": "Weaver",
        "user_id": 7,
        "user": user(),
    }
    values.update(fields)
    return Revision(**values)


def anonymous(parent_text: str | None, text: str | None, **fields: Any) -> Revision:
    return edit(parent_text, text, user_name="127.0.0.1", user_id=0, user=None, **fields)


def ores(revision: Revision, **params: Any) -> dict[str, float]:
    row = OresDemoFeatures(**params).transform([revision])[0]
    return dict(zip(ORES_DEMO_FEATURES, row.tolist(), strict=True))


def full(revision: Revision, **params: Any) -> dict[str, float]:
    row = EditQualityFeatures(**params).transform([revision])[0]
    return dict(zip(EDIT_QUALITY_FEATURES, row.tolist(), strict=True))


def test_names_are_those_of_the_demo_file() -> None:
    assert list(ORES_DEMO_FEATURES) == next(csv.reader([DEMO_HEADER]))[1:-1]
    assert list(OresDemoFeatures().get_feature_names_out()) == list(ORES_DEMO_FEATURES)
    assert len(set(EDIT_QUALITY_FEATURES)) == len(EDIT_QUALITY_FEATURES)


def test_vandalism_by_an_ip() -> None:
    # The seeded wiki's vandalism of "Loom" (MediaWiki strips the trailing newline).
    values = ores(
        anonymous(
            LOOM_V2.rstrip(), "LOOMS ARE SO BORING lol!!!!!!!", timestamp=at("2015-06-01T00:00:00Z")
        )
    )
    assert values == {
        # "!!!!!!!" is one added token: 7.
        "wikitext.revision.diff.longest_repeated_char_added": 7,
        # LOOMS ARE SO BORING lol
        "wikitext.revision.diff.words_added": 5,
        # A loom is a device used to weave cloth and tapestry (11) History (1) The earliest
        # looms date from the Neolithic period (8) warp weighted looms were common in
        # ancient Greece (8)
        "wikitext.revision.diff.words_removed": 28,
        "english.badwords.revision.diff.match_prop_delta_sum": 0,
        # "lol" is new: 1 / (0 + 1).
        "english.informals.revision.diff.match_prop_delta_sum": 1,
        # looms 2 -> 1: -1/2; boring, lol new: +1 each; the 16 other non-stop words of the
        # parent (loom device used weave cloth tapestry history earliest date neolithic
        # period warp weighted common ancient greece) are gone: -1 each. -0.5 + 2 - 16.
        "english.stopwords.revision.diff.non_stopword_prop_delta_sum": -14.5,
        "revision.user.is_anon": 1,
        "revision.user.in_group({bot,sysop})": 0,
        # No registration: from 2006-01-01. 9 years with 2 leap days (3,287 days) plus
        # January to May 2015 (151 days) = 3,438 days = 297,043,200 s.
        "temporal.revision.user.seconds_since_registration": 297_043_200,
    }


def test_informal_addition_by_a_sysop() -> None:
    parent = "The band played in Leeds. The band was loud."
    text = "The band played in Leeds. The band was sooo loud, lol lol. Great band."
    revision = edit(parent, text, user=user(("sysop", "user", "*"), "2014-01-01T00:00:00Z"))
    values = ores(revision)
    # Added segments "sooo " and ", lol lol. Great band": the longest run is "ooo".
    assert values["wikitext.revision.diff.longest_repeated_char_added"] == 3
    assert values["wikitext.revision.diff.words_added"] == 5  # sooo lol lol Great band
    assert values["wikitext.revision.diff.words_removed"] == 0
    assert values["english.badwords.revision.diff.match_prop_delta_sum"] == 0
    # sooo: 1 / (0 + 1); lol twice: 2 / (0 + 1).
    assert values["english.informals.revision.diff.match_prop_delta_sum"] == 3
    # sooo 1, lol 2, great 1, band 2 -> 3: 1 / (2 + 1).
    assert values["english.stopwords.revision.diff.non_stopword_prop_delta_sum"] == pytest.approx(
        4 + 1 / 3
    )
    assert values["revision.user.is_anon"] == 0
    assert values["revision.user.in_group({bot,sysop})"] == 1
    assert values["temporal.revision.user.seconds_since_registration"] == 365 * 86_400


def test_page_creation() -> None:
    values = ores(anonymous("", "Hello '''world'''!!", timestamp=at("2006-01-02T00:00:00Z")))
    assert values["wikitext.revision.diff.longest_repeated_char_added"] == 3  # '''
    assert values["wikitext.revision.diff.words_added"] == 2
    assert values["wikitext.revision.diff.words_removed"] == 0
    assert values["english.informals.revision.diff.match_prop_delta_sum"] == 1  # hello
    assert values["english.stopwords.revision.diff.non_stopword_prop_delta_sum"] == 2
    assert values["temporal.revision.user.seconds_since_registration"] == 86_400


def test_removal_by_a_bot_registered_before_2006() -> None:
    revision = edit(
        "Keep this. Remove that.",
        "Keep this.",
        user=user(("bot", "user", "*"), None),
        timestamp=at("2006-01-01T00:01:40Z"),
    )
    values = ores(revision)
    assert values["wikitext.revision.diff.longest_repeated_char_added"] == 1  # nothing added
    assert values["wikitext.revision.diff.words_added"] == 0
    assert values["wikitext.revision.diff.words_removed"] == 2  # Remove that
    assert values["english.stopwords.revision.diff.non_stopword_prop_delta_sum"] == -1  # remove
    assert values["revision.user.in_group({bot,sysop})"] == 1
    assert values["temporal.revision.user.seconds_since_registration"] == 100


def test_badword_added_where_it_already_was() -> None:
    parent = "Some shit here.\n" + "A line of text.\n" * 20
    text = parent + "Extra shit!\n"
    values = ores(edit(parent, text))
    # shit: 1 -> 2, so 1 / (1 + 1); the old count comes from outside the changed line.
    assert values["english.badwords.revision.diff.match_prop_delta_sum"] == 0.5
    # extra: new (+1); shit: 1 / (1 + 1).
    assert values["english.stopwords.revision.diff.non_stopword_prop_delta_sum"] == 1.5


def test_non_latin_edit() -> None:
    values = ores(edit("वसा अर्थात चिकनाई।", "वसा अर्थात शरीर चिकनाई।"))
    assert values["wikitext.revision.diff.words_added"] == 1
    assert values["wikitext.revision.diff.longest_repeated_char_added"] == 1  # "शरीर "
    assert values["english.stopwords.revision.diff.non_stopword_prop_delta_sum"] == 1


def test_registration_after_the_edit_and_hidden_users() -> None:
    late = edit("a", "a b", user=user(registration="2016-01-01T00:00:00Z"))
    assert ores(late)["temporal.revision.user.seconds_since_registration"] == CHRONOLOGY_FALLBACK
    assert CHRONOLOGY_FALLBACK == 30_758_400  # revscoring's "one year" of 356 days
    hidden = edit("a", "a b", user_name=None, user_id=None, user=None)
    values = ores(hidden, deleted="empty")
    assert values["revision.user.is_anon"] == 0
    assert values["revision.user.in_group({bot,sysop})"] == 0
    assert values["temporal.revision.user.seconds_since_registration"] == 0
    with pytest.raises(UserDeleted):
        ores(hidden)


def test_hidden_texts() -> None:
    for revision in (edit("a", None), edit(None, "a")):
        with pytest.raises(TextDeleted, match="Text deleted"):
            ores(revision)
        values = ores(revision, deleted="empty")
        assert values["wikitext.revision.diff.words_added"] in (0, 1)
        assert full(revision)["text_deleted"] == 1
    with pytest.raises(ValueError, match="deleted='drop'"):
        ores(edit("a", "b"), deleted="drop")


def test_wikitext_structure() -> None:
    parent = (
        "'''Loom''' is a [[device]].<ref>Smith</ref>\n\n== History ==\nOld.\n[[Category:Tools]]"
    )
    text = (
        "'''Loom''' is a [[device]] for [[weaving]].<ref>Smith</ref><ref name=b/>\n\n"
        "== History ==\nOld. {{cn}} http://example.org\n[[File:Loom.jpg]]\n[[Category:Tools]]"
    )
    values = full(edit(parent, text))
    expected = {
        "refs": (1, 2),  # <ref> | <ref>, <ref name=b/>
        "wikilinks": (1, 2),  # device | device, weaving (files and categories apart)
        "external_links": (0, 1),
        "templates": (0, 1),  # {{cn}}
        "files": (0, 1),
        "headings": (1, 1),
        "categories": (1, 1),
    }
    for item, (old, new) in expected.items():
        assert values[f"wikitext.{item}.parent"] == old, item
        assert values[f"wikitext.{item}.revision"] == new, item
        assert values[f"wikitext.{item}.delta"] == new - old, item
    # ASCII, one byte a character. Parent: "'''Loom'''" 10, " is a " 6, [[device]] 10, "." 1,
    # <ref>Smith</ref> 16, two newlines 2, "== History ==" 13, newline 1, "Old." 4,
    # newline 1, [[Category:Tools]] 18: 82. The revision adds " for " 5, [[weaving]] 11,
    # <ref name=b/> 13, " {{cn}} " 8, http://example.org 18, [[File:Loom.jpg]] 17 and a
    # newline 1: 73 more, 155.
    assert values["size.parent_bytes"] == 82
    assert values["size.bytes"] == 155
    assert values["size.delta_bytes"] == 73
    assert values["size.delta_ratio"] == pytest.approx(73 / 82)
    assert values["diff.markup_added"] > 0


def test_characters_and_tokens_added() -> None:
    values = full(edit("a", "a ABc1!"))
    # Added " ABc1!": 6 characters, letters A B c (2 upper of 3), 1 digit, 1 "!", 1 space.
    assert values["diff.chars_added"] == 6
    assert values["diff.uppercase_ratio_added"] == pytest.approx(2 / 3)
    assert values["diff.digit_ratio_added"] == pytest.approx(1 / 6)
    assert values["diff.punctuation_ratio_added"] == pytest.approx(1 / 6)
    assert values["diff.whitespace_ratio_added"] == pytest.approx(1 / 6)
    assert values["diff.non_latin_ratio_added"] == 0
    assert values["diff.words_added"] == 1  # "ABc1" is one word
    assert values["diff.longest_token_added"] == 4
    cyrillic = full(edit("x", "x Вики NASA 42"))
    assert cyrillic["diff.non_latin_ratio_added"] == pytest.approx(4 / 8)  # Вики of ВикиNASA
    assert cyrillic["diff.uppercase_words_added"] == 1  # NASA
    assert cyrillic["diff.numbers_added"] == 1
    assert cyrillic["diff.chars_removed"] == 0


def test_comment_features() -> None:
    section = full(edit("a", "a b", comment="/* History */ cite [[WP:RS]]"))
    assert section["comment.section_edit"] == 1
    assert section["comment.has_wikilink"] == 1
    assert section["comment.revert_like"] == 0
    assert section["comment.length"] == len("/* History */ cite [[WP:RS]]")
    assert section["comment.empty"] == 0
    assert full(edit("a", "b", comment="Reverted edits by X"))["comment.revert_like"] == 1
    assert full(edit("a", "b", comment="rv vandalism"))["comment.revert_like"] == 1
    hidden = full(edit("a", "b", comment=None))
    assert hidden["comment_deleted"] == 1
    assert hidden["comment.empty"] == 1
    with pytest.raises(CommentDeleted):
        full(edit("a", "b", comment=None), deleted="raise")


def test_user_page_and_time_features() -> None:
    groups = ("extendedconfirmed", "autoconfirmed", "rollbacker", "user", "*")
    revision = edit(
        "a",
        "a b",
        user=user(groups, "2015-03-03T05:06:07Z", edits=99),
        namespace=1,
        timestamp=at("2015-03-04T05:06:07Z"),  # a Wednesday
    )
    values = full(revision)
    assert values["user.is_anon"] == 0
    assert (values["user.is_bot"], values["user.is_admin"], values["user.is_advanced"]) == (0, 0, 0)
    assert values["user.is_autoconfirmed"] == 1
    assert values["user.is_extendedconfirmed"] == 1
    assert values["user.is_patroller"] == 1
    assert values["user.edit_count_log"] == pytest.approx(math.log(100))
    assert values["user.seconds_since_registration"] == 86_400
    assert values["user.seconds_since_registration_log"] == pytest.approx(math.log1p(86_400))
    assert values["user.info_missing"] == 0
    assert (values["page.is_main"], values["page.is_talk"]) == (0, 1)
    assert (values["time.hour_of_day"], values["time.weekday"]) == (5, 2)
    dump = full(edit("a", "a b", user=None))  # a named editor with no user record
    assert dump["user.info_missing"] == 1
    ip = full(anonymous("a", "a b"))
    assert (ip["user.is_anon"], ip["user.info_missing"], ip["user.edit_count_log"]) == (1, 0, 0)
    hidden = full(edit("a", "a b", user_name=None, user_id=None, user=None))
    assert (hidden["user_deleted"], hidden["user.is_anon"]) == (1, 0)


def test_language_features_of_the_full_set() -> None:
    parent = "The band played in Leeds. The band was loud."
    text = "The band played in Leeds. The band was sooo loud, lol lol. Great band."
    values = full(edit(parent, text))
    assert values["informals.match_delta_sum"] == 3  # sooo +1, lol +2
    assert values["informals.match_delta_increase"] == 3
    assert values["informals.match_delta_decrease"] == 0
    assert values["informals.match_prop_delta_sum"] == 3
    assert values["badwords.match_delta_sum"] == 0
    assert values["stopwords.non_stopwords_added"] == 5
    assert values["stopwords.stopwords_added"] == 0
    assert values["stopwords.non_stopword_prop_delta_sum"] == pytest.approx(4 + 1 / 3)
    assert values["stopwords.non_stopword_prop_delta_decrease"] == 0
    with pytest.raises(LookupError, match=r"available: .*en"):
        full(edit(parent, text), language="xx")


#: Wikitext with bad and informal words, stop words, markup and the hard cases of counting.
TEXTS = st.lists(
    st.sampled_from(
        [*WORD_PIECES, "shit", "lol", "the", "of", "[[File:x]]", "{{cn}}", "<ref/>", "\n== H =="]
    ),
    max_size=40,
).map("".join)


EDITS = edits_of(TEXTS, [" lol ", "shit", "Loom", "\n"])


def whole_text_delta(old: Counter[str], new: Counter[str]) -> tuple[float, ...]:
    """The sums of revscoring's delta between two whole texts' counts."""
    return FrequencyDelta(changes(old, new), old).sums()


@settings(max_examples=300, deadline=None)
@given(edit=EDITS)
def test_word_list_and_structure_features_are_those_of_the_whole_texts(
    edit: tuple[str, str],
) -> None:
    # What is computed from the changed places only is what the whole texts give.
    parent, text = edit
    values = full(edit_of(parent, text))
    lists = load_wordlists("en")
    for name, rl in (("badwords", lists.badwords), ("informals", lists.informals)):
        old, new = Counter(rl.matches(parent)), Counter(rl.matches(text))
        sums = whole_text_delta(old, new)
        for item, value in zip(LANGUAGE_PARTS, sums, strict=True):
            assert values[f"{name}.match_{item}"] == value
    words = [
        Counter(
            token.lower()
            for token, kind in tokenize(source)
            if kind == "word" and token.lower() not in lists.stopwords
        )
        for source in (parent, text)
    ]
    _, _, _, prop_sum, prop_up, prop_down = whole_text_delta(*words)
    assert values["stopwords.non_stopword_prop_delta_sum"] == prop_sum
    assert values["stopwords.non_stopword_prop_delta_increase"] == prop_up
    assert values["stopwords.non_stopword_prop_delta_decrease"] == prop_down
    names = ("refs", "wikilinks", "external_links", "templates", "files", "headings", "categories")
    for name, old_count, new_count in zip(names, structure(parent), structure(text), strict=True):
        assert values[f"wikitext.{name}.parent"] == old_count
        assert values[f"wikitext.{name}.revision"] == new_count
    assert values["size.parent_bytes"] == len(parent.encode())
    assert values["size.bytes"] == len(text.encode())
    ores_values = ores(edit_of(parent, text))
    assert ores_values["english.stopwords.revision.diff.non_stopword_prop_delta_sum"] == prop_sum


def edit_of(parent: str, text: str) -> Revision:
    """A revision record of an edit, its texts string objects of their own."""
    return edit((parent + ".")[:-1], (text + ".")[:-1])


LANGUAGE_PARTS = tuple(
    f"{kind}_{part}" for kind in ("delta", "prop_delta") for part in ("sum", "increase", "decrease")
)


def test_many_revisions_and_none() -> None:
    revisions = [edit("a", "a b"), anonymous("", "new page"), edit("x y", "x")]
    for features in (OresDemoFeatures(), EditQualityFeatures()):
        matrix = features.fit(revisions).transform(revisions)
        assert matrix.dtype == np.float64
        assert matrix.shape == (3, len(features.get_feature_names_out()))
        assert np.isfinite(matrix).all()
        assert features.transform([]).shape == (0, matrix.shape[1])


def test_feature_set_keys() -> None:
    assert OresDemoFeatures.name == "ores.enwiki.demo"
    assert OresDemoFeatures.version == 1
    assert EditQualityFeatures.name == "editquality"
    assert EditQualityFeatures.version == 1
    assert OresDemoFeatures().key.startswith("ores.enwiki.demo/v1/")
    assert EditQualityFeatures(language="en").key.startswith("editquality/en/v1/")


# scikit-learn's estimator checks feed numeric arrays, which these transformers do not take
# (their input is a sequence of Revision records): check_transformer_general,
# check_n_features_in and check_estimator_sparse_tag cannot apply. These do.
CHECKS = [
    "check_get_params_invariance",
    "check_set_params",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_estimator_repr",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_cloneable",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_mixin_order",
    "check_dont_overwrite_parameters",
    "check_fit_check_is_fitted",
]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("estimator", [OresDemoFeatures(), EditQualityFeatures()], ids=repr)
def test_scikit_learn_checks(check: str, estimator: Any) -> None:
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


def test_clone_params_and_a_pipeline() -> None:
    features = EditQualityFeatures(language="en", deleted="raise")
    copy = clone(features)
    assert copy is not features
    assert copy.get_params() == {"language": "en", "deleted": "raise"}
    assert copy.set_params(deleted="empty").deleted == "empty"
    assert repr(OresDemoFeatures()) == "OresDemoFeatures()"
    assert pickle.loads(pickle.dumps(features)).get_params() == features.get_params()
    revisions = [
        anonymous("Looms weave.", "Looms weave. lol fuck!!!!!!"),
        edit("Looms weave.", "Looms weave cloth."),
        anonymous("Cloth is made.", "POOP POOP lol"),
        edit("Cloth is made.", "Cloth is made on looms."),
    ]
    model = make_pipeline(OresDemoFeatures(), LogisticRegression()).fit(revisions, [1, 0, 1, 0])
    assert model.predict(revisions).shape == (4,)


@pytest.mark.anyio
async def test_features_of_the_seeded_vandalism_and_its_revert(mediawiki: MediaWiki) -> None:
    loom = mediawiki.pages["Loom"].revisions
    vandalism_id = next(seeded.rev_id for seeded in loom if seeded.damaging)
    revert_id = loom[[seeded.rev_id for seeded in loom].index(vandalism_id) + 1].rev_id
    client = WikiClient(AGENT, custom_wikis={mediawiki.dbname: mediawiki.api_url})
    try:
        found = await fetch_revisions(client, mediawiki.dbname, [vandalism_id, revert_id])
    finally:
        await client.aclose()
    vandalism, revert = found[vandalism_id], found[revert_id]
    assert isinstance(vandalism, Revision)
    assert isinstance(revert, Revision)
    rows = OresDemoFeatures().transform([vandalism, revert])
    values = dict(zip(ORES_DEMO_FEATURES, rows[0].tolist(), strict=True))
    assert values["revision.user.is_anon"] == 1
    assert values["wikitext.revision.diff.longest_repeated_char_added"] == 7  # "!!!!!!!"
    assert values["wikitext.revision.diff.words_added"] == 5
    assert values["wikitext.revision.diff.words_removed"] == 28
    assert values["english.informals.revision.diff.match_prop_delta_sum"] == 1  # lol
    assert values["english.stopwords.revision.diff.non_stopword_prop_delta_sum"] == -14.5
    assert values["revision.user.in_group({bot,sysop})"] == 0
    since_2006 = (vandalism.timestamp - at("2006-01-01T00:00:00Z")).total_seconds()
    assert values["temporal.revision.user.seconds_since_registration"] == int(since_2006)
    reverted = dict(zip(ORES_DEMO_FEATURES, rows[1].tolist(), strict=True))
    assert reverted["revision.user.is_anon"] == 0
    assert reverted["revision.user.in_group({bot,sysop})"] == 1  # Sysop
    assert reverted["wikitext.revision.diff.words_added"] == 28
    assert reverted["wikitext.revision.diff.words_removed"] == 5
    assert reverted["english.informals.revision.diff.match_prop_delta_sum"] == -1  # lol gone
    # Sysop registered while the wiki was seeded, moments before reverting.
    assert 0 <= reverted["temporal.revision.user.seconds_since_registration"] < 3600
    wider = EditQualityFeatures().transform([vandalism, revert])
    named = dict(zip(EDIT_QUALITY_FEATURES, wider[1].tolist(), strict=True))
    assert named["user.is_admin"] == 1
    assert named["comment.revert_like"] == 1  # "Undo vandalism by ..."
    assert named["comment.has_wikilink"] == 1
    assert named["wikitext.headings.delta"] == 1
