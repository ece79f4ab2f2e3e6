"""The token diff of an edit: the tokens and runs of tokens it added and removed.

Only the places where the two texts differ are tokenized. The common prefix and suffix are
found on characters (a binary search over slice comparisons, at memory speed); a window
longer than `LINE_DIFF_ABOVE` characters is split further into hunks by a diff of its raw
lines. Each place is widened to *cuts* (line starts no token can span, see `is_cut`), so
that its tokens are exactly those a tokenization of the whole text has there. Then:

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

from wikiloom.learn.tokens import Token, tokenize

#: Above this many token pairs (len(a) * len(b)) a replaced block is diffed with autojunk.
JUNK_ABOVE = 250_000
#: A line needs this many word or number tokens to count as moved rather than replaced.
MOVED_LINE_WORDS = 3
#: Windows longer than this many characters are split into hunks by a diff of raw lines.
LINE_DIFF_ABOVE = 2_000

Span = tuple[int, int]
Hunk = tuple[int, int, int, int]  # parent start, parent end, revision start, revision end


@dataclass(frozen=True)
class TokenDiff:
    """What an edit changed, in tokens.

    `parent_spans` and `spans` are the (start, end) character ranges of the parent and of
    the revision that were tokenized (cut-bounded, in order, one pair per changed place);
    outside them the two texts are the same. `parent_tokens` and `tokens` are the tokens of
    those ranges; `removed` and `added` the tokens the edit removed and added, in text
    order; `removed_segments` and `added_segments` the runs of consecutive removed or added
    tokens, each joined into a string.
    """

    parent_spans: tuple[Span, ...]
    spans: tuple[Span, ...]
    parent_tokens: list[Token]
    tokens: list[Token]
    removed: list[Token]
    added: list[Token]
    removed_segments: list[str]
    added_segments: list[str]


def common_prefix_length(a: str, b: str) -> int:
    """The number of leading characters two strings share."""
    low, high = 0, min(len(a), len(b))
    while low < high:  # invariant: a[:low] == b[:low]
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix_length(a: str, b: str, limit: int) -> int:
    """The number of trailing characters two strings share, at most `limit`."""
    low, high = 0, min(len(a), len(b), limit)
    while low < high:  # invariant: the last `low` characters agree
        middle = (low + high + 1) // 2
        if a[len(a) - middle : len(a) - low] == b[len(b) - middle : len(b) - low]:
            low = middle
        else:
            high = middle - 1
    return low


def is_cut(text: str, position: int) -> bool:
    """Whether no token spans `position`, whatever the text after it.

    The ends of a text are cuts; inside, a cut follows a newline, precedes a character that
    is not whitespace (so no whitespace or break token runs over it) and is not inside a
    tag that could still close after it (tags may span lines).
    """
    if position <= 0 or position >= len(text):
        return True
    if text[position - 1] != "\n" or text[position].isspace():
        return False
    opening = text.rfind("<", 0, position)
    if opening < 0 or text.rfind(">", opening, position) >= 0:
        return True
    after = text[opening + 1 : opening + 3]
    if not (after[:1].isalpha() or (after[:1] == "/" and after[1:2].isalpha())):
        return True  # that "<" opens no tag
    closing = text.find(">", position)
    return closing < 0 or text.find("<", position, closing) >= 0


def cut_before(b: str, a: str, position: int, offset: int = 0, lowest: int = 0) -> int:
    """The last line start at or before `position` that cuts `b`, and `a` `offset` further on.

    The search stops at `lowest`, which it returns when it finds no cut above it.
    """
    if position > 0 and b[position - 1] != "\n":
        position = b.rfind("\n", 0, position) + 1
    cut = position
    while cut > lowest:
        if is_cut(b, cut) and is_cut(a, cut + offset):
            return cut
        cut = b.rfind("\n", 0, cut - 1) + 1
    return lowest


def cut_after(b: str, a: str, position: int, offset: int = 0, highest: int | None = None) -> int:
    """The first line start at or after `position` that cuts `b`, and `a` `offset` further on.

    The search stops at `highest` (default: the end of `b`), which it returns when it finds
    no cut below it.
    """
    highest = len(b) if highest is None else highest
    cut = position
    if position > 0 and b[position - 1] != "\n":
        newline = b.find("\n", position)
        cut = highest if newline < 0 else newline + 1
    while cut < highest:
        if is_cut(b, cut) and is_cut(a, cut + offset):
            return cut
        newline = b.find("\n", cut)
        cut = highest if newline < 0 else newline + 1
    return highest


def hunks(parent_text: str, text: str) -> list[Hunk]:
    """The cut-bounded places where two texts differ, in order, as (a1, a2, b1, b2)."""
    a, b = parent_text, text
    prefix = common_prefix_length(a, b)
    if prefix == len(a) == len(b):
        return []
    start = cut_before(b, a, prefix)
    # The suffix may reach back to the window's start (not just to the prefix's end): an
    # inserted line that starts like the next line ("L" of "Looms", "L" of "Line") then
    # still ends the window at its own end.
    suffix = common_suffix_length(a, b, min(len(a), len(b)) - start)
    shift = len(a) - len(b)
    end = cut_after(b, a, len(b) - suffix, shift)
    if max(end - start, end + shift - start) <= LINE_DIFF_ABOVE:
        return [(start, end + shift, start, end)]
    a_lines = _raw_lines(a, start, end + shift)
    b_lines = _raw_lines(b, start, end)
    matcher = SequenceMatcher(
        None, [a[i:j] for i, j in a_lines], [b[i:j] for i, j in b_lines], autojunk=False
    )
    blocks = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        a1 = a_lines[i1][0] if i1 < len(a_lines) else end + shift
        b1 = b_lines[j1][0] if j1 < len(b_lines) else end
        a2 = a_lines[i2 - 1][1] if i2 > i1 else a1
        b2 = b_lines[j2 - 1][1] if j2 > j1 else b1
        blocks.append((a1, a2, b1, b2))
    found: list[Hunk] = []
    for number, (a1, a2, b1, b2) in enumerate(blocks):
        lowest = found[-1][3] if found else start
        b_start = cut_before(b, a, b1, a1 - b1, lowest)
        if found and b_start <= found[-1][3]:
            a_start, _, b_start, _ = found.pop()
        else:
            a_start = b_start + a1 - b1
        highest = blocks[number + 1][2] if number + 1 < len(blocks) else end
        b_end = cut_after(b, a, b2, a2 - b2, highest)
        found.append((a_start, b_end + a2 - b2, b_start, b_end))
    return found


def _raw_lines(text: str, start: int, end: int) -> list[Span]:
    """The (start, end) ranges of the lines of `text[start:end]`, each with all its newlines.

    Blank lines stay with the line before them, so that nearly every line is unique and
    the line diff finds long matches at once.
    """
    lines = []
    while start < end:
        newline = text.find("\n", start, end)
        stop = end if newline < 0 else newline + 1
        while stop < end and text[stop] == "\n":
            stop += 1
        lines.append((start, stop))
        start = stop
    return lines


def diff_tokens(parent_text: str, text: str) -> TokenDiff:
    """Diff two texts into added and removed tokens and segments, tokenizing only what changed."""
    places = hunks(parent_text, text)
    parts = [
        _Part(tokenize(parent_text[a1:a2]), tokenize(text[b1:b2])) for a1, a2, b1, b2 in places
    ]
    _pair_moves(parts)
    result = TokenDiff(
        parent_spans=tuple((a1, a2) for a1, a2, _, _ in places),
        spans=tuple((b1, b2) for _, _, b1, b2 in places),
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
        result.removed.extend(part.a[index] for index in removed_marks)
        result.added.extend(part.b[index] for index in added_marks)
        result.removed_segments.extend(_segments(part.a, removed_marks))
        result.added_segments.extend(_segments(part.b, added_marks))
    return result


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
        self.a_keys = ["".join(token[0] for token in a[i:j]) for i, j in self.a_lines]
        self.b_keys = ["".join(token[0] for token in b[i:j]) for i, j in self.b_lines]
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
    deleted: dict[str, list[tuple[_Part, int]]] = {}
    for part in parts:
        for a1, a2, _, _ in part.blocks:
            for n in range(a1, a2):
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
