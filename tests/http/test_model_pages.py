"""Model pages over HTTP on every engine: list, model, version, 404s, escaping, CSP."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
from sqlalchemy.orm import Session

from tests.http.conftest import client_for
from tests.support.models import SAMPLE
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction
from wikiloom.learn.cards import SECTIONS, thresholds_of
from wikiloom.learn.datasets import read_dataset
from wikiloom.learn.plots import PLOTS
from wikiloom.learn.registry import (
    TrainedModel,
    create_model,
    get_model,
    get_version,
    register_version,
    set_status,
)
from wikiloom.learn.training import TrainingOptions, train

T = TypeVar("T")
SVG = "{http://www.w3.org/2000/svg}svg"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@dataclass
class Element:
    """One element of a parsed page: its tag, attributes, text and children."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        """The descendants with the tag, class and attribute values asked for."""
        found = []
        for child in self.children:
            wanted = (tag is None or child.tag == tag) and (cls is None or cls in child.classes())
            if wanted and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(child)
            found.extend(child.all(tag, cls, **attrs))
        return found

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        (found,) = self.all(tag, cls, **attrs)
        return found

    def words(self) -> str:
        return " ".join(self.text.split())


class Page(HTMLParser):
    """An HTML page as a tree of `Element`s (enough of HTML for our own templates)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.root = Element("#root", {})
        self.stack = [self.root]
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data

    def by_id(self, id_: str) -> Element:
        return self.root.one(id=id_)


@pytest.fixture(scope="module")
def three_classes() -> TrainedModel:
    """A model of three labels: `bad` (reverted edits), `big` and `small` (the others)."""
    dataset = read_dataset(SAMPLE, "reverted")
    words = dataset.X[:, dataset.features.index("wikitext.revision.diff.words_added")]
    big = np.where(words > np.nanmedian(words), "big", "small")
    labels = np.where(dataset.y.astype(bool), "bad", big).astype(object)
    return train(dataclasses.replace(dataset, y=labels), TrainingOptions(params={"max_iter": 20}))


def in_database(settings: Settings, work: Callable[[Session], T]) -> T:
    """Run `work` in one written transaction of the test's database."""
    engine = make_engine(settings)
    try:
        with transaction(session_factory(engine), write=True) as session:
            return work(session)
    finally:
        engine.dispose()


def walk(element: Element) -> Iterator[Element]:
    """Every descendant of an element, depth first."""
    for child in element.children:
        yield child
        yield from walk(child)


async def page(client: httpx.AsyncClient, path: str, status: int = 200) -> Page:
    """GET an HTML page, check its status, type and CSP, and parse it."""
    answer = await client.get(path)
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    return Page(answer.text)


def stored(settings: Settings, version: str | None = None) -> dict[str, Any]:
    """The stored statistics and creation time of a version of enwiki's `reverted`."""

    def work(session: Session) -> dict[str, Any]:
        row = get_version(session, get_model(session, "enwiki", "reverted"), version)
        return {"statistics": row.statistics, "created": row.created, "version": row.version}

    return in_database(settings, work)


def metric_value(cell: Element) -> float:
    return float(cell.attrs["data-value"])


@pytest.mark.anyio
async def test_the_list_shows_models_with_status_and_stored_figures(served: Settings) -> None:
    def more(session: Session) -> None:
        create_model(session, "enwiki", "draft", "damaging", description="not trained yet")
        create_model(session, "dewiki", "elsewhere", "damaging")

    in_database(served, more)
    version = stored(served)
    statistics = version["statistics"]
    async with client_for(served, None) as http:
        listing = await page(http, "/ui/enwiki/models/")
        empty = await page(http, "/ui/frwiki/models/")
    rows = listing.by_id("models-list").all("tr", cls="wl-model-row")
    assert [row.attrs["data-model"] for row in rows] == ["draft", "reverted"]
    reverted = listing.by_id("model-reverted")
    assert reverted.one(cls="wl-model-status").attrs["data-status"] == "active"
    assert reverted.one(cls="wl-model-version").words() == version["version"] == "1.0"
    link = reverted.one(cls="wl-model-name").one("a")
    assert link.attrs["href"] == "/ui/enwiki/models/reverted/"
    expected = {
        "roc_auc": statistics["roc_auc"]["labels"]["true"],
        "pr_auc": statistics["pr_auc"]["labels"]["true"],
        "accuracy": statistics["accuracy"]["micro"],
    }
    for name, value in expected.items():
        cell = reverted.one("td", data_metric=name)
        assert metric_value(cell) == value
        assert cell.words() == f"{value:.3f}"
    trained = reverted.one(cls="wl-model-trained").one("time")
    assert trained.attrs["datetime"] == version["created"].isoformat()
    draft = listing.by_id("model-draft")
    assert draft.one(cls="wl-model-status").attrs["data-status"] == "proposed"
    assert "not trained yet" in draft.words()
    assert all(cell.attrs["data-value"] == "" for cell in draft.all("td", cls="wl-model-metric"))
    assert "elsewhere" not in listing.html  # another wiki's model
    assert empty.by_id("models-none")
    assert not empty.root.all(id="models-list")


