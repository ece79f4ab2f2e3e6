"""Campaign plots as inline SVG: well-formed, titled, ids scoped, text escaped."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import matplotlib
import pytest

from wikiloom.labels.agreement import Alpha
from wikiloom.labels.plots import (
    agreement_svg,
    distribution_svg,
    labeler_agreement_svg,
    progress_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
XSS = "<script>alert(1)</script>"
DAY = dt.date(2026, 3, 1)


def every_plot(ident: str = "p") -> dict[str, str]:
    """One SVG of each kind, with a hostile field name and value in them."""
    return {
        "progress": progress_svg(
            {DAY: 3, DAY + dt.timedelta(days=4): 5}, 20, ident=f"{ident}-progress",
            title="Progress & <b>pace</b>", labels_text="labels given", needed_text="needed",
        ),
        "agreement": agreement_svg(
            {"damaging": Alpha(0.5, 0.2, 0.8, 5, 2), XSS: Alpha(-0.2, -0.5, 0.1, 3, 2),
             "undefined": Alpha(None, None, None, 0, 1)},
            ident=f"{ident}-agreement", title="Agreement", xlabel="alpha",
        ),
        "labelers": labeler_agreement_svg(
            {"damaging": [0.5, 1.0, 0.75], XSS: [0.2], "empty": []},
            ident=f"{ident}-labelers", title="Labelers", xlabel="rate",
        ),
        "distribution": distribution_svg(
            {"true": 4, XSS: 2}, ident=f"{ident}-distribution", title="Values", xlabel="labels"
        ),
    }  # fmt: skip


def texts(root: ET.Element) -> list[str]:
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


@pytest.mark.parametrize("kind", ["progress", "agreement", "labelers", "distribution"])
def test_plots_are_titled_svg_elements_without_script(kind: str) -> None:
    svg = every_plot()[kind]
    assert svg.startswith("<svg"), svg[:80]
    assert "<?xml" not in svg
    assert "<!DOCTYPE" not in svg
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("direction") == "ltr"  # its layout stays put on right-to-left pages
    title = root.find(f"{SVG}title")
    assert title is not None
    assert root.get("aria-labelledby") == title.get("id")
    assert not [node for node in root.iter() if node.tag.endswith("script")]
    assert not [
        (node.tag, key) for node in root.iter() for key in node.attrib if key.startswith("on")
    ]


def test_text_is_kept_as_escaped_text() -> None:
    plots = every_plot()
    for kind in ("agreement", "labelers", "distribution"):
        assert XSS not in plots[kind]
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in plots[kind]
        assert XSS in texts(ET.fromstring(plots[kind])), kind
    title = ET.fromstring(plots["progress"]).find(f"{SVG}title")
    assert title is not None
    assert title.text == "Progress & <b>pace</b>"
    assert "labels given" in texts(ET.fromstring(plots["progress"]))


def test_only_defined_values_are_drawn() -> None:
    plots = every_plot()
    assert "undefined" not in texts(ET.fromstring(plots["agreement"]))
    assert "empty" not in texts(ET.fromstring(plots["labelers"]))
    assert {"damaging", XSS} <= set(texts(ET.fromstring(plots["agreement"])))


def test_ids_are_scoped_and_references_resolve() -> None:
    plots = every_plot("page")
    seen: set[str] = set()
    for kind, svg in plots.items():
        root = ET.fromstring(svg)
        ids = {node.get("id") for node in root.iter() if node.get("id")}
        assert all(str(i).startswith(f"page-{kind}-") for i in ids), kind
        assert not ids & seen, "two plots of one page share an id"
        seen |= {str(i) for i in ids}
        references = set(re.findall(r'href="#([^"]+)"', svg)) | set(
            re.findall(r"url\(#([^)]+)\)", svg)
        )
        assert references, kind
        assert references <= ids, references - ids


def test_output_is_deterministic_and_leaves_matplotlib_settings_alone() -> None:
    before = dict(matplotlib.rcParams)
    assert every_plot() == every_plot()
    assert dict(matplotlib.rcParams) == before


def test_empty_statistics_still_make_plots() -> None:
    for svg in (
        progress_svg({}, 0, ident="a", title="t", labels_text="l", needed_text="n"),
        agreement_svg({"f": Alpha(None, None, None, 0, 0)}, ident="b", title="t", xlabel="x"),
        labeler_agreement_svg({}, ident="c", title="t", xlabel="x"),
        distribution_svg({}, ident="d", title="t", xlabel="x"),
    ):
        assert ET.fromstring(svg).get("role") == "img"


def test_many_values_are_cut_to_the_most_frequent() -> None:
    counts = {f"value {i:02}": i for i in range(40)}
    shown = texts(ET.fromstring(distribution_svg(counts, ident="d", title="t", xlabel="x")))
    assert "value 39" in shown
    assert "value 14" not in shown  # the 25 most frequent are 15..39


@pytest.mark.parametrize("ident", ["", "1abc", 'a"b', "a b"])
def test_an_id_prefix_must_be_an_id(ident: str) -> None:
    with pytest.raises(ValueError, match="id prefix"):
        distribution_svg({"x": 1}, ident=ident, title="t", xlabel="x")
