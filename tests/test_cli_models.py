"""`wikiloom models`: the registry from the command line, a card published on the real wiki."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from tests.support.mediawiki import USER_AGENT, MediaWiki
from wikiloom.cli import app
from wikiloom.config import Settings

SAMPLE = Path(__file__).parent / "data" / "editquality" / "enwiki.reverted.sample.csv"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A command line on the test's database with one trained model, enwiki reverted 1.0."""
    monkeypatch.setenv("WIKILOOM_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    trained = runner.invoke(
        app, ["train", "--from-file", str(SAMPLE), "--label", "reverted", "-p", "max_iter=30",
              "--actor", "Builder"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    return runner


def test_list_show_status_and_current(cli: CliRunner) -> None:
    listed = cli.invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert orjson.loads(listed.stdout) == {
        "wiki": "enwiki", "name": "reverted", "predicts": "reverted", "status": "proposed",
        "current_version": "1.0",
    }  # fmt: skip
    assert cli.invoke(app, ["models", "list", "--wiki", "frwiki"]).stdout == ""
    moved = cli.invoke(
        app, ["models", "status", "enwiki", "reverted", "trial", "--reason", "try", "--actor", "P"]
    )
    assert moved.stdout.strip() == "enwiki reverted is trial"
    refused = cli.invoke(
        app, ["models", "status", "enwiki", "reverted", "proposed", "--reason", "", "--actor", "P"]
    )
    assert refused.exit_code == 1
    assert "a reason is required" in refused.stderr
    missing = cli.invoke(
        app, ["models", "current", "enwiki", "reverted", "7.0", "--reason", "x", "--actor", "P"]
    )
    assert missing.exit_code == 1
    assert "enwiki reverted has no version '7.0'" in missing.stderr
    shown = orjson.loads(cli.invoke(app, ["models", "show", "enwiki", "reverted"]).stdout)
    assert shown["status"] == "trial"
    assert [v["version"] for v in shown["versions"]] == ["1.0"]
    assert shown["versions"][0]["evaluation"] == "cross-validation"
    assert [e["kind"] for e in shown["log"]] == [
        "created", "registered", "current_version", "status",
    ]  # fmt: skip
    unknown = cli.invoke(app, ["models", "show", "enwiki", "goodfaith"])
    assert unknown.exit_code == 1
    assert "enwiki has no model named 'goodfaith'" in unknown.stderr


def test_cards_in_three_formats_with_plots(cli: CliRunner, tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    markdown = cli.invoke(app, ["models", "card", "enwiki", "reverted", "--plots", str(plots)])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.stdout.startswith("# Model card: enwiki reverted 1.0")
    assert sorted(path.name for path in plots.iterdir()) == [
        "enwiki.reverted.1.0.calibration.true.svg",
        "enwiki.reverted.1.0.precision_recall.true.svg",
        "enwiki.reverted.1.0.roc.true.svg",
    ]
    as_json = orjson.loads(
        cli.invoke(app, ["models", "card", "enwiki", "reverted", "--format", "json"]).stdout
    )
    assert as_json["model_details"]["trained_by"] == "Builder"
    wikitext = cli.invoke(app, ["models", "card", "enwiki", "reverted", "--format", "wikitext"])
    assert wikitext.stdout.startswith("= Model card: enwiki reverted 1.0 =")
    bad = cli.invoke(app, ["models", "card", "enwiki", "reverted", "--format", "pdf"])
    assert bad.exit_code == 1
    assert "--format is markdown, json or wikitext" in bad.stderr


def test_publish_writes_the_card_to_the_real_wiki_and_logs_it(
    cli: CliRunner, mediawiki: MediaWiki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIKILOOM_USER_AGENT", USER_AGENT)
    monkeypatch.setenv(
        "WIKILOOM_WIKIS", orjson.dumps({mediawiki.dbname: mediawiki.api_url}).decode()
    )
    title = f"Project:Models/{uuid.uuid4().hex[:8]}"
    command = ["models", "publish", "enwiki", "reverted", "--to-wiki", mediawiki.dbname,
               "--title", title]  # fmt: skip
    refused = cli.invoke(app, command)
    assert refused.exit_code == 1
    assert "log in with --username and --password" in refused.stderr
    wrong = cli.invoke(
        app, [*command, "--username", mediawiki.bot.username, "--password", "x" * 32]
    )
    assert wrong.exit_code == 1
    assert "refused the login" in wrong.stderr
    monkeypatch.setenv("WIKILOOM_BOT_USERNAME", mediawiki.bot.username)
    monkeypatch.setenv("WIKILOOM_BOT_PASSWORD", mediawiki.bot.password)
    published = cli.invoke(app, command)
    assert published.exit_code == 0, published.output
    assert f"published on {mediawiki.dbname}: {title}" in published.stdout
    with httpx.Client(headers={"User-Agent": USER_AGENT}) as http:
        page = http.get(
            mediawiki.api_url,
            params={
                "action": "query",
                "prop": "revisions",
                "titles": title,
                "rvprop": "content|user",
                "rvslots": "main",
                "format": "json",
                "formatversion": "2",
            },
        ).json()["query"]["pages"][0]["revisions"][0]
    assert page["slots"]["main"]["content"].startswith("= Model card: enwiki reverted 1.0 =")
    assert page["user"] == "Admin"
    log = orjson.loads(cli.invoke(app, ["models", "show", "enwiki", "reverted"]).stdout)["log"]
    assert log[-1]["kind"] == "published"
    assert log[-1]["new"] == f"{mediawiki.dbname}:{title}"
