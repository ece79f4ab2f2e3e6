"""What the revision feature sets share: the transformer, and how a revision is read.

`RevisionTransformer` is the scikit-learn side of every revision feature set (no fitting,
one row of floats per `Revision`); the functions read a revision's texts, editor and
registration as revscoring reads them, for `editquality` and `oresfeatures`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from wikiloom.errors import TextDeleted, UserDeleted
from wikiloom.wiki.revisions import Revision, parse_timestamp

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


def _check_mode(deleted: str) -> None:
    if deleted not in DELETED_MODES:
        raise ValueError(f"deleted={deleted!r}: expected one of {DELETED_MODES}")


def text_of(revision: Revision, deleted: str) -> tuple[str, bool]:
    """The revision's text, and whether it was hidden (raising in mode "raise")."""
    _check_mode(deleted)
    if revision.text is None and deleted == "raise":
        raise TextDeleted("TextDeleted: Text deleted (datasource.revision.text)", revision.rev_id)
    return revision.text or "", revision.text is None


def texts_of(revision: Revision, deleted: str) -> tuple[str, str, bool]:
    """The parent's text, the text, and whether either was hidden (raising in mode "raise")."""
    _check_mode(deleted)
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
    return [kind for _, kind in tokens].count("word")


class RevisionTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """What the revision feature sets share: no fitting, one row of floats per revision.

    Subclasses set `name`, `version` (the feature-store key) and `feature_names`, and
    compute `row`. The input is a sequence of `Revision` records, not an array, so
    scikit-learn's input validation is off (``no_validation``); nothing is learnt in `fit`.
    """

    name: str = ""
    version: int = 0
    feature_names: tuple[str, ...] = ()

    def fingerprinted(self, digest: str, language: str | None = None) -> str:
        """A key naming the set, its language, its version and the lists it reads (digest)."""
        parts = [self.name, *([language] if language else []), f"v{self.version}", digest[:12]]
        return "/".join(parts)

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
