"""Word counts found where the words occur: the same as a full tokenization's, by every path."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.learn.strategies import edits_of, texts_of
from tests.learn.test_diffs import texts as diff_texts
from wikiloom.learn import wordcounts
from wikiloom.learn.diffs import diff_tokens
from wikiloom.learn.hunks import Span
from wikiloom.learn.tokens import tokenize
from wikiloom.learn.wordcounts import (
    clear_caches,
    lower_case,
    ranges_outside,
    whole_counts,
    word_frequencies,
)
from wikiloom.learn.wordlists import load_wordlists

#: Pieces of wikitext with the cases the counting must get right: case (İ, whose lower
#: case is two characters; Σ, whose lower case depends on its neighbours; the Kelvin sign),
#: marks, CJK, apostrophes, markup, tags, entities and URLs that hold words no token has.
PIECES = [
    "loom",
    "Loom",
    "LOOM",
    "looms",
    "e",
    "E",
    "st",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\xa0",
    ".",
    ",",
    "'",
    "’",
    "'s",
    "_",
    "5",
    "5e",
    "克st",
    "m80",
    "İstanbul",
    "istanbul",
    "i\u0307",
    "ΣΑΣ",
    "σας",
    "σασ",
    "Σ",
    "ς",
    "\u212a",
    "k",
    "é",
    "e\u0301",
    "克",
    "<ref name=loom>",
    '<ref name="a loom">',
    "</ref>",
    "<br/>",
    "<",
    ">",
    "&loom;",
    "&amp;",
    "http://loom.org",
    "//loom.org",
    "HTTP://loom",
    "[[",
    "]]",
    "{{",
    "}}",
    "|",
    "==",
]
texts = texts_of(PIECES)
EDITS = edits_of(texts, PIECES)


def words_outside(text: str, skip: Sequence[Span], words: Collection[str]) -> Counter[str]:
    """The word tokens of a full tokenization outside `skip` that are `words`, lower-cased."""
    found: Counter[str] = Counter()
    position = 0
    for token, kind in tokenize(text):
        end = position + len(token)
        inside = any(start < end and position < stop for start, stop in skip)
        if kind == "word" and token.lower() in words and not inside:
            found[token.lower()] += 1
        position = end
    return found


#: Costs that make `word_frequencies` choose, find the places of every word, or count all.
PATHS = {"chosen": {}, "places": {"SCAN_COST": 10**9}, "all": {"SCAN_COST": 0}}


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def forced(path: str) -> pytest.MonkeyPatch:
    """A monkeypatch context that makes `word_frequencies` take `path`."""
    patch = pytest.MonkeyPatch()
    for name, value in PATHS[path].items():
        patch.setattr(wordcounts, name, value)
    return patch


@pytest.mark.parametrize("path", list(PATHS))
@settings(max_examples=300, deadline=None)
@given(edit=EDITS, extra=st.sets(st.sampled_from(["loom", "e", "st", "σας", "i̇stanbul", "x"])))
def test_counts_outside_the_changes_are_a_full_tokenization_s(
    path: str, edit: tuple[str, str], extra: set[str]
) -> None:
    parent, text = edit
    diff = diff_tokens(parent, text)
    words = {token.lower() for token, kind in tokenize(parent) if kind == "word"} | extra
    with forced(path).context():
        for skip in (diff.parent_token_spans, diff.parent_spans, ()):
            assert word_frequencies(parent, words, skip) == words_outside(parent, skip, words)


def test_counts_of_hand_worked_texts(path: str) -> None:
    with forced(path).context():
        text = "loom " * 400 + "\n<ref name=loom>a</ref> looms http://loom.org &loom;"
        # Every word of the text is counted; the tag, URL and entity hold none.
        assert word_frequencies(text, {"loom", "looms"}) == Counter({"loom": 400, "looms": 1})
        few = 'A loom.\n<ref name="a loom">loom</ref> http://loom.org x_loom 5loom loom\'s\n'
        # "A loom", the ref's "loom" (not the one in its tag), "5loom".
        assert word_frequencies(few, {"loom"}) == Counter({"loom": 3})
        assert word_frequencies("Loom, LOOM; loomed", {"loom"}) == Counter({"loom": 2})
        # After a number or a CJK character (tokens of their own) a word starts; not after m5.
        assert word_frequencies("5e 克e m5e", {"e"}) == Counter({"e": 2})
        # İ lower-cases to two characters, Σ to σ or (at a word's end) ς.
        assert word_frequencies("İstanbul, istanbul", {"i̇stanbul", "istanbul"}) == Counter(
            {"i̇stanbul": 1, "istanbul": 1}
        )
        assert word_frequencies("ΣΑΣ σας", {"σας"}) == Counter({"σας": 2})
        assert word_frequencies("Σ σασ", {"σας"}) == Counter()  # σ and ς are told apart
        # Only outside the skipped span (a cut-bounded line here).
        assert word_frequencies("loom\nloom\nloom", {"loom"}, [(5, 10)]) == Counter({"loom": 2})


def test_lower_case_keeps_positions_and_is_kept_per_text_object() -> None:
    text = "".join(["İstanbul ΣΑΣ"])  # a string object of its own
    case = lower_case(text)
    assert len(case.lowered) == len(text)
    assert case.lowered == "\0stanbul σας"
    assert (case.dotted, case.sigma) == (True, True)
    assert case.unsure("i̇stanbul")
    assert case.unsure("σας")
    assert not case.unsure("loom")
    assert lower_case(text) is case  # kept for that object
    copy = (text + ".")[:-1]
    assert copy == text
    assert copy is not text
    assert lower_case(copy) is not case  # another object: computed again
    clear_caches()
    assert lower_case(text) is not case
    plain = lower_case("Loom")
    assert (plain.lowered, plain.dotted, plain.sigma) == ("loom", False, False)


def test_ranges_outside() -> None:
    assert ranges_outside(10, [(2, 4), (4, 6)]) == [(0, 2), (6, 10)]
    assert ranges_outside(10, []) == [(0, 10)]
    assert ranges_outside(5, [(0, 5)]) == []


def all_words(text: str) -> dict[str, int]:
    """The counts of the lower-cased word tokens of a full tokenization."""
    return dict(Counter(token.lower() for token, kind in tokenize(text) if kind == "word"))


@settings(max_examples=200, deadline=None)
@given(first=texts, steps=st.lists(st.sampled_from(PIECES), max_size=6))
def test_whole_counts_follow_a_page_history(first: str, steps: list[str]) -> None:
    # Each revision's text is the next one's parent (the same object, as a dump gives them):
    # once one edit counted every word, the later ones take their counts from the history.
    lists = load_wordlists("en")
    clear_caches()
    history = [(first + ".")[:-1]]
    for number, piece in enumerate(steps):
        previous = history[-1]
        at = (number * 7) % (len(previous) + 1)
        history.append(previous[:at] + piece + previous[at:])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wordcounts, "SCAN_COST", 0)  # the first edit counts every word
        for parent, text in itertools.pairwise(history):
            diff = diff_tokens(parent, text)
            change = lists.non_stopword_delta(parent, diff, text)
            fresh = (parent + ".")[:-1]  # an object of its own: nothing kept for it
            assert change == lists.non_stopword_delta(fresh, diff_tokens(fresh, text))
            for known in (parent, text):
                counts = whole_counts(known)
                assert counts is None or counts == all_words(known)
    clear_caches()
    assert whole_counts(history[-1]) is None


def test_whole_counts_are_kept_along_a_history() -> None:
    lists = load_wordlists("en")
    clear_caches()
    first = "".join(["The loom of the house.\n", "Looms weave cloth.\n" * 50])
    second = first + "A new loom.\n"
    third = second.replace("house", "mill")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wordcounts, "SCAN_COST", 0)  # count every word of the first parent
        lists.non_stopword_delta(first, diff_tokens(first, second), second)
    assert whole_counts(first) == all_words(first)
    assert whole_counts(second) == all_words(second)  # made from the first's
    change = lists.non_stopword_delta(second, diff_tokens(second, third), third)
    assert change.old["house"] == 1
    assert whole_counts(third) == all_words(third)
    clear_caches()
    assert whole_counts(third) is None


@settings(max_examples=300, deadline=None)
@given(diff_texts, st.booleans())
def test_word_frequencies_are_those_of_a_full_tokenization(text: str, many: bool) -> None:
    words = {token.lower() for token, kind in tokenize(text) if kind == "word"} | {"ref", "x"}
    if not many:
        words = set(sorted(words)[:2])
    expected = Counter(
        token.lower() for token, kind in tokenize(text) if kind == "word" and token.lower() in words
    )
    assert word_frequencies(text, words) == expected
