"""Labelled observations: feature columns and a label, read from CSV, TSV or JSON lines."""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from wikiloom.errors import BadRequest

#: Columns that identify an observation rather than describe it.
ID_COLUMNS = ("rev_id", "page_id", "id")
TRUE_WORDS, FALSE_WORDS = frozenset({"true", "yes"}), frozenset({"false", "no"})


@dataclass(frozen=True)
class Dataset:
    """Observations: a matrix of features (NaN where missing), labels, ids, provenance."""

    features: tuple[str, ...]
    X: npt.NDArray[np.float64]
    y: npt.NDArray[Any]
    ids: tuple[int, ...] | None = None
    source: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)

    def columns(self, features: Sequence[str]) -> npt.NDArray[np.float64]:
        """The matrix with its columns in the order of `features` (all must be present)."""
        missing = [name for name in features if name not in self.features]
        if missing:
            raise BadRequest(f"{self.source.get('name', 'the data')} lacks the columns {missing}")
        order = [self.features.index(name) for name in features]
        return self.X[:, order]


def label_value(text: Any) -> bool | str:
    """A label as read: booleans for true/false words (any case), else the text."""
    if isinstance(text, bool):
        return text
    word = str(text).strip()
    if word.lower() in TRUE_WORDS:
        return True
    if word.lower() in FALSE_WORDS:
        return False
    if not word:
        raise ValueError("the label is empty")
    return word


def feature_value(text: Any) -> float:
    """A feature as a float: true/false as 1/0, empty or null as NaN."""
    if text is None:
        return math.nan
    if isinstance(text, bool):
        return float(text)
    if isinstance(text, int | float):
        return float(text)
    word = str(text).strip()
    lowered = word.lower()
    if lowered in TRUE_WORDS:
        return 1.0
    if lowered in FALSE_WORDS:
        return 0.0
    if lowered in ("", "nan", "null", "none"):
        return math.nan
    return float(word)  # "inf", "-Infinity" and numbers; anything else raises


def _opened(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed by suffix (`.bz2`, `.gz`)."""
    if path.suffix == ".bz2":
        return bz2.open(path, "rb")
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _format(path: Path) -> str:
    """csv, tsv or jsonl, from the file's name (a compression suffix aside)."""
    suffixes = [s for s in path.suffixes if s not in (".bz2", ".gz")]
    kind = suffixes[-1].lstrip(".").lower() if suffixes else ""
    if kind in ("csv", "tsv"):
        return kind
    if kind in ("jsonl", "json", "ndjson"):
        return "jsonl"
    raise BadRequest(f"{path.name}: name the format by the suffix: .csv, .tsv or .jsonl")


def _records(path: Path, stream: IO[bytes], kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row as a dict) from a CSV/TSV with a header, or JSON lines."""
    if kind == "jsonl":
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                raise BadRequest(f"{path.name}:{number}: not JSON: {error}") from error
            if not isinstance(row, dict):
                raise BadRequest(f"{path.name}:{number}: a line must hold a JSON object")
            if "cache" in row and isinstance(row["cache"], str):
                raise BadRequest(
                    f"{path.name}:{number}: a revscoring 'cache' (a pickle) is never loaded; "
                    "give the features as columns"
                )
            yield number, row
        return
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
    reader = csv.DictReader(text, delimiter="," if kind == "csv" else "\t")
    for row in reader:
        if None in row:
            raise BadRequest(f"{path.name}:{reader.line_num}: more cells than the header names")
        if None in row.values():
            raise BadRequest(f"{path.name}:{reader.line_num}: fewer cells than the header names")
        yield reader.line_num, row


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def read_dataset(path: str | Path, label: str, *, features: Sequence[str] | None = None) -> Dataset:
    """Read labelled observations: a header (or JSON keys) naming features and the label.

    Every column but the label and the id columns (`rev_id`, `page_id`, `id`) is a
    feature, unless `features` chooses. A bad cell is refused with its file, line and
    column; nothing is partly read.
    """
    source = Path(path)
    if not source.is_file():
        raise BadRequest(f"no such file: {source}")
    kind = _format(source)
    names: tuple[str, ...] | None = tuple(features) if features is not None else None
    rows: list[list[float]] = []
    labels: list[bool | str] = []
    ids: list[int] = []
    with _opened(source) as stream:
        for number, row in _records(source, stream, kind):
            if names is None:
                names = tuple(key for key in row if key != label and key not in ID_COLUMNS)
                if label not in row:
                    raise BadRequest(f"{source.name}: no column {label!r}; columns: {list(row)}")
            where = f"{source.name}:{number}"
            try:
                labels.append(label_value(row[label]))
            except KeyError:
                raise BadRequest(f"{where}: no {label!r}") from None
            except ValueError as error:
                raise BadRequest(f"{where}: column {label!r}: {error}") from None
            values = []
            for name in names:
                if name not in row:
                    raise BadRequest(f"{where}: no column {name!r}")
                try:
                    values.append(feature_value(row[name]))
                except ValueError:
                    raise BadRequest(
                        f"{where}: column {name!r}: not a number: {row[name]!r}"
                    ) from None
            rows.append(values)
            if "rev_id" in row:
                try:
                    ids.append(int(row["rev_id"]))
                except (TypeError, ValueError):
                    raise BadRequest(
                        f"{where}: rev_id is not a number: {row['rev_id']!r}"
                    ) from None
    if not rows or names is None:
        raise BadRequest(f"{source.name} holds no observations")
    if not names:
        raise BadRequest(f"{source.name} has no feature columns besides {label!r}")
    kinds = {type(value) for value in labels}
    if len(kinds) > 1:
        raise BadRequest(f"{source.name}: {label!r} mixes true/false with other values")
    return Dataset(
        features=names,
        X=np.asarray(rows, dtype=np.float64),
        y=np.asarray(labels, dtype=bool if kinds == {bool} else object),
        ids=tuple(ids) if len(ids) == len(rows) else None,
        source={
            "name": source.name,
            "format": kind,
            "rows": len(rows),
            "sha256": sha256_of(source),
        },
    )
