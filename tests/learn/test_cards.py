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
from wikiloom.learn.governance import decide, open_request, requests_of
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


INJECTION = "Off [[Category:Injected]] {{Delete}} '''loud''' </nowiki><b>x</b> & more"


def governed_card(session: Session, trained: TrainedModel) -> dict[str, object]:
    """A card whose model has a decided and an open change request (#8)."""
    model = create_model(session, "enwiki", "reverted", "reverted", actor="Builder")
    register_version(session, model, trained, actor="Builder")
    set_status(session, model, "active", actor="Builder", reason="community vote")
    first = open_request(
        session, model, kind="threshold", title="Flag fewer edits", body="Too many.",
        details={"query": "maximum recall @ precision >= 0.95"}, user_id=1, user_name="Alice",
    )  # fmt: skip
    decide(session, model, first.id, status="declined", outcome="Recall would fall below 0.5.",
           user_id=2, user_name="Steward", may_decide=True)  # fmt: skip
    open_request(session, model, kind="turn_off", title=INJECTION, body="Please.", user_id=1,
                 user_name="Alice")  # fmt: skip
    set_status(session, model, "paused", actor="Steward", reason="false positives on IPs")
    requests = requests_of(session, model)
    return model_card(model, get_version(session, model), events_of(session, model), requests)


def test_a_card_lists_the_state_its_last_change_and_the_change_requests(
    sessions: sessionmaker[Session], sample_model: TrainedModel
) -> None:
    with transaction(sessions, write=True) as session:
        card = governed_card(session, sample_model)
    governance = card["governance"]
    assert governance["status"] == "paused"  # type: ignore[index]
    last = governance["last_change"]  # type: ignore[index]
    assert (last["old"], last["new"], last["actor"], last["reason"]) == (
        "active", "paused", "Steward", "false positives on IPs",
    )  # fmt: skip
    requests = governance["change_requests"]  # type: ignore[index]
    assert [(r["kind"], r["status"]) for r in requests] == [("turn_off", "open"),
                                                             ("threshold", "declined")]  # fmt: skip
    assert requests[1]["outcome"] == "Recall would fall below 0.5."
    assert requests[1]["decided_by"] == "Steward"
    assert requests[1]["url"] == f"/ui/enwiki/models/reverted/requests/{requests[1]['id']}/"
    assert governance["audit_log"] == "/audit/enwiki/?model=reverted"  # type: ignore[index]
    markdown, wikitext = card_markdown(card), card_wikitext(card)
    assert "| last change | " in markdown
    assert "active → paused by Steward: false positives on IPs" in markdown
    assert "| audit log | /audit/enwiki/?model=reverted |" in markdown
    assert "\n### Change requests\n" in markdown
    declined = f"- #{requests[1]['id']} Flag fewer edits (threshold, declined): Recall would "
    assert declined + "fall below 0.5. by Steward /ui/enwiki/models/reverted/requests/" in markdown
    assert "\n=== Change requests ===\n" in wikitext
    assert "[[Category:Injected]]" in wikitext  # shown as text, inside a nowiki:
    assert "&lt;/nowiki>&lt;b>x&lt;/b> &amp; more" in wikitext
    assert wikitext.count("<nowiki>") == wikitext.count("</nowiki>")


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # the markup: one engine is enough
@pytest.mark.anyio
async def test_change_requests_on_a_published_card_are_text_on_the_real_wiki(
    mediawiki: MediaWiki, sessions: sessionmaker[Session], sample_model: TrainedModel
) -> None:
    with transaction(sessions, write=True) as session:
        card = governed_card(session, sample_model)
    title = f"Project:Model cards/{uuid.uuid4().hex[:8]}"
    client = client_of(mediawiki)
    await client.login(mediawiki.dbname, mediawiki.bot.username, mediawiki.bot.password)
    await publish_card(client, mediawiki.dbname, title, card)
    await client.aclose()
    with httpx.Client(headers={"User-Agent": AGENT}) as http:
        page = http.get(
            mediawiki.api_url,
            params={"action": "parse", "page": title, "prop": "text|categories|templates",
                    "format": "json", "formatversion": "2"},
        ).json()["parse"]  # fmt: skip
    assert page["categories"] == []
    assert page["templates"] == []
    assert "Change requests" in page["text"]
    assert (
        "[[Category:Injected]] {{Delete}} '''loud''' &lt;/nowiki&gt;&lt;b&gt;x&lt;/b&gt;"
        in (page["text"])
    )
