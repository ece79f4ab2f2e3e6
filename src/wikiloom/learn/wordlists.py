"""Word lists of a language: bad words, informal words (regexes), stop words, template kinds.

Each language is a folder of `wordlists/` (package data) named by its code (`en`) with files
a community edits: `badwords.txt` and `informals.txt` (one regular expression per line,
matched case-insensitively between word boundaries, like revscoring's `RegexMatches`),
`stopwords.txt` (one word per line), and for article quality `citations.txt`,
`infoboxes.txt`, `maintenance.txt`, `reflists.txt` and `stubs.txt` (one regular expression
per line, matched against whole template names). Blank lines and lines starting with `#`
are skipped. A bad regular expression fails the load, naming the file and the line.

Changes in a text are measured as revscoring measures them: a frequency table of the
(lower-cased) matches or words in the parent and in the revision, their `delta`, and the
proportional delta of each item, `delta / (old + 1)` for an increase and `delta / old` for
a decrease (`revscoring.datasources.meta.frequencies.prop_delta`). Only the places an
edit changed are scanned, and the parent's counts of the items that changed.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from wikiloom.learn.diffs import Span, TokenDiff, cut_after, cut_before, is_cut, outside
from wikiloom.learn.tokens import CJK, WORD_SCAN_RE

FILES = ("badwords.txt", "informals.txt", "stopwords.txt")
#: With more words or candidate places than this, `word_frequencies` scans the whole text.
SCAN_ALL_ABOVE = 300
CJK_RE = re.compile(f"[{CJK}]")
SPACE_RE = re.compile(r"\s")


class WordListError(ValueError):
    """A word list that cannot be used: a bad regular expression, named by file and line."""


class UnknownLanguage(LookupError):
    """No word lists exist for a language code."""


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


def _changes(old: Counter[str], new: Counter[str]) -> dict[str, int]:
    """The items whose counts differ, with new minus old."""
    return {
        item: new[item] - old[item] for item in old.keys() | new.keys() if new[item] != old[item]
    }


@dataclass(frozen=True)
class RegexList:
    """Regular expressions whose matches are counted, e.g. a language's bad words."""

    name: str
    patterns: tuple[str, ...]
    regex: re.Pattern[str]

    def matches(self, text: str) -> list[str]:
        """The lower-cased matches in a text, in order."""
        return [match.group().lower() for match in self.regex.finditer(text)]

    def delta(self, parent_text: str, text: str, diff: TokenDiff) -> FrequencyDelta:
        """How the edit changed the counts of matches (from the diff's changed places)."""
        old = Counter(m for a1, a2 in diff.parent_spans for m in self.matches(parent_text[a1:a2]))
        new = Counter(m for b1, b2 in diff.spans for m in self.matches(text[b1:b2]))
        delta = _changes(old, new)
        if delta:
            for piece in outside(parent_text, diff.parent_spans):
                lowered = piece.lower()
                if any(item in lowered for item in delta):
                    old.update(m for m in self.matches(piece) if m in delta)
        return FrequencyDelta(delta, old)


@dataclass(frozen=True)
class WordLists:
    """A language's bad words, informal words and stop words; `digest` fingerprints them."""

    language: str
    badwords: RegexList
    informals: RegexList
    stopwords: frozenset[str]
    digest: str

    def non_stopword_delta(self, parent_text: str, diff: TokenDiff) -> FrequencyDelta:
        """How the edit changed the counts of (lower-cased) words that are not stop words."""
        stop = self.stopwords
        old = Counter(
            word
            for text, kind in diff.parent_tokens
            if kind == "word"
            if (word := text.lower()) not in stop
        )
        new = Counter(
            word
            for text, kind in diff.tokens
            if kind == "word"
            if (word := text.lower()) not in stop
        )
        delta = _changes(old, new)
        if delta:
            for piece in outside(parent_text, diff.parent_spans):
                old.update(word_frequencies(piece, delta.keys()))
        return FrequencyDelta(delta, old)


def wordlists_root() -> Traversable:
    """The package's `wordlists` folder."""
    return resources.files("wikiloom.learn").joinpath("wordlists")


def available_languages(directory: Path | None = None) -> tuple[str, ...]:
    """The language codes that have word lists, sorted."""
    root: Traversable = directory if directory is not None else wordlists_root()
    if not root.is_dir():
        return ()
    return tuple(sorted(entry.name for entry in root.iterdir() if entry.is_dir()))


@functools.lru_cache(maxsize=32)
def load_wordlists(language: str, directory: Path | None = None) -> WordLists:
    """Load (once) the word lists of a language from the package or from `directory`."""
    texts = _read(language, directory, FILES)
    source = f"wordlists/{language}"
    return WordLists(
        language=language,
        badwords=regex_list("badwords", texts["badwords.txt"], f"{source}/badwords.txt"),
        informals=regex_list("informals", texts["informals.txt"], f"{source}/informals.txt"),
        stopwords=frozenset(line.lower() for _, line in entries(texts["stopwords.txt"])),
        digest=_digest(texts, FILES),
    )


