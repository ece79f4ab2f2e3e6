"""Model cards: every section, three markups, plots, and a page on the real MediaWiki."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.mediawiki import MediaWiki
from tests.wiki.conftest import AGENT, client_of
from wikiloom.db import transaction
from wikiloom.errors import NotFound
from wikiloom.learn.cards import (
    SECTIONS,
    card_markdown,
    card_wikitext,
    model_card,
    publish_card,
    thresholds_of,
)
from wikiloom.learn.plots import PLOTS, plot_svg
from wikiloom.learn.registry import (
    TrainedModel,
    create_model,
    events_of,
    get_version,
    register_version,
    set_status,
)


def card_of(session: Session, trained: TrainedModel) -> dict[str, object]:
    model = create_model(session, "enwiki", "reverted", "reverted", actor="Builder")
    register_version(session, model, trained, actor="Builder")
    set_status(session, model, "trial", actor="Patroller", reason="a month on RecentChanges")
    return model_card(model, get_version(session, model), events_of(session, model))


def test_a_card_has_every_section_with_real_figures(
    sessions: sessionmaker[Session], sample_model: TrainedModel
) -> None:
    with transaction(sessions, write=True) as session:
        card = card_of(session, sample_model)
    assert list(card) == [key for key, _ in SECTIONS]
    details = card["model_details"]
    assert details["version"] == "1.0"  # type: ignore[index]
    assert details["labels"] == ["false", "true"]  # type: ignore[index]
    assert len(details["file"]["sha256"]) == 64  # type: ignore[index]
    metrics = card["metrics"]
    assert 0.5 < metrics["roc_auc"]["true"] < 1  # type: ignore[index]
    named = metrics["thresholds"]  # type: ignore[index]
    assert set(named) == {"likelygood", "maybebad", "likelybad", "verylikelybad"}
    assert named["maybebad"]["entry"]["recall"] >= 0.9
    groups = card["factors"]["evaluated"]["revision.user.is_anon"]["groups"]  # type: ignore[index]
    assert set(groups) == {"registered editors", "anonymous (IP) editors"}
    assert sum(group["n"] for group in groups.values()) == 1500
    assert card["training_data"]["label_counts"] == {"false": 1350, "true": 150}  # type: ignore[index]
    assert card["evaluation_data"]["method"] == "cross-validation"  # type: ignore[index]
    governance = card["governance"]
    assert governance["status"] == "trial"  # type: ignore[index]
    assert [e["kind"] for e in governance["log"]][-1] == "status"  # type: ignore[index]


def test_markdown_and_wikitext_write_the_same_sections(
    sessions: sessionmaker[Session], sample_model: TrainedModel
) -> None:
    with transaction(sessions, write=True) as session:
        card = card_of(session, sample_model)
    markdown, wikitext = card_markdown(card), card_wikitext(card)
    assert markdown.startswith("# Model card: enwiki reverted 1.0\n")
    assert wikitext.startswith("= Model card: enwiki reverted 1.0 =\n")
    for _, heading in SECTIONS:
        assert f"\n## {heading}\n" in markdown
        assert f"\n== {heading} ==\n" in wikitext
    assert "maximum recall @ precision >= 0.9" in markdown
    assert "proposed → trial by Patroller: a month on RecentChanges" in markdown
    assert '{| class="wikitable"' in wikitext
    assert "<nowiki>" in wikitext  # values cannot inject markup into the page


def test_named_thresholds_only_for_binary_models() -> None:
    assert thresholds_of({"thresholds": {"FA": [], "GA": []}}) == {}
    unreachable = thresholds_of({"thresholds": {"true": [], "false": []}})
    assert unreachable["likelybad"]["entry"] is None


def test_plots_are_svg_documents(sample_model: TrainedModel) -> None:
    for kind in PLOTS:
        svg = plot_svg(sample_model.statistics, kind, "true")
        assert svg.startswith("<?xml")
        assert "<svg" in svg
        assert "<path" in svg
    with pytest.raises(NotFound, match="no plot 'pie'"):
        plot_svg(sample_model.statistics, "pie", "true")
    with pytest.raises(NotFound, match="no label 'maybe'"):
        plot_svg(sample_model.statistics, "roc", "maybe")


@pytest.mark.anyio
async def test_a_card_is_published_as_a_page_of_the_real_wiki(
    mediawiki: MediaWiki, sessions: sessionmaker[Session], sample_model: TrainedModel
) -> None:
    with transaction(sessions, write=True) as session:
        card = card_of(session, sample_model)
    title = f"Project:Model cards/{uuid.uuid4().hex[:8]}"
    client = client_of(mediawiki)
    await client.login(mediawiki.dbname, mediawiki.bot.username, mediawiki.bot.password)
    result = await publish_card(client, mediawiki.dbname, title, card)
    await client.aclose()
    assert result["result"] == "Success"
    with httpx.Client(headers={"User-Agent": AGENT}) as http:
        page = http.get(
            mediawiki.api_url,
            params={
                "action": "parse",
                "page": title,
                "prop": "text|sections",
                "format": "json",
                "formatversion": "2",
            },
        ).json()["parse"]
    headings = [section["line"] for section in page["sections"]]
    assert "Model details" in headings
    assert "Governance" in headings
    assert "wikitable" in page["text"]
    assert "maximum recall @ precision &gt;= 0.9" in page["text"]
