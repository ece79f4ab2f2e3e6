"""Word lists: loading, errors that name the file and line, and revscoring's deltas."""

from __future__ import annotations

from pathlib import Path

import pytest

from wikiloom.learn.diffs import diff_tokens
from wikiloom.learn.wordlists import (
    FILES,
    TEMPLATE_FILES,
    FrequencyDelta,
    UnknownLanguage,
    WordListError,
    available_languages,
    load_templates,
    load_wordlists,
    regex_list,
    template_name,
)


def write_language(root: Path, language: str = "xx", **texts: str) -> Path:
    """A word-list folder with the given files (the others hold one harmless entry)."""
    folder = root / language
    folder.mkdir(parents=True)
    for name in FILES + TEMPLATE_FILES:
        key = name.removesuffix(".txt")
        (folder / name).write_text(texts.get(key, "# a comment\n\nzzz\n"), encoding="utf-8")
    return root


def test_english_lists_load() -> None:
    lists = load_wordlists("en")
    assert lists.language == "en"
    assert lists.badwords.matches("What the FUCK, shit!") == ["fuck", "shit"]
    assert lists.informals.matches("lol, Hello there, gonna") == ["lol", "hello", "gonna"]
    assert lists.badwords.matches("Dick Cheney, a great tit, Scunthorpe") == []
    assert {"the", "and", "of", "is", "my"} <= lists.stopwords
    assert "loom" not in lists.stopwords
    assert len(lists.digest) == 64
    assert load_wordlists("en") is lists  # loaded once


def test_languages_available() -> None:
    assert "en" in available_languages()


def test_unknown_language_lists_those_available() -> None:
    with pytest.raises(UnknownLanguage, match=r"no word lists for language 'xx'; available: .*en"):
        load_wordlists("xx")
    with pytest.raises(UnknownLanguage):
        load_wordlists("../en")


def test_bad_regex_names_file_and_line(tmp_path: Path) -> None:
    root = write_language(tmp_path, badwords="# bad words\nfoo\n\nba(r\n")
    with pytest.raises(WordListError) as raised:
        load_wordlists("xx", root)
    message = str(raised.value)
    assert message.startswith("wordlists/xx/badwords.txt line 4: bad regex 'ba(r'")
    assert "missing )" in message


def test_empty_matching_regex_is_refused(tmp_path: Path) -> None:
    root = write_language(tmp_path, informals="lol\nx*\n")
    with pytest.raises(WordListError, match=r"informals.txt line 2: 'x\*' matches the empty"):
        load_wordlists("xx", root)


def test_missing_file_is_named(tmp_path: Path) -> None:
    root = write_language(tmp_path)
    (root / "xx" / "stopwords.txt").unlink()
    with pytest.raises(WordListError, match=r"wordlists/xx/stopwords.txt is missing"):
        load_wordlists("xx", root)
    assert available_languages(root) == ("xx",)


def test_comments_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    root = write_language(tmp_path, stopwords="# stop words\n\nThe\n  of  \n")
    assert load_wordlists("xx", root).stopwords == frozenset({"the", "of"})


def test_prop_delta_as_revscoring_defines_it() -> None:
    # old: a 3, b 2, c 45, e 2; new: a 1, b 5, d 3, e 3 (revscoring's own test case).
    change = FrequencyDelta(
        delta={"a": -2, "b": 3, "c": -45, "d": 3, "e": 1}, old={"a": 3, "b": 2, "c": 45, "e": 2}
    )
    prop = change.prop_delta
    assert prop["a"] == pytest.approx(-2 / 3)  # a decrease: delta / old
    assert prop["b"] == pytest.approx(1.0)  # an increase: delta / (old + 1) = 3 / 3
    assert prop["c"] == pytest.approx(-1.0)
    assert prop["d"] == pytest.approx(3.0)  # new: 3 / (0 + 1)
    assert prop["e"] == pytest.approx(1 / 3)
    total, up, down, prop_total, prop_up, prop_down = change.sums()
    assert (total, up, down) == (-40, 7, -47)
    assert prop_total == pytest.approx(-2 / 3 + 1 - 1 + 3 + 1 / 3)
    assert prop_up == pytest.approx(1 + 3 + 1 / 3)
    assert prop_down == pytest.approx(-2 / 3 - 1)


def test_regex_delta_counts_the_whole_parent() -> None:
    badwords = regex_list("badwords", r"\w*bad\w*" + "\nbutts\n", "test")
    parent = "This is bad.\nNothing here.\nbutts already.\n" + "filler line\n" * 50
    text = "This is bad superbadword.\nNothing here.\nalready.\n" + "filler line\n" * 50
    diff = diff_tokens(parent, text)
    change = badwords.delta(parent, text, diff)
    # bad 1 -> 1 (unchanged), superbadword 0 -> 1, butts 1 -> 0.
    assert dict(change.delta) == {"superbadword": 1, "butts": -1}
    assert change.prop_delta == {"superbadword": 1.0, "butts": -1.0}


def test_regex_delta_finds_old_counts_outside_the_change() -> None:
    informals = load_wordlists("en").informals
    parent = "lol first.\n" + "Filler text.\n" * 30 + "End.\n"
    text = "lol first.\n" + "Filler text.\n" * 30 + "End lol.\n"
    change = informals.delta(parent, text, diff_tokens(parent, text))
    # "lol" was in the parent once, far from the change: 1 / (1 + 1).
    assert dict(change.delta) == {"lol": 1}
    assert change.prop_delta == {"lol": 0.5}


def test_non_stopword_delta() -> None:
    # revscoring's stop-word test case; its stop words {my, is, the, of, and} are ours too.
    lists = load_wordlists("en")
    parent = "My hat is the king of France."
    text = "My waffle is the king of Normandy and the king of York."
    change = lists.non_stopword_delta(parent, diff_tokens(parent, text))
    assert dict(change.delta) == {
        "hat": -1,
        "waffle": 1,
        "king": 1,
        "normandy": 1,
        "york": 1,
        "france": -1,
    }
    # hat -1/1, waffle 1/1, king 1/(1+1), normandy 1, york 1, france -1/1.
    assert change.sums()[3] == pytest.approx(1.5)


def test_template_lists() -> None:
    templates = load_templates("en")
    assert templates.citations.fullmatch("cite web")
    assert templates.infoboxes.fullmatch("infobox person")
    assert templates.maintenance.fullmatch("citation needed")
    assert templates.stubs.fullmatch("loom-stub")
    assert templates.reflists.fullmatch("reflist")
    assert not templates.maintenance.fullmatch("infobox person")


def test_template_names() -> None:
    assert template_name("Citation_needed") == "citation needed"
    assert template_name("  Template:Cite   web\n") == "cite web"
    assert template_name("subst:cn") == "cn"
    assert template_name("#if:x") is None  # a parser function
    assert template_name("DEFAULTSORT:Loom") is None  # a magic word
    assert template_name("") is None
