"""Edit-quality features of revisions, as scikit-learn transformers over `Revision` records.

Two feature sets:

* `OresDemoFeatures`: the nine columns of editquality's 2015 demo dataset
  (`enwiki.features_reverted.*.20k_2015`), with revscoring's names and meanings, so that a
  model trained on that file scores revisions we extract;
* `EditQualityFeatures`: a fuller, language-agnostic set (wikitext structure, characters
  and tokens of the change, size, comment, editor, page, time) plus the word-list features
  of the wiki's language.

What each of the nine ORES features means (revscoring 1.x/2.x, checked against the demo
file's value distributions):

``wikitext.revision.diff.longest_repeated_char_added``
    The longest run of one character (compared lower-cased) inside an added segment (a
    run of consecutive added tokens; runs do not continue across segments). 1 when the
    edit added nothing, so never below 1.
``wikitext.revision.diff.words_added`` / ``words_removed``
    The number of `word` tokens added / removed by the token diff (numbers, CJK
    characters, markup and punctuation are not words; a moved line adds and removes none).
``english.badwords.revision.diff.match_prop_delta_sum`` / ``english.informals...``
    The bad-word (informal-word) regexes are matched, case-insensitively between word
    boundaries, in the whole parent text and the whole revision text; for each lower-cased
    match whose count changed, ``delta / (old + 1)`` if it rose and ``delta / old`` if it
    fell; the sum over matches. (Our English lists are our own, not revscoring's.)
``english.stopwords.revision.diff.non_stopword_prop_delta_sum``
    The same proportional delta sum over the lower-cased words of the two texts that are
    not stop words.
``revision.user.is_anon``
    1 when the user id is 0 (an IP edit).
``revision.user.in_group({bot,sysop})``
    1 when the editor's current groups include `bot` or `sysop`.
``temporal.revision.user.seconds_since_registration``
    Seconds from the editor's registration to the edit. A missing registration (accounts
    from before 2006, and anonymous editors, whose id 0 is not "no user") counts from
    2006-01-01T00:00:00Z, so an IP edit of 2015 shows about 2.9e8; a registration after the
    edit gives 30,758,400 (revscoring's "one year" of 356 days); a hidden user gives 0.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from wikiloom.errors import CommentDeleted, TextDeleted, UserDeleted
from wikiloom.learn.diffs import TokenDiff, diff_tokens
from wikiloom.learn.tokens import MARKUP_TYPES, is_uppercase_word
from wikiloom.learn.wordlists import load_wordlists
from wikiloom.wiki.revisions import Revision, parse_timestamp

ORES_DEMO_FEATURES: tuple[str, ...] = (
    "wikitext.revision.diff.longest_repeated_char_added",
    "wikitext.revision.diff.words_added",
    "wikitext.revision.diff.words_removed",
    "english.badwords.revision.diff.match_prop_delta_sum",
    "english.informals.revision.diff.match_prop_delta_sum",
    "english.stopwords.revision.diff.non_stopword_prop_delta_sum",
    "revision.user.is_anon",
    "revision.user.in_group({bot,sysop})",
    "temporal.revision.user.seconds_since_registration",
)

#: revscoring's stand-in for a missing registration date (MediaWiki recorded none before).
MW_REGISTRATION_EPOCH = dt.datetime(2006, 1, 1, tzinfo=dt.UTC)
#: revscoring's answer when the registration is after the edit ("one year", of 356 days).
CHRONOLOGY_FALLBACK = 60 * 60 * 24 * 356
DELETED_MODES = ("raise", "empty")

REPEAT_RE = re.compile(r"(.)\1+", re.DOTALL)


def longest_repeated_char(segments: Sequence[str]) -> int:
    """The longest run of one character (lower-cased) within any segment; 1 for none."""
    longest = 1
    for segment in segments:
        for match in REPEAT_RE.finditer(segment.lower()):
            longest = max(longest, match.end() - match.start())
    return longest


def seconds_since_registration(revision: Revision) -> int:
    """Seconds from the editor's registration to the edit, as revscoring counts them."""
    if revision.user_id is None or revision.user_name is None:
        return 0  # a hidden user
    registration = MW_REGISTRATION_EPOCH
    if revision.user is not None and revision.user.registration:
        registration = parse_timestamp(revision.user.registration)
    if registration > revision.timestamp:
        return CHRONOLOGY_FALLBACK
    return int((revision.timestamp - registration).total_seconds())


