"""The token diff of an edit: the tokens and runs of tokens it added and removed.

Only the places where the two texts differ are tokenized: the cut-bounded hunks of
`hunks.hunks`, or where a hunk's change holds no newline, the window around it of
`hunks.token_window` (the same tokens there as the whole line's, and the same diff; see
`_narrowed`). Then:

1. each hunk's common token prefix and suffix are trimmed to whole lines;
2. the rest is diffed line by line (`difflib.SequenceMatcher`; lines are nearly unique, so
   this is fast), and a line deleted in one place and inserted in another (with at least
   `MOVED_LINE_WORDS` words or numbers) counts as moved, neither added nor removed, as
   revscoring's `deltas.segment_matcher` treats moved paragraphs and sentences;
3. the lines of each replaced block are diffed token by token (`SequenceMatcher` with
   `autojunk=False`; above `JUNK_ABOVE` token pairs with autojunk, so that rewriting a long
   section stays cheap).

So an edit of a long article costs in proportion to the lines it touched. The tokens of the
parent's hunks minus `removed` plus `added` are the tokens of the revision's hunks, as
multisets; outside the hunks the two texts are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher

from wikiloom.learn.hunks import Hunk, Span, changed_core, hunks, token_window
from wikiloom.learn.tokens import Token, tokenize

#: Above this many token pairs (len(a) * len(b)) a replaced block is diffed with autojunk.
JUNK_ABOVE = 250_000
#: A line needs this many word or number tokens to count as moved rather than replaced.
MOVED_LINE_WORDS = 3


@dataclass(frozen=True)
class TokenDiff:
    """What an edit changed, in tokens.

    `parent_spans` and `spans` are the (start, end) character ranges of the parent and of
    the revision where they differ (cut-bounded hunks, in order, one pair per changed
    place); outside them the two texts are the same. `changes` are the characters of each
    hunk that differ (`changed_core`: the hunk less the prefix and suffix both sides
    share), as (parent start, parent end, revision start, revision end). `parent_token_spans`
    and `token_spans` are the ranges that were tokenized (each within its hunk, starting and
    ending where tokens do); `parent_tokens` and `tokens` their tokens. `removed` and
    `added` are the tokens the edit removed and added, in text order; `removed_segments`
    and `added_segments` the runs of consecutive removed or added tokens, each joined into
    a string.
    """

    parent_spans: tuple[Span, ...]
    spans: tuple[Span, ...]
    changes: tuple[Hunk, ...]
    parent_token_spans: tuple[Span, ...]
    token_spans: tuple[Span, ...]
    parent_tokens: list[Token]
    tokens: list[Token]
    removed: list[Token]
    added: list[Token]
    removed_segments: list[str]
    added_segments: list[str]


def diff_tokens(parent_text: str, text: str) -> TokenDiff:
    """Diff two texts into added and removed tokens and segments, tokenizing only what changed."""
    places = hunks(parent_text, text)
    changes = [changed_core(parent_text, text, place) for place in places]
    windows = _narrowed(parent_text, text, places, changes)
    parts = [
        _Part(tokenize(parent_text[a1:a2]), tokenize(text[b1:b2])) for a1, a2, b1, b2 in windows
    ]
    _pair_moves(parts)
    result = TokenDiff(
        parent_spans=tuple((a1, a2) for a1, a2, _, _ in places),
        spans=tuple((b1, b2) for _, _, b1, b2 in places),
        changes=tuple(changes),
        parent_token_spans=tuple((a1, a2) for a1, a2, _, _ in windows),
        token_spans=tuple((b1, b2) for _, _, b1, b2 in windows),
        parent_tokens=[],
        tokens=[],
        removed=[],
        added=[],
        removed_segments=[],
        added_segments=[],
    )
    for part in parts:
        removed_marks, added_marks = part.changed()
        result.parent_tokens.extend(part.a)
        result.tokens.extend(part.b)
        result.removed.extend([part.a[index] for index in removed_marks])
        result.added.extend([part.b[index] for index in added_marks])
        result.removed_segments.extend(_segments(part.a, removed_marks))
        result.added_segments.extend(_segments(part.b, added_marks))
    return result


def _narrowed(a: str, b: str, places: list[Hunk], changes: list[Hunk]) -> list[Hunk]:
    """The range of each hunk to tokenize: its `token_window`, where that diffs the same.

    A window whose change holds no newline lies in one line of each side, so its part has
    one line a side, as the hunk's part has (the whole lines), and after the common tokens
    are trimmed the same tokens are diffed. Only moves could differ: a line of the window
    (or the whole line) of one part equal to a line of another part. Each such line holds
    the window's text, so a window whose text occurs in another hunk of the other side is
    not used (with a single hunk there is no other).
    """
    windows = [token_window(a, b, *pair) for pair in zip(places, changes, strict=True)]
    if len(places) > 1:
        for number, (a1, a2, b1, b2) in enumerate(windows):
            if windows[number] == places[number]:
                continue
            removed, added = a[a1:a2], b[b1:b2]
            for other, (c1, c2, d1, d2) in enumerate(places):
                if other != number and (removed in b[d1:d2] or added in a[c1:c2]):
                    windows[number] = places[number]
                    break
    return windows


@dataclass
class _Part:
    """The tokens of one hunk of each text, split into lines and diffed line by line."""

    a: list[Token]
    b: list[Token]
    a_lines: list[Span] = field(default_factory=list)
    b_lines: list[Span] = field(default_factory=list)
    a_keys: list[str] = field(default_factory=list)
    b_keys: list[str] = field(default_factory=list)
    blocks: list[tuple[int, int, int, int]] = field(default_factory=list)
    moved_a: set[int] = field(default_factory=set)
    moved_b: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        a, b = self.a, self.b
        low, high_a, high_b = 0, len(a), len(b)
        while low < high_a and low < high_b and a[low] == b[low]:
            low += 1
        while high_a > low and high_b > low and a[high_a - 1] == b[high_b - 1]:
            high_a -= 1
            high_b -= 1
        if low == high_a and low == high_b:
            return
        # Whole lines on both sides, so that the lines of the middle line up for moves.
        while low > 0 and "\n" not in a[low - 1][0]:
            low -= 1
        while high_a < len(a) and "\n" not in a[high_a - 1][0]:
            high_a += 1
            high_b += 1
        self.a_lines = _lines(a, low, high_a)
        self.b_lines = _lines(b, low, high_b)
        self.a_keys = ["".join([token for token, _ in a[i:j]]) for i, j in self.a_lines]
        self.b_keys = ["".join([token for token, _ in b[i:j]]) for i, j in self.b_lines]
        if not self.a_keys or not self.b_keys:
            self.blocks = [(0, len(self.a_keys), 0, len(self.b_keys))]
            return
        matcher = SequenceMatcher(None, self.a_keys, self.b_keys, autojunk=False)
        self.blocks = [
            (i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
        ]

    def changed(self) -> tuple[list[int], list[int]]:
        """The indexes of the tokens of `a` removed and of `b` added, in order."""
        removed: list[int] = []
        added: list[int] = []
        for a1, a2, b1, b2 in self.blocks:
            a_index = [
                i for n in range(a1, a2) if n not in self.moved_a for i in range(*self.a_lines[n])
            ]
            b_index = [
                i for n in range(b1, b2) if n not in self.moved_b for i in range(*self.b_lines[n])
            ]
            if not a_index or not b_index:
                removed.extend(a_index)
                added.extend(b_index)
                continue
            a_texts = [self.a[i][0] for i in a_index]
            b_texts = [self.b[i][0] for i in b_index]
            low, high_a, high_b = 0, len(a_texts), len(b_texts)
            while low < high_a and low < high_b and a_texts[low] == b_texts[low]:
                low += 1
            while high_a > low and high_b > low and a_texts[high_a - 1] == b_texts[high_b - 1]:
                high_a -= 1
                high_b -= 1
            a_texts, b_texts = a_texts[low:high_a], b_texts[low:high_b]
            junk = len(a_texts) * len(b_texts) > JUNK_ABOVE
            tokens = SequenceMatcher(None, a_texts, b_texts, autojunk=junk)
            for tag, i1, i2, j1, j2 in tokens.get_opcodes():
                if tag != "equal":
                    removed.extend(a_index[low + i1 : low + i2])
                    added.extend(b_index[low + j1 : low + j2])
        removed.sort()
        added.sort()
        return removed, added


def _lines(tokens: list[Token], low: int, high: int) -> list[Span]:
    """Split `tokens[low:high]` into (start, end) runs, each ending after a newline."""
    lines = []
    start = low
    for index in range(low, high):
        if "\n" in tokens[index][0]:
            lines.append((start, index + 1))
            start = index + 1
    if start < high:
        lines.append((start, high))
    return lines


def _pair_moves(parts: list[_Part]) -> None:
    """Mark lines deleted in one place and inserted, the same, in another, as moved."""
    inserted = {
        part.b_keys[n] for part in parts for _, _, b1, b2 in part.blocks for n in range(b1, b2)
    }
    deleted: dict[str, list[tuple[_Part, int]]] = {}
    for part in parts:
        for a1, a2, _, _ in part.blocks:
            for n in range(a1, a2):
                if part.a_keys[n] not in inserted:
                    continue  # only the lines inserted somewhere can pair
                start, end = part.a_lines[n]
                words = sum(token[1] in ("word", "number") for token in part.a[start:end])
                if words >= MOVED_LINE_WORDS:
                    deleted.setdefault(part.a_keys[n], []).append((part, n))
    if not deleted:
        return
    for part in parts:
        for _, _, b1, b2 in part.blocks:
            for n in range(b1, b2):
                same = deleted.get(part.b_keys[n])
                if same:
                    origin, line = same.pop(0)
                    origin.moved_a.add(line)
                    part.moved_b.add(n)


def _segments(tokens: list[Token], marks: list[int]) -> list[str]:
    """Join the runs of consecutive marked tokens into strings."""
    if marks and marks[-1] - marks[0] + 1 == len(marks):  # one run (marks are increasing)
        return ["".join([token for token, _ in tokens[marks[0] : marks[-1] + 1]])]
    segments: list[str] = []
    run: list[str] = []
    previous = -2
    for index in marks:
        if index != previous + 1 and run:
            segments.append("".join(run))
            run = []
        run.append(tokens[index][0])
        previous = index
    if run:
        segments.append("".join(run))
    return segments


def outside(text: str, spans: tuple[Span, ...]) -> list[str]:
    """The pieces of `text` around `spans` (each cut-bounded, so each tokenizes on its own)."""
    pieces = []
    position = 0
    for start, end in spans:
        if start > position:
            pieces.append(text[position:start])
        position = end
    if position < len(text):
        pieces.append(text[position:])
    return pieces
