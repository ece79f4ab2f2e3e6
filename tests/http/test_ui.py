"""The labeling app's pages, configuration and gadget loader, in process."""

from __future__ import annotations

import re

import orjson
import pytest

from tests.http.conftest import client_for
from tests.labels.factories import campaign_with_tasks
from wikiloom.config import Settings
from wikiloom.db import make_engine, session_factory, transaction

pytestmark = pytest.mark.anyio
CONFIG = re.compile(r'<script type="application/json" id="wikiloom-config">(.*?)</script>', re.S)


def seed(settings: Settings, name: str = "test campaign") -> int:
    engine = make_engine(settings)
    with transaction(session_factory(engine), write=True) as session:
        found = campaign_with_tasks(session, 3, name=name).id
    engine.dispose()
    return found


async def test_the_wiki_list_names_wikis_with_open_campaigns(app_settings: Settings) -> None:
    seed(app_settings)
    async with client_for(app_settings, None) as client:
        answer = await client.get("/ui/")
    assert answer.status_code == 200
    assert '<a href="/ui/enwiki/">enwiki</a>' in answer.text
    assert "(one open campaign)" in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]


async def test_the_labeling_page_embeds_its_configuration(app_settings: Settings) -> None:
    seed(app_settings, name="</script><script>alert(1)</script>")
    async with client_for(app_settings, None) as client:
        answer = await client.get("/ui/enwiki/")
    assert answer.status_code == 200
    found = CONFIG.search(answer.text)
    assert found is not None
    config = orjson.loads(found.group(1).replace("\\u003c", "<").replace("\\u003e", ">"))
    assert config["wiki"] == "enwiki"
    assert config["api"] == "https://en.wikipedia.org/w/api.php"
    assert config["server"] == "http://127.0.0.1"
    assert (config["lang"], config["dir"], config["chain"]) == ("en", "ltr", ["en"])
    assert config["messages"]["wikiloom-app-submit"] == "Submit"
    assert config["devLogin"] is True
    assert config["campaigns"][0]["name"] == "</script><script>alert(1)</script>"
    assert "<script>alert(1)" not in answer.text  # escaped in the JSON and in the HTML


async def test_the_wiki_language_and_direction(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        arabic = (await client.get("/ui/arwiki/app.json")).json()
        brazilian = (await client.get("/ui/enwiki/app.json?uselang=pt-br")).json()
        keys = (await client.get("/ui/enwiki/app.json?uselang=qqx")).json()
        page = await client.get("/ui/hewiki/")
    assert (arabic["lang"], arabic["dir"]) == ("ar", "rtl")
    assert brazilian["chain"] == ["pt-br", "pt", "en"]
    assert keys["messages"]["wikiloom-app-submit"] == "(wikiloom-app-submit)"
    assert keys["dir"] == "ltr"
    assert '<html lang="he" dir="rtl">' in page.text


async def test_qqx_shows_message_keys_on_pages(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        answer = await client.get("/ui/?uselang=qqx")
    assert "(wikiloom-ui-wikis-title)" in answer.text
    assert "(wikiloom-nav-labeling)" in answer.text


async def test_an_unknown_wiki_is_404(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        assert (await client.get("/ui/nosuchthing/")).status_code == 404
        assert (await client.get("/ui/nosuchthing/app.json")).status_code == 404


async def test_the_gadget_loader_points_at_this_server(app_settings: Settings) -> None:
    async with client_for(app_settings, None) as client:
        answer = await client.get("/gadget/loader.js")
        module = await client.get(
            "/static/ui/app.js", headers={"Origin": "https://en.wikipedia.org"}
        )
        foreign = await client.get("/static/ui/app.js", headers={"Origin": "https://evil.example"})
    assert answer.headers["content-type"].startswith("text/javascript")
    assert 'var server = "http://127.0.0.1";' in answer.text
    assert "/ui/" in answer.text
    assert "app.json" in answer.text
    # The wiki page imports our modules across origins: CORS for gadget origins only.
    assert module.headers["access-control-allow-origin"] == "https://en.wikipedia.org"
    assert "access-control-allow-origin" not in foreign.headers
