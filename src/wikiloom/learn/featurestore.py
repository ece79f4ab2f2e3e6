"""The feature store: feature values per (wiki, rev_id, feature set, version), filled in batches."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from wikiloom.db import insert_ignore, utcnow
from wikiloom.errors import BadRequest, RevisionProblem
from wikiloom.learn.tables import FeatureVector
from wikiloom.wiki.client import WikiClient
from wikiloom.wiki.revisions import Revision, fetch_revisions

#: Revisions fetched and extracted per round (the wiki client asks 50 at a time).
BATCH = 500
#: Rows looked up or inserted per statement.
CHUNK = 500


class FeatureSet(Protocol):
    """What the store needs of a feature extractor: a name, a version, names, values."""

    name: str
    version: int

    def get_feature_names_out(self, input_features: Any = None) -> Any: ...

    def transform(self, X: Sequence[Revision]) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class Extraction:
    """What one round of extraction found: values by rev_id, and the revisions it could not use."""

    vectors: dict[int, list[float]]
    problems: dict[int, RevisionProblem]


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    return (values[i : i + size] for i in range(0, len(values), size))


def _stored(value: float) -> float | None:
    """A value as JSON stores it: NaN and infinities (which JSON lacks) as null."""
    return value if math.isfinite(value) else None


def _loaded(values: Sequence[float | None]) -> list[float]:
    return [math.nan if value is None else float(value) for value in values]


def get_vectors(
    session: Session, wiki: str, rev_ids: Iterable[int], feature_set: str, version: int
) -> dict[int, list[float]]:
    """The stored values of a feature set for these revisions (absent ones left out)."""
    wanted = list(dict.fromkeys(rev_ids))
    found: dict[int, list[float]] = {}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(FeatureVector.rev_id, FeatureVector.values).where(
                FeatureVector.wiki == wiki,
                FeatureVector.feature_set == feature_set,
                FeatureVector.version == version,
                FeatureVector.rev_id.in_(chunk),
            )
        )
        found.update((rev_id, _loaded(values)) for rev_id, values in rows)
    return found


def missing_rev_ids(
    session: Session, wiki: str, rev_ids: Iterable[int], feature_set: str, version: int
) -> list[int]:
    """The revisions whose values the store lacks, in the order asked."""
    wanted = list(dict.fromkeys(rev_ids))
    present: set[int] = set()
    for chunk in _chunks(wanted):
        present.update(
            session.scalars(
                select(FeatureVector.rev_id).where(
                    FeatureVector.wiki == wiki,
                    FeatureVector.feature_set == feature_set,
                    FeatureVector.version == version,
                    FeatureVector.rev_id.in_(chunk),
                )
            )
        )
    return [rev_id for rev_id in wanted if rev_id not in present]


def store_vectors(
    session: Session,
    wiki: str,
    feature_set: str,
    version: int,
    width: int,
    vectors: Mapping[int, Sequence[float]],
) -> int:
    """Store values (of `width` features each) that are not stored yet; return how many were new.

    Values already stored for a key are kept: a feature set's version fixes its meaning.
    """
    rows = []
    now = utcnow()
    for rev_id, values in vectors.items():
        if len(values) != width:
            raise BadRequest(
                f"{feature_set} v{version} has {width} features; rev_id {rev_id} has {len(values)}"
            )
        rows.append(
            {
                "wiki": wiki,
                "rev_id": int(rev_id),
                "feature_set": feature_set,
                "version": version,
                "values": [_stored(float(value)) for value in values],
                "created": now,
            }
        )
    missing = set(missing_rev_ids(session, wiki, list(vectors), feature_set, version))
    new = [row for row in rows if row["rev_id"] in missing]
    for start in range(0, len(new), CHUNK):
        session.execute(insert_ignore(session, FeatureVector.__table__), new[start : start + CHUNK])
    return len(new)


def extract(feature_set: FeatureSet, revisions: Sequence[Revision]) -> dict[int, list[float]]:
    """The values of a feature set for records already fetched, by rev_id."""
    if not revisions:
        return {}
    matrix = feature_set.transform(list(revisions))
    return {revision.rev_id: row.tolist() for revision, row in zip(revisions, matrix, strict=True)}


async def fetch_and_extract(
    client: WikiClient, wiki: str, rev_ids: Sequence[int], feature_set: FeatureSet
) -> Extraction:
    """Fetch revisions from the wiki in batches and extract a feature set from them.

    Runs outside any transaction (the wiki may be slow); the caller stores the result.
    Revisions the wiki cannot give (deleted, hidden) come back as problems.
    """
    vectors: dict[int, list[float]] = {}
    problems: dict[int, RevisionProblem] = {}
    for start in range(0, len(rev_ids), BATCH):
        fetched = await fetch_revisions(client, wiki, rev_ids[start : start + BATCH])
        good = [value for value in fetched.values() if isinstance(value, Revision)]
        problems.update(
            (rev_id, value)
            for rev_id, value in fetched.items()
            if isinstance(value, RevisionProblem)
        )
        vectors.update(extract(feature_set, good))
    return Extraction(vectors, problems)
