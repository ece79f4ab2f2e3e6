"""Where two texts differ: cut-bounded hunks, what changed in each, and windows inside them.

The common prefix and suffix are found on characters (a binary search over slice
comparisons, at memory speed); a window longer than `LINE_DIFF_ABOVE` characters is split
further into hunks by a diff of its raw lines. Each place is widened to *cuts* (line starts
no token can span, see `is_cut`), so that its tokens are exactly those a tokenization of the
whole text has there.

Inside a hunk, `changed_core` trims the characters both sides share at its ends, and
`token_window` widens that core, when it holds no newline, only to the nearest places
after and before a space where no token can span either: a word changed in a long
paragraph is then tokenized as the few tokens around it, not the whole paragraph.
"""

from __future__ import annotations

from difflib import SequenceMatcher

#: Windows longer than this many characters are split into hunks by a diff of raw lines.
LINE_DIFF_ABOVE = 2_000

Span = tuple[int, int]
Hunk = tuple[int, int, int, int]  # parent start, parent end, revision start, revision end


def common_prefix_length(a: str, b: str) -> int:
    """The number of leading characters two strings share."""
    low, high = 0, min(len(a), len(b))
    while low < high:  # invariant: a[:low] == b[:low]
        middle = (low + high + 1) // 2
        if b.startswith(a[low:middle], low):  # one slice copied, not two
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix_length(a: str, b: str, limit: int) -> int:
    """The number of trailing characters two strings share, at most `limit`."""
    low, high = 0, min(len(a), len(b), limit)
    while low < high:  # invariant: the last `low` characters agree
        middle = (low + high + 1) // 2
        if b.endswith(a[len(a) - middle : len(a) - low], 0, len(b) - low):
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


def changed_core(a: str, b: str, hunk: Hunk) -> Hunk:
    """The characters of a hunk that differ: the hunk less the prefix and suffix both share."""
    a1, a2, b1, b2 = hunk
    old, new = a[a1:a2], b[b1:b2]
    prefix = common_prefix_length(old, new)
    suffix = common_suffix_length(old, new, min(len(old), len(new)) - prefix)
    return (a1 + prefix, a2 - suffix, b1 + prefix, b2 - suffix)


def token_window(a: str, b: str, hunk: Hunk, core: Hunk) -> Hunk:
    """The part of a hunk around its `core` that tokenizes as the whole texts do there.

    When the core holds no newline, the window starts on its line just after a space or
    tab, at a character that is no whitespace, with no tag open; it ends just before a
    space, tab or newline that follows a character that is no whitespace, with no tag open
    on either side. No token spans such a place, and tokens never look behind, so the
    tokens of the window are those of the whole text there. Otherwise (or when no such
    place is found) the window is the hunk.
    """
    a1, a2, b1, b2 = hunk
    c1, c2, d1, d2 = core
    if "\n" in a[c1:c2] or "\n" in b[d1:d2]:
        return hunk
    line = max(a1, a.rfind("\n", a1, c1) + 1)
    if not (is_cut(a, line) and is_cut(b, line - a1 + b1)):
        return hunk
    start = _start_after_space(a, b, line, c1, b1 - a1)
    end = _end_before_space(a, b, start, c2, start - a1 + b1, b2 - a2)
    if end is None:
        return hunk
    return (start, end, start - a1 + b1, end + b2 - a2)


def _start_after_space(a: str, b: str, line: int, position: int, offset: int) -> int:
    """The last place at or before `position` (from the line start `line`, a cut) where a
    token starts after a space or tab in both texts (`b` is `a` moved by `offset` there)."""
    while True:
        space = max(a.rfind(" ", line, position), a.rfind("\t", line, position))
        if space < 0:
            return line
        start = space + 1
        if (
            not a[start : start + 1].isspace()
            and not b[start + offset : start + offset + 1].isspace()
            and a.rfind("<", line, start) <= a.rfind(">", line, start)
        ):
            return start
        position = space


def _end_before_space(
    a: str, b: str, start: int, position: int, b_start: int, offset: int
) -> int | None:
    """The first place at or after `position` on its line where a token of both texts ends
    before whitespace (`b` is `a` moved by `offset` from `position` on), or None."""
    newline = a.find("\n", position)
    line_end = len(a) if newline < 0 else newline
    while position <= line_end:
        spaces = (a.find(" ", position, line_end), a.find("\t", position, line_end))
        end = min([line_end, *(found for found in spaces if found >= 0)])
        if end == len(a) or (
            end > start
            and not a[end - 1].isspace()
            and not b[end + offset - 1].isspace()
            and a.rfind("<", start, end) <= a.rfind(">", start, end)
            and b.rfind("<", b_start, end + offset) <= b.rfind(">", b_start, end + offset)
        ):
            return end
        position = end + 1
    return None
