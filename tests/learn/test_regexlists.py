"""Regex lists: quick scans that find what a plain scan finds, and deltas of whole texts."""

from __future__ import annotations

import re
import string
import sys
from collections import Counter

import pytest
from hypothesis import given, settings

from tests.learn.strategies import edits_of, texts_of
from wikiloom.learn.diffs import diff_tokens
from wikiloom.learn.patterns import (
    CASE_VARIANTS,
    barriers,
    matchable,
    starts_with_word,
    within_lines,
)
from wikiloom.learn.regexlists import FrequencyDelta, RegexList, changes, regex_list
from wikiloom.learn.wordcounts import ranges_outside
from wikiloom.learn.wordlists import load_wordlists

ENGLISH = load_wordlists("en")
#: A list whose matches hold spaces and end with non-word characters ("lol!" then "lol"
#: can follow at once), and one with `\s` (a match could hold a newline: no line scans).
SPACED = regex_list("spaced", "bull ?shit\nlol!*\nlo+l\nyo\n(?:ha){2,}\nx\\.y\n", "spaced")
NEWLINES = regex_list("newlines", "foo\\s+bar\nlol\n", "newlines")
#: A list with a pattern that starts with a non-word character (no quick scan).
QUOTED = regex_list("quoted", "'tis\nlol\n", "quoted")
LISTS = [ENGLISH.badwords, ENGLISH.informals, SPACED, NEWLINES, QUOTED]

PIECES = [
    "shit",
    "Shit",
    "SHIT",
    "bull shit",
    "bullshit",
    "lol",
    "LoL",
    "lolol",
    "lol!",
    "!",
    "ha",
    "haha",
    "yo",
    "x.y",
    "'tis",
    "ain't",
    "y'all",
    "fuck",
    "dumbass",
    "ass",
    "ſhit",
    "\u212a",
    "İ",
    "foo",
    "bar",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    ".",
    ",",
    "(",
    ")",
    "'",
    "_",
    "5",
    "a",
    "é",
    "[[",
    "]]",
    "<ref>",
    "|",
    "=",
]
texts = texts_of(PIECES)
EDITS = edits_of(texts, PIECES)


def plain(rl: RegexList, text: str) -> list[str]:
    """The lower-cased matches of the list's combined pattern, by `finditer`."""
    return [match.group().lower() for match in rl.regex.finditer(text)]


def test_case_variants_are_those_of_re() -> None:
    everything = "".join(
        chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code < 0xE000
    )
    for letter in string.ascii_lowercase:
        found = set(re.findall(letter, everything, re.IGNORECASE))
        assert found == {letter, letter.upper(), *CASE_VARIANTS.get(letter, "")}, letter


def test_the_lists_take_the_quick_paths() -> None:
    for rl in (ENGLISH.badwords, ENGLISH.informals, SPACED):
        assert rl.after_non_word is not None
        assert rl.within_lines
        assert "," in rl.barriers
        assert "\n" in rl.barriers
    assert " " not in SPACED.barriers  # "bull shit"
    assert "'" not in ENGLISH.informals.barriers  # "ain't"
    assert not NEWLINES.within_lines
    assert NEWLINES.barriers == ""
    assert QUOTED.after_non_word is None


@pytest.mark.parametrize("rl", LISTS, ids=lambda rl: rl.name)
@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_matches_are_those_of_finditer(rl: RegexList, text: str) -> None:
    assert rl.matches(text) == plain(rl, text)


@pytest.mark.parametrize("rl", LISTS, ids=lambda rl: rl.name)
@settings(max_examples=300, deadline=None)
@given(edit=EDITS)
def test_delta_is_that_of_the_whole_texts(rl: RegexList, edit: tuple[str, str]) -> None:
    parent, text = edit
    diff = diff_tokens(parent, text)
    change = rl.delta(parent, text, diff)
    if rl.within_lines:  # no match holds a newline: as revscoring, over the whole texts
        old, new = Counter(plain(rl, parent)), Counter(plain(rl, text))
    else:  # as before the quick scans: the hunks, and the pieces around them
        old = Counter(m for a1, a2 in diff.parent_spans for m in plain(rl, parent[a1:a2]))
        new = Counter(m for b1, b2 in diff.spans for m in plain(rl, text[b1:b2]))
        for start, end in ranges_outside(len(parent), diff.parent_spans):
            old.update(plain(rl, parent[start:end]))
            new.update(plain(rl, parent[start:end]))
    expected = changes(old, new)
    assert dict(change.delta) == expected
    assert {item: change.old.get(item, 0) for item in expected} == {
        item: old[item] for item in expected
    }
    assert change.sums() == FrequencyDelta(expected, old).sums()


def test_within_lines() -> None:
    assert within_lines(r"bull ?shit\w*")
    assert within_lines("ain't")
    assert within_lines("[]a]")
    assert within_lines("a.b")  # no DOTALL: "." matches no newline
    for pattern in (r"a\sb", "[^a]", "a$", "^a", "(?s).", r"[\b-z]", r"a\nb", r"\x41", "x(?i)y"):
        assert not within_lines(pattern), pattern


def test_barriers() -> None:
    assert matchable("[a-z]+") == frozenset()
    assert matchable(r"a\.b") == {"."}
    assert matchable("[!-/]") == set("!\"#$%&'()*+,-./")
    assert matchable(r"x{2,3}") == frozenset()  # a quantifier, not braces
    assert matchable("x{") == {"{"}
    assert matchable("(?P<name>a)(?<=a)(?!b)") == frozenset()
    for pattern in ("a.b", "[^a]", r"\W", "(?P=name)", r"[\.-z]"):
        assert matchable(pattern) is None, pattern
    assert barriers(["bull ?shit", "lol"]) == "".join(sorted(set(barriers(["x"])) - {" "}))
    assert barriers(["a.b"]) == ""


def test_hand_worked_scans() -> None:
    # "lol!" then "lol" at once: the next match starts on the last character of the one before.
    assert SPACED.matches(" lol!lol lol!!lol,lol") == ["lol!", "lol", "lol!!", "lol", "lol"]
    assert SPACED.matches("lol!lol") == ["lol!", "lol"]
    assert SPACED.matches("bull shit, bullshit") == ["bull shit", "bullshit"]
    # \b before "'" needs a word character: after "x" (where no quick scan would look) only.
    assert QUOTED.matches("x'tis 'tis") == ["'tis"]
    # The window is the part between commas (barriers); the parent's other "lol"s, before
    # and after it on the line, are found in their own pieces of the line.
    parent, text = "lol, lol a, lol\nlol", "lol, lol b lol, lol\nlol"
    change = SPACED.delta(parent, text, diff_tokens(parent, text))
    assert dict(change.delta) == {"lol": 1}
    assert change.old["lol"] == 4


def test_starts_with_word() -> None:
    for pattern in ("abc", "(?:ha){2,}h?", r"\w+", "(?:a|b)c", "a|b", "5a", "_a"):
        assert starts_with_word(pattern), pattern
    for pattern in ("(?:ha)?x", "'tis", "(?:a|'b)", "a|", "(?=x)a", "x?y", "(ab)*c"):
        assert not starts_with_word(pattern), pattern
