"""The token diff: hand-worked edits, moves, long texts, and what it keeps as multisets."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wikiloom.learn import diffs
from wikiloom.learn import hunks as hunking
from wikiloom.learn.diffs import TokenDiff, diff_tokens, outside
from wikiloom.learn.hunks import common_prefix_length, common_suffix_length, hunks, is_cut
from wikiloom.learn.tokens import tokenize

PIECES = [
    "a",
    "b",
    "Loom",
    " ",
    "\n",
    "\n\n",
    "  \n",
    "<",
    ">",
    "<ref name=x>",
    "</ref>",
    "<b",
    "c>",
    "'",
    "'''",
    "http://q.z",
    "!!",
    "==",
    "[[",
    "]]",
    "Ünï",
    "克",
    "1",
    "\r",
    "one two three\n",
    "one two three\n",
    "वसा है।",
    '<ref name="a b">',
    "\t",
    "\xa0",
    "5a",
    "&amp;",
    "a'b",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, str]:
    """A text and an edit of it: pieces inserted, deleted or moved, or a rewrite."""
    parent = draw(texts)
    if draw(st.booleans()) and draw(st.booleans()):
        return parent, draw(texts)
    pieces = list(parent)
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(pieces)))
        if pieces and draw(st.booleans()):
            del pieces[min(position, len(pieces) - 1)]
        else:
            pieces.insert(position, draw(st.sampled_from(PIECES)))
    return parent, "".join(pieces)


def texts_of(tokens: list[tuple[str, str]]) -> list[str]:
    return [token for token, _ in tokens]


def test_common_prefix_and_suffix() -> None:
    assert common_prefix_length("The cat sat.", "The dog sat.") == 4
    assert common_suffix_length("The cat sat.", "The dog sat.", 8) == 5  # " sat."
    assert common_suffix_length("aaaa", "aaaa", 2) == 2  # never past the limit
    assert common_prefix_length("", "abc") == 0


def test_cuts() -> None:
    text = "one\ntwo\n two\n<div\nclass=x>\nend"
    assert is_cut(text, 0)
    assert is_cut(text, len(text))
    assert is_cut(text, 4)  # "two" after a newline
    assert not is_cut(text, 2)  # inside "one"
    assert not is_cut(text, 8)  # " two": a space may join the newline's token
    assert not is_cut(text, 18)  # inside the tag <div\nclass=x>
    assert is_cut(text, 27)  # after the tag closed
    assert is_cut("a < b\nc", 6)  # that "<" opens no tag


def test_word_changed() -> None:
    diff = diff_tokens("The cat sat on the mat.", "The dog sat on the mat.")
    assert texts_of(diff.added) == ["dog"]
    assert texts_of(diff.removed) == ["cat"]
    assert diff.added_segments == ["dog"]
    assert diff.removed_segments == ["cat"]


def test_sentence_added_in_a_long_article() -> None:
    lines = [f"Line {number} says something about looms." for number in range(2000)]
    parent = "\n".join(lines)
    text = "\n".join([*lines[:1000], "Looms are old.", *lines[1000:]])
    diff = diff_tokens(parent, text)
    # The added line and its newline: "Looms", " ", "are", " ", "old", ".", "\n".
    assert diff.added_segments == ["Looms are old.\n"]
    assert diff.removed == []
    # Only the changed place was tokenized: one span of one line.
    assert diff.spans == ((text.index("Looms are"), text.index("Looms are") + 15),)
    assert diff.parent_spans[0][1] - diff.parent_spans[0][0] == 0


def test_two_distant_changes_make_two_hunks() -> None:
    lines = [f"Paragraph {number} about weaving." for number in range(500)]
    parent = "\n".join(lines)
    changed = [*lines]
    changed[3] = "Paragraph 3 about WEAVING."
    changed[480] = "Paragraph 480 about knitting."
    diff = diff_tokens(parent, "\n".join(changed))
    assert len(diff.spans) == 2
    assert texts_of(diff.added) == ["WEAVING", "knitting"]
    assert texts_of(diff.removed) == ["weaving", "weaving"]
    assert sum(end - start for start, end in diff.spans) < 100


def test_moved_line_adds_and_removes_nothing() -> None:
    parent = "Intro.\nSecond line here ok.\nThird line is this.\n"
    text = "Intro.\nThird line is this.\nSecond line here ok.\n"
    diff = diff_tokens(parent, text)
    assert diff.added == []
    assert diff.removed == []


def test_paragraph_moved_far_adds_and_removes_nothing() -> None:
    lines = [f"Paragraph {number} about weaving." for number in range(300)]
    moved = [*lines[1:250], lines[0], *lines[250:]]
    diff = diff_tokens("\n\n".join(lines), "\n\n".join(moved))
    assert len(diff.spans) == 2  # where it left and where it arrived, far apart
    assert diff.added == []
    assert diff.removed == []


def test_short_lines_are_not_moves() -> None:
    # "|-" has no words: deleted in one place and inserted in another, it is a change.
    parent = "|-\nA row of words.\nAnother row here.\n"
    diff = diff_tokens(parent, "A row of words.\nAnother row here.\n|-\n")
    assert texts_of(diff.added) == ["|", "-", "\n"]
    assert texts_of(diff.removed) == ["|", "-", "\n"]


def test_page_creation_and_blanking() -> None:
    created = diff_tokens("", "Hello '''world'''!!")
    assert texts_of(created.added) == ["Hello", " ", "'''", "world", "'''", "!!"]
    assert created.added_segments == ["Hello '''world'''!!"]
    assert created.removed == []
    assert created.removed_segments == []
    blanked = diff_tokens("Hello world", "")
    assert texts_of(blanked.removed) == ["Hello", " ", "world"]
    assert blanked.added == []


def test_identical_and_empty_texts() -> None:
    for parent, text in (("same", "same"), ("", "")):
        diff = diff_tokens(parent, text)
        assert diff.added == diff.removed == diff.added_segments == []
        assert diff.spans == diff.parent_spans == ()


def test_vandalism_segments() -> None:
    diff = diff_tokens(
        "A '''loom''' is a device.\n\n== History ==\nThe earliest looms.",
        "LOOMS ARE SO BORING lol!!!!!!!",
    )
    # The spaces between the vandal's words match the parent's spaces, as in revscoring.
    assert diff.added_segments == ["LOOMS", "ARE", "SO", "BORING", "lol!!!!!!!"]


def test_non_latin_edit() -> None:
    diff = diff_tokens("वसा अर्थात चिकनाई।", "वसा अर्थात शरीर चिकनाई।")
    assert texts_of(diff.added) == ["शरीर", " "]
    assert diff.removed == []


@pytest.mark.parametrize("threshold", [hunking.LINE_DIFF_ABOVE, 4])
@settings(max_examples=300, deadline=None)
@given(edit=edits())
def test_parent_minus_removed_plus_added_is_the_revision(
    threshold: int, edit: tuple[str, str]
) -> None:
    parent, text = edit
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hunking, "LINE_DIFF_ABOVE", threshold)  # 4: split into hunks nearly always
        diff = diff_tokens(parent, text)
        places = hunks(parent, text)
    before, after = Counter(tokenize(parent)), Counter(tokenize(text))
    removed, added = Counter(diff.removed), Counter(diff.added)
    assert not removed - before
    assert before - removed + added == after
    # The spans tokenize as the whole text does there, and outside them the texts agree.
    assert outside(parent, diff.parent_spans) == outside(text, diff.spans)
    pieces = []
    position = 0
    for start, end in diff.parent_spans:
        pieces += tokenize(parent[position:start]) + tokenize(parent[start:end])
        position = end
    assert pieces + tokenize(parent[position:]) == tokenize(parent)
    assert [(a1, a2) for a1, a2, _, _ in places] == list(diff.parent_spans)


def token_boundaries(text: str) -> set[int]:
    """Where the tokens of a full tokenization start and end."""
    bounds, position = {0}, 0
    for token, _ in tokenize(text):
        position += len(token)
        bounds.add(position)
    return bounds


@pytest.mark.parametrize("threshold", [hunking.LINE_DIFF_ABOVE, 4])
@settings(max_examples=300, deadline=None)
@given(edit=edits())
def test_windows_tokenize_as_the_whole_texts_and_diff_the_same(
    threshold: int, edit: tuple[str, str]
) -> None:
    parent, text = edit
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hunking, "LINE_DIFF_ABOVE", threshold)
        diff = diff_tokens(parent, text)
        patch.setattr(diffs, "token_window", lambda a, b, hunk, core: hunk)
        whole = diff_tokens(parent, text)  # every hunk tokenized whole
    # No token of the whole text spans a window's ends, and the window alone tokenizes as
    # the whole text does there.
    for source, spans in ((parent, diff.parent_token_spans), (text, diff.token_spans)):
        bounds = token_boundaries(source)
        for start, end in spans:
            assert {start, end} <= bounds
            assert tokenize(source[start:end]) == tokens_between(source, start, end)
    assert diff.removed == whole.removed
    assert diff.added == whole.added
    assert diff.removed_segments == whole.removed_segments
    assert diff.added_segments == whole.added_segments
    assert (diff.parent_spans, diff.spans) == (whole.parent_spans, whole.spans)


def tokens_between(text: str, start: int, end: int) -> list[tuple[str, str]]:
    """The tokens of a full tokenization of `text` that lie in `text[start:end]`."""
    found, position = [], 0
    for token in tokenize(text):
        if start <= position and position + len(token[0]) <= end:
            found.append(token)
        position += len(token[0])
    return found


def test_a_word_changed_in_a_long_paragraph_is_tokenized_alone() -> None:
    paragraph = " ".join(f"word{number}" for number in range(300))
    parent = f"Intro.\n\n{paragraph}\n\nEnd."
    text = parent.replace(" word150 ", " WOVEN ")
    diff = diff_tokens(parent, text)
    assert diff.parent_spans == ((8, 8 + len(paragraph) + 2),)  # the hunk: the whole line
    assert [parent[a:b] for a, b in diff.parent_token_spans] == ["word150"]
    assert [text[a:b] for a, b in diff.token_spans] == ["WOVEN"]
    assert diff.removed == [("word150", "word")]
    assert diff.added == [("WOVEN", "word")]
    (a1, a2), (b1, b2) = diff.parent_token_spans[0], diff.token_spans[0]
    assert diff.changes == ((a1, a2, b1, b2),)  # the window is the change, here


def same_as_whole(parent: str, text: str) -> TokenDiff:
    """The diff, checked against the diff that tokenizes every hunk whole."""
    diff = diff_tokens(parent, text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(diffs, "token_window", lambda a, b, hunk, core: hunk)
        whole = diff_tokens(parent, text)
    assert (diff.removed, diff.added) == (whole.removed, whole.added)
    assert (diff.removed_segments, diff.added_segments) == (
        whole.removed_segments,
        whole.added_segments,
    )
    for source, spans in ((parent, diff.parent_token_spans), (text, diff.token_spans)):
        for start, end in spans:
            assert tokenize(source[start:end]) == tokens_between(source, start, end)
    return diff


def test_windows_do_not_end_inside_tags() -> None:
    # The inserted "<b " opens a tag that closes after the window's end: the window grows.
    diff = same_as_whole("aa bb cc> dd\n", "aa <b bb cc> dd\n")
    assert diff.token_spans[0][1] >= len("aa <b bb cc>")
    # A line inside a tag (the ref's name holds a newline) is not a cut: no window there.
    parent = '<ref name="a\nb c d">x</ref>\n'
    diff = same_as_whole(parent, parent.replace("c d", "c e"))
    assert diff.parent_token_spans == diff.parent_spans


def test_a_changed_line_whose_copy_is_inserted_elsewhere_is_diffed_whole() -> None:
    # The old line is inserted far below (a move, whole lines): its window would not say so.
    line = "One two three four five six."
    filler = [f"Filler line {number} here." for number in range(200)]
    parent = "\n".join([line, *filler, "End."])
    text = "\n".join([line.replace("three", "THREE"), *filler, line, "End."])
    diff = same_as_whole(parent, text)
    assert len(diff.parent_spans) == 2
    assert diff.parent_token_spans == diff.parent_spans