def groups_of(revision: Revision) -> frozenset[str]:
    """The editor's groups as the wiki reports them (none for IPs and unknown editors)."""
    return frozenset(revision.user.groups) if revision.user is not None else frozenset()


def texts_of(revision: Revision, deleted: str) -> tuple[str, str, bool]:
    """The parent's text, the text, and whether either was hidden (raising in mode "raise")."""
    if deleted not in DELETED_MODES:
        raise ValueError(f"deleted={deleted!r}: expected one of {DELETED_MODES}")
    hidden = revision.text is None or revision.parent_text is None
    if hidden and deleted == "raise":
        raise TextDeleted("TextDeleted: Text deleted (datasource.revision.text)", revision.rev_id)
    return revision.parent_text or "", revision.text or "", hidden


def user_hidden(revision: Revision, deleted: str) -> bool:
    """Whether the editor was hidden (raising in mode "raise")."""
    hidden = revision.user_id is None or revision.user_name is None
    if hidden and deleted == "raise":
        raise UserDeleted("UserDeleted: User deleted ({revision.user})", revision.rev_id)
    return hidden


def words(tokens: Sequence[tuple[str, str]]) -> int:
    """The number of word tokens."""
    return sum(kind == "word" for _, kind in tokens)


class RevisionTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """What the revision feature sets share: no fitting, one row of floats per revision.

    Subclasses set `name`, `version` (the feature-store key) and `feature_names`, and
    compute `row`. The input is a sequence of `Revision` records, not an array, so
    scikit-learn's input validation is off (``no_validation``); nothing is learnt in `fit`.
    """

    name: str = ""
    version: int = 0
    feature_names: tuple[str, ...] = ()

    def fit(self, X: Sequence[Revision], y: Any = None) -> RevisionTransformer:
        """Do nothing (the features need no fitting) and return the transformer."""
        return self

    def transform(self, X: Sequence[Revision]) -> NDArray[np.float64]:
        """Extract one row of features per revision, as float64, columns in feature order."""
        rows = [self.row(revision) for revision in X]
        if not rows:
            return np.zeros((0, len(self.feature_names)), dtype=np.float64)
        return np.asarray(rows, dtype=np.float64)

    def row(self, revision: Revision) -> list[float]:
        """The feature values of one revision."""
        raise NotImplementedError

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """The names of the output columns."""
        return np.asarray(self.feature_names, dtype=object)

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.no_validation = True
        return tags