@pytest.mark.anyio
async def test_the_model_page_shows_versions_card_plots_and_history(
    served: Settings, sample_trained: TrainedModel
) -> None:
    def change(session: Session) -> None:
        model = get_model(session, "enwiki", "reverted")
        register_version(session, model, sample_trained, version="2.0", actor="Builder")
        set_status(session, model, "paused", actor="Patroller", reason="false positives on RC")

    in_database(served, change)
    current = stored(served)
    async with client_for(served, None) as http:
        shown = await page(http, "/ui/enwiki/models/reverted/")
        again = await page(http, "/ui/enwiki/models/reverted/")
    assert shown.by_id("model-status").attrs["data-status"] == "paused"
    versions = shown.by_id("model-versions").all("tr", cls="wl-version-row")
    assert [row.attrs["data-version"] for row in versions] == ["2.0", "1.0"]
    assert [
        row.attrs["data-version"] for row in versions if "wl-version-current" in row.classes()
    ] == ["1.0"]
    assert "Builder" in versions[0].one(cls="wl-version-by").words()
    assert "enwiki.reverted.sample.csv" in versions[0].one(cls="wl-version-data").words()
    roc = versions[1].one("td", data_metric="roc_auc")
    assert metric_value(roc) == current["statistics"]["roc_auc"]["labels"]["true"]
    card = shown.by_id("model-card")
    assert card.attrs["data-version"] == "1.0"
    assert [s.attrs["id"] for s in card.all("section")] == [f"card-{key}" for key, _ in SECTIONS]
    assert "enwiki.reverted.sample.csv" in shown.by_id("card-training_data").words()
    assert "cross-validation" in shown.by_id("card-evaluation_data").words()
    metrics = shown.by_id("card-metrics-table")
    cell = metrics.one("td", data_metric="pr_auc", data_label="false")
    assert metric_value(cell) == current["statistics"]["pr_auc"]["labels"]["false"]
    named = thresholds_of(current["statistics"])
    rows = shown.by_id("card-thresholds").all("tr", cls="wl-threshold")
    assert [row.attrs["data-threshold"] for row in rows] == list(named)
    maybebad = shown.by_id("card-thresholds").one("tr", data_threshold="maybebad")
    assert (
        metric_value(maybebad.one("td", data_metric="threshold"))
        == (named["maybebad"]["entry"]["threshold"])
    )
    assert [f.attrs["id"] for f in shown.by_id("card-plots").all("figure")] == [
        f"plot-{kind}-true" for kind in PLOTS
    ]
    for kind in PLOTS:
        figure = shown.by_id(f"plot-{kind}-true")
        assert figure.one("svg").attrs["aria-labelledby"] == f"plot-{kind}-true-caption"
    svgs = shown.html.split("<svg ")[1:]
    assert len(svgs) == len(PLOTS)
    for text in svgs:
        root = ET.fromstring("<svg " + text.split("</svg>")[0] + "</svg>")
        assert root.tag == SVG
        assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 10
    ids = Counter(element.attrs["id"] for element in walk(shown.root) if "id" in element.attrs)
    assert [name for name, count in ids.items() if count > 1] == []
    events = shown.by_id("model-history").all("tr", cls="wl-model-event")
    kinds = [event.attrs["data-kind"] for event in events]
    assert kinds == ["status", "registered", "status", "current_version", "registered", "created"]
    paused = events[0]
    assert (paused.attrs["data-old"], paused.attrs["data-new"]) == ("active", "paused")
    assert paused.one(cls="wl-model-event-reason").words() == "false positives on RC"
    assert paused.one(cls="wl-model-event-actor").words() == "Patroller"
    assert shown.by_id("model-api-unserved")  # paused: the API links answer 404 now
    assert (
        again.by_id("plot-roc-true").one("svg").attrs
        == shown.by_id("plot-roc-true").one("svg").attrs
    )


@pytest.mark.anyio
async def test_the_api_links_lead_to_the_models_information(served: Settings) -> None:
    async with client_for(served, None) as http:
        shown = await page(http, "/ui/enwiki/models/reverted/")
        ores = await http.get(shown.by_id("model-api-ores").attrs["href"])
        liftwing = await http.get(shown.by_id("model-api-liftwing").attrs["href"])
    assert not shown.root.all(id="model-api-unserved")
    info = ores.json()["enwiki"]["models"]["reverted"]
    assert info["version"] == "1.0"
    assert "statistics" in info
    assert liftwing.json() == {"name": "enwiki-reverted", "ready": True}
    assert "POST /v1/models/enwiki-reverted:predict" in shown.by_id("model-api-predict").words()


