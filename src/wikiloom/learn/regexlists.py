"""Lists of regular expressions whose matches are counted, and how an edit changed the counts.

A list file holds one regular expression per line (blank lines and lines starting with `#`
skipped); `regex_list` compiles them, matched case-insensitively between word boundaries,
into one pattern. `RegexList.delta` measures an edit as revscoring does (a frequency table
of the lower-cased matches of the parent and of the revision, `FrequencyDelta`), scanning
only where the edit changed the text and, for the parent's counts of the matches that
changed, the lines of the rest where such a match occurs. That is exact because each
pattern is checked, cautiously, for what its matches can hold: no newline (`within_lines`),
and which punctuation (`barriers`: the characters no match holds).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from wikiloom.learn.diffs import TokenDiff
from wikiloom.learn.hunks import Hunk, Span
from wikiloom.learn.patterns import (
    CASE_VARIANTS,
    barriers,
    first_letter,
    starts_with_word,
    within_lines,
)
from wikiloom.learn.wordcounts import lower_case, ranges_outside

#: How far from a change the nearest barrier is looked for.
BARRIER_REACH = 256


class WordListError(ValueError):
    """A word list that cannot be used: a bad regular expression, named by file and line."""


@dataclass(frozen=True)
class FrequencyDelta:
    """How the counts of items changed from the parent to the revision (only changed items)."""

    delta: Mapping[str, int]
    old: Mapping[str, int]

    @property
    def prop_delta(self) -> dict[str, float]:
        """Each item's delta relative to its count in the parent (revscoring's prop_delta)."""
        return {
            item: change / (self.old.get(item, 0) + 1) if change > 0 else change / self.old[item]
            for item, change in self.delta.items()
        }

    def sums(self) -> tuple[float, float, float, float, float, float]:
        """Sum, increase and decrease of the delta, then the same of the proportional delta."""
        deltas = self.delta.values()
        props = self.prop_delta.values()
        return (  # fsum: exact, so the same whatever order the items come in
            float(sum(deltas)),
            float(sum(value for value in deltas if value > 0)),
            float(sum(value for value in deltas if value < 0)),
            math.fsum(props),
            math.fsum(value for value in props if value > 0),
            math.fsum(value for value in props if value < 0),
        )


def changes(old: Counter[str], new: Counter[str]) -> dict[str, int]:
    """The items whose counts differ, with new minus old."""
    return {
        item: new[item] - old[item] for item in old.keys() | new.keys() if new[item] != old[item]
    }


@dataclass(frozen=True)
class RegexList:
    """Regular expressions whose matches are counted, e.g. a language's bad words.

    `within_lines` tells that no match can hold a newline or look past one (`within_lines`
    checks each pattern), so that a text's lines can be scanned one by one; `barriers` are
    the characters no match can hold or look past either (`barriers`), where a scan of a
    line can start or stop.
    """

    name: str
    patterns: tuple[str, ...]
    regex: re.Pattern[str]
    within_lines: bool = False
    barriers: str = ""
    #: `regex` after a non-word character it takes in too (so the engine skips in C to
    #: where a match can start); only when every match starts with a word character.
    after_non_word: re.Pattern[str] | None = None

    def matches(self, text: str) -> list[str]:
        """The lower-cased matches in a text, in order (those `regex.finditer` finds).

        With `after_non_word`, a match at the start is looked for with `regex`, and each
        next one from the last character of the one before: a match starts where a word
        character follows a non-word character, which `after_non_word` then takes in.
        """
        if self.after_non_word is None:
            return [match.group().lower() for match in self.regex.finditer(text)]
        found = []
        first = self.regex.match(text)
        if first:
            found.append(first.group().lower())
        search = self.after_non_word.search
        match = search(text, first.end() - 1 if first else 0)
        while match:
            found.append(match.group()[1:].lower())
            match = search(text, match.end() - 1)
        return found

    def delta(self, parent_text: str, text: str, diff: TokenDiff) -> FrequencyDelta:
        """How the edit changed the counts of matches (from the diff's changed places)."""
        windows = self.windows(parent_text, text, diff)
        old = Counter(m for a1, a2, _, _ in windows for m in self.matches(parent_text[a1:a2]))
        new = Counter(m for _, _, b1, b2 in windows for m in self.matches(text[b1:b2]))
        delta = changes(old, new)
        if delta:
            skip = [(a1, a2) for a1, a2, _, _ in windows]
            old.update(self.outside(parent_text, skip, delta.keys()))
        return FrequencyDelta(delta, old)

    def windows(self, parent_text: str, text: str, diff: TokenDiff) -> list[Hunk]:
        """The places to scan for what the edit changed: each hunk, or with `barriers`, the
        part of it between the last barrier before its change and the first after it.

        No match holds a barrier or looks past one, so the matches of a hunk outside its
        window are the same on both sides, and those inside are found in the window alone.
        """
        hunks = [
            (a1, a2, b1, b2)
            for (a1, a2), (b1, b2) in zip(diff.parent_spans, diff.spans, strict=True)
        ]
        if not self.barriers:
            return hunks
        last, first = _barrier_res(self.barriers)
        windows = []
        for (a1, a2, b1, b2), (c1, c2, _, _) in zip(hunks, diff.changes, strict=True):
            low = max(a1, c1 - BARRIER_REACH)
            before = last.match(parent_text, low, c1)
            start = before.end() if before else a1
            after = first.search(parent_text, c2, min(a2, c2 + BARRIER_REACH))
            end = after.start() if after else a2
            windows.append((start, end, start - a1 + b1, end - a2 + b2))
        return windows

    def outside(self, text: str, skip: Sequence[Span], items: Collection[str]) -> Counter[str]:
        """Count the matches in `text` outside the spans `skip` that are `items`.

        The spans are in order, each cut-bounded or (with `barriers`) between barriers, so
        that no match spans their ends. When no match can hold a newline, only the lines
        where an item occurs (in the text's lower case) are scanned, each within its piece;
        otherwise, each piece around the spans.
        """
        ranges = ranges_outside(len(text), skip)
        case = lower_case(text) if self.within_lines else None
        if case is not None and not any(case.unsure(item) for item in items):
            ranges = sorted(_lines_holding(case.lowered, items, ranges))
        found: Counter[str] = Counter()
        for start, end in ranges:
            found.update(match for match in self.matches(text[start:end]) if match in items)
        return found


def _lines_holding(lowered: str, items: Collection[str], ranges: Sequence[Span]) -> set[Span]:
    """The (start, end) of the lines of `lowered` in `ranges` where one of `items` occurs."""
    lines = set()
    for item in items:
        for start, end in ranges:
            position = lowered.find(item, start, end)
            while position >= 0:
                line_start = max(start, lowered.rfind("\n", start, position) + 1)
                newline = lowered.find("\n", position + len(item), end)
                line_end = end if newline < 0 else newline + 1
                lines.add((line_start, line_end))
                position = lowered.find(item, line_end, end)
    return lines


def entries(text: str) -> list[tuple[int, str]]:
    """The (line number, content) of the lines of a list file that are not blank or comments."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            found.append((number, line))
    return found


def patterns_of(text: str, source: str) -> tuple[str, ...]:
    """The regular expressions of a list file, each checked; `source` names it in errors."""
    patterns = []
    for number, pattern in entries(text):
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as error:
            raise WordListError(f"{source} line {number}: bad regex {pattern!r}: {error}") from None
        if compiled.match(""):
            raise WordListError(f"{source} line {number}: {pattern!r} matches the empty string")
        patterns.append(pattern)
    return tuple(patterns)


@functools.lru_cache(maxsize=16)
def _barrier_res(barriers: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for the last barrier of a range (`match`) and the first (`search`)."""
    characters = "[" + "".join(re.escape(char) for char in barriers) + "]"
    return re.compile(f"(?s:.*){characters}"), re.compile(characters)


def regex_list(name: str, text: str, source: str) -> RegexList:
    """Compile a list file of regular expressions matched between word boundaries.

    For speed the patterns that start with a plain letter are grouped by that letter: an
    ASCII letter is matched first, as a case-sensitive class of what it matches without
    case (`CASE_VARIANTS`), and then the rest of each pattern of its group (the engine skips
    a group on its first character); another letter under a lookahead. The other patterns
    follow. Where two patterns match at one place, which one counts is not specified.
    """
    patterns = patterns_of(text, source)
    if not patterns:
        return RegexList(name, (), re.compile(r"(?!)"))
    groups: dict[str, list[str]] = {}
    others = []
    for pattern in patterns:
        letter = first_letter(pattern)
        if letter is None:
            others.append(f"(?:{pattern})")
        else:
            groups.setdefault(letter, []).append(pattern)
    grouped = "|".join(_letter_group(letter, members) for letter, members in groups.items())
    core = "|".join(([f"(?=\\w)(?:{grouped})"] if grouped else []) + others)
    regex = re.compile(rf"\b(?:{core})\b", re.IGNORECASE)
    after_non_word = None
    if all(starts_with_word(pattern) for pattern in patterns):
        after_non_word = re.compile(rf"(?-i:[^\w])(?=\w)(?:{core})\b", re.IGNORECASE)
    lines = all(within_lines(pattern) for pattern in patterns)
    return RegexList(
        name, patterns, regex, lines, barriers(patterns) if lines else "", after_non_word
    )


def _letter_group(letter: str, patterns: list[str]) -> str:
    """The patterns that start with `letter` (lower case), as one alternative."""
    if not ("a" <= letter <= "z"):
        return f"(?={letter})(?:{'|'.join(f'(?:{pattern})' for pattern in patterns)})"
    variants = letter + letter.upper() + CASE_VARIANTS.get(letter, "")
    rests = []
    for pattern in patterns:  # each less its first character: "f+u" is "f" and "f*u"
        rest = pattern[0] + "*" + pattern[2:] if pattern[1:2] == "+" else pattern[1:]
        rests.append(f"(?:{rest})")
    return f"(?-i:[{variants}])(?:{'|'.join(rests)})"