class OresDemoFeatures(RevisionTransformer):
    """The nine edit-quality features of ORES's 2015 English demo dataset.

    Columns, in order, are `ORES_DEMO_FEATURES` (revscoring's names); the module docstring
    gives the meaning of each. English word lists come from `wordlists/en`.

    Parameters
    ----------
    deleted : {"raise", "empty"}, default="raise"
        What to do with a revision whose text, parent's text or user is hidden: raise
        `TextDeleted` or `UserDeleted` (as ORES answers such a revision), or compute the
        features over an empty text and a hidden user (which looks like blanking, so only
        for exploration).

    Attributes
    ----------
    name : str
        The feature set's name, half of its feature-store key.
    version : int
        The feature set's version, bumped whenever a value could change.

    Examples
    --------
    >>> features = OresDemoFeatures()
    >>> features.get_feature_names_out()[0]
    'wikitext.revision.diff.longest_repeated_char_added'
    """

    name = "ores.enwiki.demo"
    version = 1
    feature_names = ORES_DEMO_FEATURES

    def __init__(self, deleted: str = "raise") -> None:
        self.deleted = deleted

    @property
    def key(self) -> str:
        """The feature-store key: name, version and the word lists' fingerprint."""
        return f"{self.name}/v{self.version}/{load_wordlists('en').digest[:12]}"

    def row(self, revision: Revision) -> list[float]:
        """The nine ORES feature values of one revision."""
        lists = load_wordlists("en")
        parent_text, text, _ = texts_of(revision, self.deleted)
        hidden = user_hidden(revision, self.deleted)
        diff = diff_tokens(parent_text, text)
        return [
            float(longest_repeated_char(diff.added_segments)),
            float(words(diff.added)),
            float(words(diff.removed)),
            lists.badwords.delta(parent_text, text, diff).sums()[3],
            lists.informals.delta(parent_text, text, diff).sums()[3],
            lists.non_stopword_delta(parent_text, diff).sums()[3],
            float(not hidden and revision.user_id == 0),
            float(bool(groups_of(revision) & {"bot", "sysop"})),
            float(seconds_since_registration(revision)),
        ]


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
    lowered = text.lower()
    files = len(FILE_RE.findall(lowered))
    categories = len(CATEGORY_RE.findall(lowered))
    return [
        len(REF_RE.findall(lowered)),
        lowered.count("[[") - files - categories,
        lowered.count("://") + lowered.count("[//"),
        lowered.count("{{"),
        files,
        lowered.count("\n=") + lowered.startswith("="),
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
      registration (as `OresDemoFeatures` counts them) and its log(1 + x); a named editor
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
        digest = load_wordlists(self.language).digest[:12]
        return f"{self.name}/{self.language}/v{self.version}/{digest}"

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
        # The revision's counts are the parent's plus what changed in the (cut-bounded) hunks.
        before = structure(parent_text)
        removed = [structure(parent_text[a1:a2]) for a1, a2 in diff.parent_spans]
        added = [structure(text[b1:b2]) for b1, b2 in diff.spans]
        for index, old in enumerate(before):
            change = sum(counts[index] for counts in added) - sum(c[index] for c in removed)
            values.extend((old, old + change, change))
        values.extend(self._diff(diff))
        old_bytes, new_bytes = len(parent_text.encode()), len(text.encode())
        delta = new_bytes - old_bytes
        values.extend((old_bytes, new_bytes, delta, delta / max(old_bytes, 1)))
        values.extend(self._comment(revision.comment or ""))
        values.extend(self._user(revision, hidden_user))
        values.extend((revision.namespace == 0, revision.namespace % 2 == 1))
        values.extend((revision.timestamp.hour, revision.timestamp.weekday()))
        values.extend(lists.badwords.delta(parent_text, text, diff).sums())
        values.extend(lists.informals.delta(parent_text, text, diff).sums())
        added_words = [token.lower() for token, kind in diff.added if kind == "word"]
        stops = sum(word in lists.stopwords for word in added_words)
        _, _, _, prop_sum, prop_up, prop_down = lists.non_stopword_delta(parent_text, diff).sums()
        values.extend((len(added_words) - stops, stops, prop_sum, prop_up, prop_down))
        values.extend((text_deleted, revision.comment is None, hidden_user))
        return [float(value) for value in values]

    @staticmethod
    def _diff(diff: TokenDiff) -> list[float]:
        """The features of the characters and tokens the edit added and removed."""
        added = "".join(diff.added_segments)
        return [
            len(added),
            sum(len(segment) for segment in diff.removed_segments),
            *characters(added),
            words(diff.added),
            words(diff.removed),
            sum(kind == "word" and is_uppercase_word(token) for token, kind in diff.added),
            sum(kind in MARKUP_TYPES for _, kind in diff.added),
            sum(kind in MARKUP_TYPES for _, kind in diff.removed),
            sum(kind == "number" for _, kind in diff.added),
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
