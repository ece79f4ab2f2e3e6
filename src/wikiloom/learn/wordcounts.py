"""Counts of the word tokens of a text, found where the words occur rather than by tokenizing.

`word_frequencies(text, words, skip)` counts the word tokens of `text` (outside the spans
`skip`) whose lower case is one of `words`, exactly as a full tokenization counts them. A
few words are looked for in the text's lower case (`lower_case`), each place where one
occurs unglued to letters is checked (`_word_at`); when that would cost more than scanning
every word of the text (`WORD_SCAN_RE`), every word is counted instead.

A text's lower case is kept (by the identity of the text object, in a small LRU cache) so
that the word lists, the stop words and the structure counts of one edit share it. So are
the counts of all the words of a whole text, once a scan has counted them (`WholeCounts`),
and for the revision of that edit how to get its own from them: the next edit of a page
history, whose parent's text is that revision's text object, then needs no scan at all.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from cachetools import LRUCache, cached

from wikiloom.learn.hunks import Span, cut_after, cut_before, is_cut
from wikiloom.learn.tokens import CJK, WORD_SCAN_RE

#: What counting every word costs, per character, against one `str.find` over it.
SCAN_COST = 60
#: What checking one place where a word occurs costs, in the same unit.
PLACE_COST = 5_000
#: Words this short are looked for with a regular expression that skips glued places in C.
SHORT_WORD = 3
CJK_RE = re.compile(f"[{CJK}]")
SPACE_RE = re.compile(r"\s")
DOTTED_I = "\u0130"  # İ: its lower case is two characters, i and a combining dot
COMBINING_DOT = "\u0307"
CAPITAL_SIGMA = "\u03a3"  # Σ: its lower case is σ, or ς at the end of a word
SIGMAS = ("\u03c3", "\u03c2")


@dataclass(frozen=True)
class LowerCase:
    """A text and its lower case, one character for each of the text's.

    `lowered` is `text.lower()`, except that an `İ` (whose lower case is two characters)
    becomes a NUL, so that positions agree. `dotted` tells whether the text has an `İ`,
    `sigma` whether it has a `Σ`, whose lower case depends on the letters around it: a word
    with a dot above or a sigma may then lower-case otherwise alone than in `lowered`.
    """

    text: str
    lowered: str
    dotted: bool
    sigma: bool

    def unsure(self, item: str) -> bool:
        """Whether `item` (lower-cased) may occur in the text where `lowered` does not show it."""
        return (self.dotted and COMBINING_DOT in item) or (
            self.sigma and any(sigma in item for sigma in SIGMAS)
        )


@dataclass
class WholeCounts:
    """The counts of the (lower-cased) word tokens of a whole text, or how to get them.

    Without `counts`, they are `parent`'s less the words `removed` plus those `added`: the
    lower-cased words of an edit's token windows (outside them the two texts agree).
    """

    text: str
    counts: dict[str, int] | None = None
    parent: WholeCounts | None = None
    removed: Sequence[str] = ()
    added: Sequence[str] = ()

    def get(self) -> dict[str, int]:
        """The counts (made from the parent's the first time)."""
        if self.counts is None:
            if self.parent is None:
                raise ValueError("no counts and no parent")
            counts = dict(self.parent.get())
            for word in self.removed:
                if counts[word] == 1:
                    del counts[word]
                else:
                    counts[word] -= 1
            for word in self.added:
                counts[word] = counts.get(word, 0) + 1
            self.counts, self.parent, self.removed, self.added = counts, None, (), ()
        return self.counts


#: The lower cases and the whole word counts of the texts seen last, by the identity of
#: the text object (each entry holds its text, so no other object can take its id).
LOWER_CASES: LRUCache[int, LowerCase] = LRUCache(maxsize=8)
LOWER_CASES_LOCK = threading.Lock()
WHOLE_COUNTS: LRUCache[int, WholeCounts] = LRUCache(maxsize=8)
WHOLE_COUNTS_LOCK = threading.Lock()


def clear_caches() -> None:
    """Forget what is kept per text object (for measurements that must not reuse it)."""
    with LOWER_CASES_LOCK:
        LOWER_CASES.clear()
    with WHOLE_COUNTS_LOCK:
        WHOLE_COUNTS.clear()


def whole_counts(text: str) -> dict[str, int] | None:
    """The counts of the (lower-cased) word tokens of a whole text, when they are kept
    (not to be changed: they are the cache's)."""
    with WHOLE_COUNTS_LOCK:
        entry = WHOLE_COUNTS.get(id(text))
    return entry.get() if entry is not None and entry.text is text else None


def remember_edit(
    parent_text: str, text: str, removed: Sequence[str], added: Sequence[str]
) -> None:
    """Keep how to count the words of `text`: those of `parent_text` (when kept) less the
    lower-cased words `removed` from its token windows plus those `added` in `text`'s."""
    with WHOLE_COUNTS_LOCK:
        parent = WHOLE_COUNTS.get(id(parent_text))
    if parent is None or parent.text is not parent_text or text is parent_text:
        return
    parent.get()  # so that no chain of edits waits on another
    with WHOLE_COUNTS_LOCK:
        WHOLE_COUNTS[id(text)] = WholeCounts(text, None, parent, removed, added)


@cached(cache=LOWER_CASES, key=id, lock=LOWER_CASES_LOCK)
def lower_case(text: str) -> LowerCase:
    """The lower case of a text (kept for the few texts seen last: the entry holds the text,
    so no other object can take its id meanwhile)."""
    lowered = text.lower()
    dotted = len(lowered) != len(text)
    if dotted:
        lowered = text.replace(DOTTED_I, "\0").lower()
    return LowerCase(text, lowered, dotted, CAPITAL_SIGMA in text)


def ranges_outside(length: int, skip: Sequence[Span]) -> list[Span]:
    """The non-empty (start, end) ranges of `range(length)` around the spans `skip` (in order)."""
    ranges = []
    position = 0
    for start, end in skip:
        if start > position:
            ranges.append((position, start))
        position = max(position, end)
    if position < length:
        ranges.append((position, length))
    return ranges


def word_frequencies(
    text: str,
    words: Collection[str],
    skip: Sequence[Span] = (),
    inside: Sequence[str] | None = None,
) -> Counter[str]:
    """Count the word tokens of `text` outside `skip` whose lower case is one of `words`.

    The spans `skip` must be in order and start and end where tokens do (a diff's hunks or
    token windows). The count is the one a full tokenization gives. With `inside`, the
    lower-cased word tokens in `skip`, the whole text's counts are used when they are kept
    (`whole_counts`), and kept when every word is counted.
    """
    ranges = ranges_outside(len(text), skip)
    if not words or not ranges:
        return Counter()
    if inside is not None and (whole := whole_counts(text)) is not None:
        within = Counter(inside)
        return Counter(
            {word: count for word in words if (count := whole.get(word, 0) - within[word])}
        )
    size = sum(end - start for start, end in ranges)
    budget = SCAN_COST * size
    cost = len(words) * size
    if cost > budget:
        return _count_all(text, words, ranges, inside)
    case = lower_case(text)
    found: Counter[str] = Counter()
    regions: dict[Span, set[Span]] = {}
    sigmas_made_one = ""
    for word in words:
        haystack, target, folded = case.lowered, word, case.unsure(word)
        if folded:  # σ and ς made one: each place found is then checked
            if case.dotted and COMBINING_DOT in word:
                return _count_all(text, words, ranges, inside)
            sigmas_made_one = sigmas_made_one or case.lowered.replace(SIGMAS[1], SIGMAS[0])
            haystack, target = sigmas_made_one, word.replace(SIGMAS[1], SIGMAS[0])
        for start, end in ranges:
            for position in _places(haystack, target, start, end):
                cost += PLACE_COST
                if cost > budget:
                    return _count_all(text, words, ranges, inside)
                stop = position + len(word)
                if _word_at(text, position, stop, regions) and (
                    not folded or text[position:stop].lower() == word
                ):
                    found[word] += 1
    return found


def _places(lowered: str, word: str, start: int, end: int) -> list[int]:
    """Where `word` occurs in `lowered[start:end]` not glued to letters (see `_bounded`)."""
    if len(word) <= SHORT_WORD:
        return [match.start() for match in _short_word_re(word).finditer(lowered, start, end)]
    places = []
    position = lowered.find(word, start, end)
    while position >= 0:
        stop = position + len(word)
        if _bounded(lowered, position, stop):
            places.append(position)
        position = lowered.find(word, stop, end)
    return places


@functools.lru_cache(maxsize=4096)
def _short_word_re(word: str) -> re.Pattern[str]:
    """Find `word` in a lower case where no small ASCII letter or underscore precedes it and
    no word character follows: places no word token can start or end at (as `_bounded`)."""
    escaped = re.escape(word)
    return re.compile(rf"{escaped}(?<![a-z_]{escaped})(?!\w)")


def _count_all(
    text: str, words: Collection[str], ranges: Sequence[Span], inside: Sequence[str] | None
) -> Counter[str]:
    """Count the chosen words among all the word tokens of `text` in `ranges` (in C, mostly);
    with `inside` (the words of the rest), keep the whole text's counts."""
    raw: Counter[str] = Counter()
    for start, end in ranges:
        raw.update(WORD_SCAN_RE.findall(text, start, end))
    raw.pop("", None)
    every: dict[str, int] = {}
    for word, count in raw.items():
        lowered = word.lower()
        every[lowered] = every.get(lowered, 0) + count
    found = Counter({word: every[word] for word in words if word in every})
    if inside is not None:
        whole = Counter(every)
        whole.update(inside)
        with WHOLE_COUNTS_LOCK:
            WHOLE_COUNTS[id(text)] = WholeCounts(text, dict(whole))
    return found


def _word_at(text: str, start: int, end: int, regions: dict[Span, set[Span]]) -> bool:
    """Whether a word token of `text` spans exactly `text[start:end]`.

    Where the line is a cut and no tag is open before the place, the token boundary after
    the last space before it is a safe place to scan from, up to the next whitespace;
    otherwise the cut-bounded lines around it are scanned (once, kept in `regions`).
    """
    line = text.rfind("\n", 0, start) + 1
    restart = max(line, text.rfind(" ", line, start) + 1, text.rfind("\t", line, start) + 1)
    if (
        is_cut(text, line)
        and text.rfind("<", line, start) <= text.rfind(">", line, start)
        and SPACE_RE.search(text, restart, start) is None
    ):
        space = SPACE_RE.search(text, end)
        stop = len(text) if space is None else space.start()
        for match in WORD_SCAN_RE.finditer(text, restart, stop):
            if match.start() >= end:
                break
            if match.start(1) == start:
                return match.end(1) == end
        return False
    region = (cut_before(text, text, start), cut_after(text, text, end))
    if region not in regions:
        regions[region] = {
            match.span(1) for match in WORD_SCAN_RE.finditer(text, *region) if match.group(1)
        }
    return (start, end) in regions[region]


def _bounded(lowered: str, start: int, end: int) -> bool:
    """Whether `lowered[start:end]` could be a whole word token (no letter glued to it).

    A letter before it (other than a CJK character, a token of its own) or a letter, digit
    or underscore after it would belong to the same token.
    """
    before = lowered[start - 1] if start else " "
    after = lowered[end] if end < len(lowered) else " "
    glued_before = before == "_" or (before.isalpha() and not CJK_RE.match(before))
    return not (glued_before or after.isalnum() or after == "_")
