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
edit changed are scanned, and then, for the parent's counts of the items that changed,
the lines of the rest where such an item occurs (`RegexList.within_lines`; the pieces
around the changed places when a match could hold a newline), or the places where such
a word occurs (`wordcounts.word_frequencies`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from wikiloom.learn.diffs import TokenDiff
from wikiloom.learn.regexlists import (
    FrequencyDelta,
    RegexList,
    WordListError,
    changes,
    entries,
    patterns_of,
    regex_list,
)
from wikiloom.learn.tokens import Token
from wikiloom.learn.wordcounts import remember_edit, word_frequencies

FILES = ("badwords.txt", "informals.txt", "stopwords.txt")


class UnknownLanguage(LookupError):
    """No word lists exist for a language code."""


@dataclass(frozen=True)
class WordLists:
    """A language's bad words, informal words and stop words; `digest` fingerprints them."""

    language: str
    badwords: RegexList
    informals: RegexList
    stopwords: frozenset[str]
    digest: str

    def non_stopword_delta(
        self, parent_text: str, diff: TokenDiff, text: str | None = None
    ) -> FrequencyDelta:
        """How the edit changed the counts of (lower-cased) words that are not stop words.

        With the revision's `text`, how to count all of its words is kept too
        (`wordcounts.remember_edit`), for an edit of it next.
        """
        parent_words, words = lowered_words(diff.parent_tokens), lowered_words(diff.tokens)
        old, new = self.non_stopwords(parent_words), self.non_stopwords(words)
        delta = changes(old, new)
        if delta:
            spans = diff.parent_token_spans
            old.update(word_frequencies(parent_text, delta.keys(), spans, parent_words))
        if text is not None:
            remember_edit(parent_text, text, parent_words, words)
        return FrequencyDelta(delta, old)

    def non_stopwords(self, words: list[str]) -> Counter[str]:
        """The counts of the (lower-cased) words that are not stop words."""
        counts = Counter(words)
        for word in self.stopwords & counts.keys():
            del counts[word]
        return counts


def lowered_words(tokens: list[Token]) -> list[str]:
    """The lower-cased word tokens among `tokens`."""
    return [text.lower() for text, kind in tokens if kind == "word"]


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