@pytest.mark.anyio
async def test_a_version_page_shows_that_versions_card(
    served: Settings, sample_trained: TrainedModel
) -> None:
    def change(session: Session) -> None:
        model = get_model(session, "enwiki", "reverted")
        register_version(session, model, sample_trained, version="2.0", actor="Builder")

    in_database(served, change)
    second = stored(served, "2.0")
    async with client_for(served, None) as http:
        shown = await page(http, "/ui/enwiki/models/reverted/versions/2.0/")
        first = await page(http, "/ui/enwiki/models/reverted/versions/1.0/")
    assert shown.by_id("version-page").attrs["data-version"] == "2.0"
    assert shown.by_id("model-card").attrs["data-version"] == "2.0"
    assert shown.by_id("version-current").attrs["data-current"] == "false"
    assert first.by_id("version-current").attrs["data-current"] == "true"
    assert "Builder" in shown.by_id("version-trained-by").words()
    headline = shown.by_id("version-metrics").one("td", data_metric="roc_auc")
    assert metric_value(headline) == second["statistics"]["roc_auc"]["labels"]["true"]
    assert shown.by_id("version-trained").one("time").attrs["datetime"] == (
        second["created"].isoformat()
    )
    governance = shown.by_id("card-governance")
    assert governance.one(cls="wl-card-not-current")
    assert governance.one(id="model-history")  # the audit log inside the card here
    assert len(shown.html.split("<svg ")) == len(PLOTS) + 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/ui/enwiki/models/nope/",
        "/ui/dewiki/models/reverted/",
        "/ui/enwiki/models/reverted/versions/9.9/",
        "/ui/dewiki/models/reverted/versions/1.0/",
        "/ui/notawiki!/models/",
    ],
)
async def test_unknown_things_answer_an_html_404(served: Settings, path: str) -> None:
    async with client_for(served, None) as http:
        shown = await page(http, path, status=404)
    assert shown.by_id("models-not-found").words()


@pytest.mark.anyio
async def test_a_model_without_versions_has_a_page_without_a_card(served: Settings) -> None:
    in_database(served, lambda s: create_model(s, "enwiki", "draft", "damaging", actor="Builder"))
    async with client_for(served, None) as http:
        shown = await page(http, "/ui/enwiki/models/draft/")
    assert shown.by_id("model-no-version")
    assert not shown.root.all(id="model-card")
    (event,) = shown.by_id("model-history").all("tr", cls="wl-model-event")
    assert event.attrs["data-kind"] == "created"
    assert event.one(cls="wl-model-event-actor").words() == "Builder"


@pytest.mark.anyio
async def test_descriptions_and_comments_are_escaped(served: Settings) -> None:
    def change(session: Session) -> None:
        model = get_model(session, "enwiki", "reverted")
        model.description = f"Reverts {XSS}"
        set_status(session, model, "paused", actor=f"Mallory {XSS}", reason=f"because {XSS}")

    in_database(served, change)
    async with client_for(served, None) as http:
        pages = [
            await page(http, "/ui/enwiki/models/"),
            await page(http, "/ui/enwiki/models/reverted/"),
            await page(http, "/ui/enwiki/models/reverted/versions/1.0/"),
        ]
        missing = await page(http, "/ui/enwiki/models/<img src=x onerror=alert(1)>/", 404)
    for shown in [*pages, missing]:
        assert not shown.root.all("script")
        assert not [e for e in walk(shown.root) if any(a.startswith("on") for a in e.attrs)]
        assert "&lt;img src=x onerror=alert(1)&gt;" in shown.html
    listing, model, version = pages
    assert f"Reverts {XSS}" in listing.by_id("model-reverted").one(cls="wl-model-description").text
    assert model.by_id("model-description").text == f"Reverts {XSS}"
    paused = model.by_id("model-history").all("tr", data_kind="status")[0]
    assert paused.one(cls="wl-model-event-reason").text == f"because {XSS}"
    assert paused.one(cls="wl-model-event-actor").text == f"Mallory {XSS}"
    assert version.by_id("card-governance").all("tr", data_kind="status")


@pytest.mark.anyio
async def test_a_model_of_more_labels_shows_averages_and_every_labels_plots(
    served: Settings, three_classes: TrainedModel
) -> None:
    def add(session: Session) -> dict[str, Any]:
        model = create_model(session, "enwiki", "quality", "quality")
        return dict(register_version(session, model, three_classes).statistics)

    statistics = in_database(served, add)
    async with client_for(served, None) as http:
        listing = await page(http, "/ui/enwiki/models/")
        shown = await page(http, "/ui/enwiki/models/quality/")
    row = listing.by_id("model-quality")
    for name in ("roc_auc", "pr_auc", "accuracy"):
        assert metric_value(row.one("td", data_metric=name)) == statistics[name]["micro"]
    header = shown.by_id("card-metrics-table").all("th", scope="col")[1:]
    assert [cell.words() for cell in header] == ["bad", "big", "small"]
    assert not shown.root.all(id="card-thresholds")  # named thresholds are for binary models
    figures = shown.by_id("card-plots").all("figure")
    assert [f.attrs["id"] for f in figures] == [
        f"plot-{kind}-{label}" for label in ("bad", "big", "small") for kind in PLOTS
    ]