def _read(language: str, directory: Path | None, names: tuple[str, ...]) -> dict[str, str]:
    """The texts of a language's list files, by file name."""
    root: Traversable = directory if directory is not None else wordlists_root()
    folder = root.joinpath(language)
    if not language or "/" in language or language.startswith(".") or not folder.is_dir():
        available = ", ".join(available_languages(directory)) or "none"
        raise UnknownLanguage(f"no word lists for language {language!r}; available: {available}")
    texts = {}
    for name in names:
        entry = folder.joinpath(name)
        if not entry.is_file():
            raise WordListError(f"wordlists/{language}/{name} is missing")
        texts[name] = entry.read_text(encoding="utf-8")
    return texts


def _digest(texts: dict[str, str], names: tuple[str, ...]) -> str:
    """A fingerprint of list files, which changes whenever one does."""
    return hashlib.sha256("\0".join(texts[name] for name in names).encode()).hexdigest()


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


def regex_list(name: str, text: str, source: str) -> RegexList:
    """Compile a list file of regular expressions matched between word boundaries.

    For speed the patterns that start with a plain letter are grouped under a lookahead
    for that letter (the engine then tries a few groups, not every pattern, at each word);
    the others follow. Where two patterns match at one place, which one counts is not
    specified.
    """
    patterns = patterns_of(text, source)
    if not patterns:
        return RegexList(name, (), re.compile(r"(?!)"))
    groups: dict[str, list[str]] = {}
    others = []
    for pattern in patterns:
        letter = _first_letter(pattern)
        if letter is None:
            others.append(f"(?:{pattern})")
        else:
            groups.setdefault(letter, []).append(f"(?:{pattern})")
    grouped = "|".join(f"(?={letter})(?:{'|'.join(members)})" for letter, members in groups.items())
    branches = ([f"(?=\\w)(?:{grouped})"] if grouped else []) + others
    combined = r"\b(?:" + "|".join(branches) + r")\b"
    return RegexList(name, patterns, re.compile(combined, re.IGNORECASE))


def _first_letter(pattern: str) -> str | None:
    """The letter every match of a pattern starts with, where that is plain to see."""
    if not pattern[:1].isalpha() or pattern[1:2] in ("?", "*", "{"):
        return None
    depth, escaped, in_class = 0, False, False
    for char in pattern:  # a top-level "|" would let a match start otherwise
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return None
    return pattern[0].lower()


TEMPLATE_FILES = ("citations.txt", "infoboxes.txt", "maintenance.txt", "reflists.txt", "stubs.txt")


@dataclass(frozen=True)
class TemplateLists:
    """A language's kinds of templates, each a regex matched against a whole template name.

    Names are compared as `template_name` normalizes them (lower case, spaces for
    underscores, no `Template:` or `subst:` prefix).
    """

    language: str
    citations: re.Pattern[str]
    infoboxes: re.Pattern[str]
    maintenance: re.Pattern[str]
    reflists: re.Pattern[str]
    stubs: re.Pattern[str]
    digest: str


@functools.lru_cache(maxsize=32)
def load_templates(language: str, directory: Path | None = None) -> TemplateLists:
    """Load (once) the template lists of a language from the package or from `directory`."""
    texts = _read(language, directory, TEMPLATE_FILES)
    compiled = {}
    for name in TEMPLATE_FILES:
        patterns = patterns_of(texts[name], f"wordlists/{language}/{name}") or ("(?!)",)
        compiled[name] = re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.I)
    return TemplateLists(
        language=language,
        citations=compiled["citations.txt"],
        infoboxes=compiled["infoboxes.txt"],
        maintenance=compiled["maintenance.txt"],
        reflists=compiled["reflists.txt"],
        stubs=compiled["stubs.txt"],
        digest=_digest(texts, TEMPLATE_FILES),
    )


def template_name(name: str) -> str | None:
    """A template's name as the lists compare it; None for parser functions and magic words."""
    name = " ".join(name.replace("_", " ").split()).lower()
    for prefix in ("safesubst:", "subst:", "template:", "msgnw:"):
        if name.startswith(prefix):
            name = name[len(prefix) :].strip()
    if not name or name.startswith("#") or ":" in name:
        return None
    return name


def word_frequencies(text: str, words: Collection[str]) -> Counter[str]:
    """Count the word tokens of `text` whose lower case is one of `words`.

    The count is the one a full tokenization gives. Each place where a word occurs as a
    substring, not glued to letters, is checked on its own (`_word_at`); with more than
    `SCAN_ALL_ABOVE` words or places, every word of the text is counted instead.
    """
    if not words or not text:
        return Counter()
    lowered = text.lower()
    if len(lowered) != len(text) or len(words) > SCAN_ALL_ABOVE:
        return _count_all(text, words)  # a longer lower case would shift the positions
    found: Counter[str] = Counter()
    regions: dict[Span, set[Span]] = {}
    places = 0
    for word in words:
        position = lowered.find(word)
        while position >= 0:
            places += 1
            if places > SCAN_ALL_ABOVE:
                return _count_all(text, words)
            end = position + len(word)
            if _bounded(lowered, position, end) and _word_at(text, position, end, regions):
                found[word] += 1
            position = lowered.find(word, end)
    return found


def _count_all(text: str, words: Collection[str]) -> Counter[str]:
    """Count the chosen words among all the word tokens of a text (in C: findall, Counter)."""
    every = Counter(map(str.lower, filter(None, WORD_SCAN_RE.findall(text))))
    return Counter({word: every[word] for word in words if word in every})


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
