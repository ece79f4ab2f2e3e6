"""The feature sets wikiloom computes, by name: which one a model reads, and from which columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wikiloom.errors import BadRequest
from wikiloom.learn.articlequality import ArticleQualityFeatures
from wikiloom.learn.editquality import EditQualityFeatures
from wikiloom.learn.oresfeatures import OresDemoFeatures
from wikiloom.learn.revisionfeatures import RevisionTransformer

#: name -> how to make the feature set for a wiki's language.
FEATURE_SETS: dict[str, Callable[[str], RevisionTransformer]] = {
    OresDemoFeatures.name: lambda language: OresDemoFeatures(),
    EditQualityFeatures.name: lambda language: EditQualityFeatures(language=language),
    ArticleQualityFeatures.name: lambda language: ArticleQualityFeatures(language=language),
}


def feature_set(name: str, language: str = "en") -> RevisionTransformer:
    """The feature set of that name for a language; `BadRequest` lists the known ones."""
    if name not in FEATURE_SETS:
        raise BadRequest(f"unknown feature set {name!r}; known: {', '.join(sorted(FEATURE_SETS))}")
    return FEATURE_SETS[name](language)


def feature_set_of_columns(columns: Sequence[str]) -> tuple[str, int] | None:
    """The (name, version) of the feature set whose columns these are, in order, if any.

    A model trained from a file of those columns can then score revisions we extract.
    """
    for make in FEATURE_SETS.values():
        candidate = make("en")
        if tuple(candidate.get_feature_names_out()) == tuple(columns):
            return candidate.name, candidate.version
    return None
