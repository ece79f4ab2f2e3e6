"""Labelled files: CSV, TSV and JSON lines, compressed or not; bad cells named by line."""

from __future__ import annotations

import bz2
import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from wikiloom.errors import BadRequest
from wikiloom.learn.datasets import read_dataset

SAMPLE = Path(__file__).parent.parent / "data" / "editquality" / "enwiki.reverted.sample.csv"


def test_the_editquality_sample_reads_with_its_nine_features() -> None:
    dataset = read_dataset(SAMPLE, "reverted")
    assert len(dataset) == 1500
    assert dataset.X.shape == (1500, 9)
    assert dataset.features[0] == "wikitext.revision.diff.longest_repeated_char_added"
    assert "revision.user.is_anon" in dataset.features
    assert dataset.y.dtype == bool
    assert int(dataset.y.sum()) == 150
    assert dataset.ids is not None
    assert len(dataset.ids) == 1500
    assert set(np.unique(dataset.X[:, dataset.features.index("revision.user.is_anon")])) == {0, 1}
    assert dataset.source["rows"] == 1500
    assert len(dataset.source["sha256"]) == 64


def test_tsv_jsonl_and_compression_read_the_same(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("rev_id\tx\ty\tlabel\n1\t1.5\tTrue\tFA\n2\t\tfalse\tStub\n")
    with bz2.open(tmp_path / "a.jsonl.bz2", "wt") as out:
        out.write('{"rev_id": 1, "x": 1.5, "y": true, "label": "FA"}\n\n')
        out.write('{"rev_id": 2, "x": null, "y": false, "label": "Stub"}\n')
    with gzip.open(tmp_path / "a.csv.gz", "wt") as out:
        out.write("rev_id,x,y,label\n1,1.5,True,FA\n2,NaN,False,Stub\n")
    for name in ("a.tsv", "a.jsonl.bz2", "a.csv.gz"):
        dataset = read_dataset(tmp_path / name, "label")
        assert dataset.features == ("x", "y"), name
        assert dataset.X[0].tolist() == [1.5, 1.0]
        assert math.isnan(dataset.X[1, 0])
        assert dataset.X[1, 1] == 0.0
        assert dataset.y.tolist() == ["FA", "Stub"]
        assert dataset.ids == (1, 2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x,label\n1,True\nabc,False\n", r"bad\.csv:3: column 'x': not a number: 'abc'"),
        ("x,label\n1,True\n2\n", r"bad\.csv:3: fewer cells than the header names"),
        ("x,label\n1,True,9\n", r"bad\.csv:2: more cells than the header names"),
        ("x,reverted\n1,True\n", r"no column 'label'; columns: \['x', 'reverted'\]"),
        ("x,label\n", r"bad\.csv holds no observations"),
        ("label\nTrue\n", r"no feature columns besides 'label'"),
        ("x,label\n1,True\n2,Stub\n", r"mixes true/false with other values"),
        ("x,label\n1,\n", r"bad\.csv:2: column 'label': the label is empty"),
        ("x,label,rev_id\n1,True,r1\n", r"bad\.csv:2: rev_id is not a number"),
    ],
)
def test_bad_files_name_the_line_and_the_column(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(BadRequest, match=message):
        read_dataset(path, "label")


def test_revscoring_pickled_caches_and_unknown_formats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "obs.jsonl"
    path.write_text('{"rev_id": 1, "damaging": true, "cache": "gANjYnVpbHRpbnMKZXZhbApx"}\n')
    with pytest.raises(BadRequest, match=r"obs\.jsonl:1: a revscoring 'cache' \(a pickle\)"):
        read_dataset(path, "damaging")
    (tmp_path / "obs.jsonl").write_text("[1, 2]\n")
    with pytest.raises(BadRequest, match="must hold a JSON object"):
        read_dataset(tmp_path / "obs.jsonl", "damaging")
    (tmp_path / "obs.xlsx").write_text("")
    with pytest.raises(BadRequest, match=r"\.csv, \.tsv or \.jsonl"):
        read_dataset(tmp_path / "obs.xlsx", "damaging")
    with pytest.raises(BadRequest, match="no such file"):
        read_dataset(tmp_path / "missing.csv", "damaging")


def test_columns_reorders_and_names_what_is_missing() -> None:
    dataset = read_dataset(SAMPLE, "reverted")
    names = list(reversed(dataset.features))
    assert np.array_equal(dataset.columns(names), dataset.X[:, ::-1])
    with pytest.raises(BadRequest, match=r"lacks the columns \['nope'\]"):
        dataset.columns(["nope"])
