"""Edit-quality features of revisions, as scikit-learn transformers over `Revision` records.

Two feature sets:

* `oresfeatures.OresDemoFeatures`: the nine columns of editquality's 2015 demo dataset
  (`enwiki.features_reverted.*.20k_2015`), with revscoring's names and meanings, so that a
  model trained on that file scores revisions we extract;
* `EditQualityFeatures` (here): a fuller, language-agnostic set (wikitext structure,
  characters and tokens of the change, size, comment, editor, page, time) plus the
  word-list features of the wiki's language.

What both share (`RevisionTransformer`, how a revision's texts, editor and registration
are read) is in `revisionfeatures`.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from wikiloom.errors import CommentDeleted
from wikiloom.learn.diffs import TokenDiff, diff_tokens
from wikiloom.learn.revisionfeatures import (
    RevisionTransformer,
    groups_of,
    longest_repeated_char,
    seconds_since_registration,
    texts_of,
    user_hidden,
)
from wikiloom.learn.tokens import MARKUP_TYPES, is_uppercase_word
from wikiloom.learn.wordcounts import lower_case
from wikiloom.learn.wordlists import load_wordlists
from wikiloom.wiki.revisions import Revision

GROUPS: dict[str, frozenset[str]] = {
    "user.is_bot": frozenset({"bot"}),
    "user.is_admin": frozenset({"sysop"}),
    "user.is_autoconfirmed": frozenset({"autoconfirmed", "confirmed", "extendedconfirmed"}),
    "user.is_extendedconfirmed": frozenset({"extendedconfirmed"}),
    "user.is_patroller": frozenset(
        {"rollbacker", "patroller", "reviewer", "autoreviewer", "autopatrolled", "editor"}
    ),
    "user.is_advanced": frozenset(
        {"bureaucrat", "checkuser", "oversight", "suppress", "steward", "interface-admin"}
    ),
}
STRUCTURE = ("refs", "wikilinks", "external_links", "templates", "files", "headings", "categories")
LANGUAGE_SUMS = tuple(
    f"match_{kind}_{part}"
    for kind in ("delta", "prop_delta")
    for part in ("sum", "increase", "decrease")
)


def _names(prefix: str, names: str) -> tuple[str, ...]:
    """Dotted feature names: `prefix.name` for each space-separated name."""
    return tuple(f"{prefix}.{name}" for name in names.split())


EDIT_QUALITY_FEATURES: tuple[str, ...] = (
    *(f"wikitext.{item}.{side}" for item in STRUCTURE for side in ("parent", "revision", "delta")),
    *_names(
        "diff",
        "chars_added chars_removed uppercase_ratio_added digit_ratio_added "
        "punctuation_ratio_added non_latin_ratio_added whitespace_ratio_added words_added "
        "words_removed uppercase_words_added markup_added markup_removed numbers_added "
        "longest_repeated_char_added longest_token_added",
    ),
    *_names("size", "parent_bytes bytes delta_bytes delta_ratio"),
    *_names("comment", "empty length section_edit revert_like has_wikilink"),
    "user.is_anon",
    *GROUPS,
    *_names(
        "user",
        "edit_count_log seconds_since_registration seconds_since_registration_log info_missing",
    ),
    *_names("page", "is_main is_talk"),
    *_names("time", "hour_of_day weekday"),
    *(f"badwords.{item}" for item in LANGUAGE_SUMS),
    *(f"informals.{item}" for item in LANGUAGE_SUMS),
    *_names(
        "stopwords",
        "non_stopwords_added stopwords_added non_stopword_prop_delta_sum "
        "non_stopword_prop_delta_increase non_stopword_prop_delta_decrease",
    ),
    "text_deleted",
    "comment_deleted",
    "user_deleted",
)

#: Wikilinks, URLs, bare URLs, templates, headings: ASCII, so counted alike in UTF-8.
MARKS = ("[[", "://", "[//", "{{", "\n=")
BYTE_MARKS = tuple(mark.encode() for mark in MARKS)
REF_RE = re.compile(r"<ref[\s/>]")
FILE_RE = re.compile(r"\[\[[^\S\n]*(?:file|image|media)[^\S\n]*:")
CATEGORY_RE = re.compile(r"\[\[[^\S\n]*category[^\S\n]*:")
LETTER_RE = re.compile(r"[^\W\d_]")
UPPER_RE = re.compile("[A-Z\u00c0-\u00d6\u00d8-\u00de\u0391-\u03a9\u0400-\u042f]")
LATIN_RE = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
DIGIT_RE = re.compile(r"\d")
PUNCTUATION_RE = re.compile(r"[^\w\s]")
SPACE_RE = re.compile(r"\s")
SECTION_RE = re.compile(r"^\s*/\*.*?\*/")
REVERT_RE = re.compile(
    r"\b(?:revert(?:ed|ing|s)?|rvv?|undo(?:ne)?|undid|roll(?:ed)? ?back|restor(?:e|ed|ing))\b",
    re.IGNORECASE,
)


def structure(text: str) -> list[int]:
    """Counts of refs, wikilinks, external links, templates, files, headings and categories.

    None of them spans a cut, so the counts of a text are the sums over cut-bounded pieces.
    """
    return structure_of_lower_case(text.lower())


def structure_of_lower_case(lowered: str, encoded: bytes | None = None) -> list[int]:
    """`structure` of a text from its lower case (`text.lower()`, or `wordcounts.lower_case`'s:
    the character an `İ` becomes there, NUL or a dotted i, makes no count either way).

    `encoded`, the text's UTF-8, counts the marks without case (`MARKS`) quicker, the same.
    """
    files = len(FILE_RE.findall(lowered))
    categories = len(CATEGORY_RE.findall(lowered))
    if encoded is None:
        links, urls, bare, templates, headings = (lowered.count(mark) for mark in MARKS)
    else:
        links, urls, bare, templates, headings = (encoded.count(mark) for mark in BYTE_MARKS)
    return [
        len(REF_RE.findall(lowered)),
        links - files - categories,
        urls + bare,
        templates,
        files,
        headings + lowered.startswith("="),
        categories,
    ]


def characters(added: str) -> list[float]:
    """Ratios of upper-case, digit, punctuation, non-Latin and whitespace characters."""
    if not added:
        return [0.0] * 5
    letters = len(LETTER_RE.findall(added))
    ratio = 1 / len(added)
    per_letter = 1 / letters if letters else 0.0
    return [
        len(UPPER_RE.findall(added)) * per_letter,
        len(DIGIT_RE.findall(added)) * ratio,
        len(PUNCTUATION_RE.findall(added)) * ratio,
        (letters - len(LATIN_RE.findall(added))) * per_letter,
        len(SPACE_RE.findall(added)) * ratio,
    ]


class EditQualityFeatures(RevisionTransformer):
    """A fuller, language-agnostic edit-quality feature set plus the wiki language's word lists.

    Columns, in order, are `EDIT_QUALITY_FEATURES`:

    * ``wikitext.<item>.{parent,revision,delta}``: references (``<ref`` tags), wikilinks
      (other than files and categories), external links (``://`` and ``[//``), templates
      (``{{``), files (``[[File:``, ``[[Image:``, ``[[Media:``), headings (lines starting
      with ``=``) and categories, counted with fast string searches, not a parse;
    * ``diff.*``: characters added and removed; among the added characters the share of
      upper-case letters (Latin, Greek, Cyrillic) and of non-Latin letters (per letter), of
      digits, punctuation and whitespace (per character); word, upper-case word, markup and
      number tokens added or removed; the longest repeated character and longest token added;
    * ``size.*``: UTF-8 bytes of the parent and the revision, their difference, and that
      difference over the parent's bytes (at least 1);
    * ``comment.*``: empty, length, a section edit (``/* ... */``), revert-like words,
      a wikilink;
    * ``user.*``: anonymous; in a group of `GROUPS`; log(1 + edit count); seconds since
      registration (as `seconds_since_registration` counts them) and its log(1 + x); a named editor
      with no user record (e.g. from a dump);
    * ``page.is_main`` (namespace 0), ``page.is_talk`` (odd namespace); ``time.hour_of_day``
      and ``time.weekday`` (UTC, Monday 0);
    * ``badwords.*``, ``informals.*``: the delta of the word list's match counts (sum,
      increase, decrease) and its proportional delta (the same three); ``stopwords.*``: the
      non-stop words and stop words added, and the non-stop words' proportional delta;
    * ``text_deleted``, ``comment_deleted``, ``user_deleted``: a hidden part, whose features
      were computed as if it were empty.

    Parameters
    ----------
    language : str, default="en"
        The language code whose word lists (``wordlists/<language>``) give the word-list
        features.
    deleted : {"empty", "raise"}, default="empty"
        What to do with hidden text, comment or user: compute the features as if empty and
        set the ``*_deleted`` flags, or raise `TextDeleted`, `CommentDeleted`, `UserDeleted`.

    Attributes
    ----------
    name : str
        The feature set's name, half of its feature-store key.
    version : int
        The feature set's version, bumped whenever a value could change.

    Examples
    --------
    >>> features = EditQualityFeatures(language="en")
    >>> len(features.get_feature_names_out()) == len(EDIT_QUALITY_FEATURES)
    True
    """

    name = "editquality"
    version = 1
    feature_names = EDIT_QUALITY_FEATURES

    def __init__(self, language: str = "en", deleted: str = "empty") -> None:
        self.language = language
        self.deleted = deleted

    @property
    def key(self) -> str:
        """The feature-store key: name, language, version and the word lists' fingerprint."""
        return self.fingerprinted(load_wordlists(self.language).digest, self.language)

    def row(self, revision: Revision) -> list[float]:
        """The feature values of one revision, in `EDIT_QUALITY_FEATURES` order."""
        lists = load_wordlists(self.language)
        parent_text, text, text_deleted = texts_of(revision, self.deleted)
        hidden_user = user_hidden(revision, self.deleted)
        if revision.comment is None and self.deleted == "raise":
            raise CommentDeleted(
                "CommentDeleted: Comment deleted (datasource.revision.comment)", revision.rev_id
            )
        diff = diff_tokens(parent_text, text)
        values: list[float] = []
        # The revision's counts (and bytes) are the parent's plus what changed in the
        # (cut-bounded) hunks: outside them the two texts are the same.
        parent_bytes = parent_text.encode()
        before = structure_of_lower_case(lower_case(parent_text).lowered, parent_bytes)
        removed = [structure(parent_text[a1:a2]) for a1, a2 in diff.parent_spans]
        added = [structure(text[b1:b2]) for b1, b2 in diff.spans]
        for index, old in enumerate(before):
            change = sum(counts[index] for counts in added) - sum(c[index] for c in removed)
            values.extend((old, old + change, change))
        values.extend(self._diff(diff))
        old_bytes = len(parent_bytes)
        delta = sum(len(text[b1:b2].encode()) for b1, b2 in diff.spans) - sum(
            len(parent_text[a1:a2].encode()) for a1, a2 in diff.parent_spans
        )
        new_bytes = old_bytes + delta
        values.extend((old_bytes, new_bytes, delta, delta / max(old_bytes, 1)))
        values.extend(self._comment(revision.comment or ""))
        values.extend(self._user(revision, hidden_user))
        values.extend((revision.namespace == 0, revision.namespace % 2 == 1))
        values.extend((revision.timestamp.hour, revision.timestamp.weekday()))
        values.extend(lists.badwords.delta(parent_text, text, diff).sums())
        values.extend(lists.informals.delta(parent_text, text, diff).sums())
        added_words = [token.lower() for token, kind in diff.added if kind == "word"]
        stops = sum(word in lists.stopwords for word in added_words)
        _, _, _, prop_sum, prop_up, prop_down = lists.non_stopword_delta(
            parent_text, diff, text
        ).sums()
        values.extend((len(added_words) - stops, stops, prop_sum, prop_up, prop_down))
        values.extend((text_deleted, revision.comment is None, hidden_user))
        return [float(value) for value in values]

    @staticmethod
    def _diff(diff: TokenDiff) -> list[float]:
        """The features of the characters and tokens the edit added and removed."""
        added = "".join(diff.added_segments)
        added_kinds = Counter([kind for _, kind in diff.added])
        removed_kinds = Counter([kind for _, kind in diff.removed])
        return [
            len(added),
            sum(len(segment) for segment in diff.removed_segments),
            *characters(added),
            added_kinds["word"],
            removed_kinds["word"],
            sum(kind == "word" and is_uppercase_word(token) for token, kind in diff.added),
            sum(added_kinds[kind] for kind in MARKUP_TYPES),
            sum(removed_kinds[kind] for kind in MARKUP_TYPES),
            added_kinds["number"],
            longest_repeated_char(diff.added_segments),
            max((len(token) for token, _ in diff.added), default=0),
        ]

    @staticmethod
    def _comment(comment: str) -> list[float]:
        """Empty, length, section edit, revert-like words, a wikilink."""
        return [
            not comment,
            len(comment),
            SECTION_RE.match(comment) is not None,
            REVERT_RE.search(comment) is not None,
            "[[" in comment,
        ]

    @staticmethod
    def _user(revision: Revision, hidden: bool) -> list[float]:
        """Anonymous, groups, edit count, tenure and a missing user record."""
        groups = groups_of(revision)
        anonymous = not hidden and revision.user_id == 0
        seconds = seconds_since_registration(revision)
        edits = revision.user.edit_count if revision.user is not None else 0
        missing = (
            not hidden and not anonymous and (revision.user is None or not revision.user.exists)
        )
        return [
            anonymous,
            *(bool(groups & members) for members in GROUPS.values()),
            math.log1p(max(edits, 0)),
            seconds,
            math.log1p(max(seconds, 0)),
            missing,
        ]
