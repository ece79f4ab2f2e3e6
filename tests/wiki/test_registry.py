"""The dbname -> Action API mapping of Wikimedia wikis and configured ones."""

from __future__ import annotations

import pytest

from wikiloom.errors import NotFound
from wikiloom.wiki.registry import api_url, wiki_language, wikimedia_dbname, wikimedia_host


@pytest.mark.parametrize(
    ("dbname", "host"),
    [
        ("enwiki", "en.wikipedia.org"),
        ("simplewiki", "simple.wikipedia.org"),
        ("zh_min_nanwiki", "zh-min-nan.wikipedia.org"),
        ("be_x_oldwiki", "be-tarask.wikipedia.org"),
        ("frwiktionary", "fr.wiktionary.org"),
        ("dewikibooks", "de.wikibooks.org"),
        ("enwikisource", "en.wikisource.org"),
        ("ptwikivoyage", "pt.wikivoyage.org"),
        ("wikidatawiki", "www.wikidata.org"),
        ("commonswiki", "commons.wikimedia.org"),
        ("metawiki", "meta.wikimedia.org"),
        ("specieswiki", "species.wikimedia.org"),
        ("mediawikiwiki", "www.mediawiki.org"),
        ("testwiki", "test.wikipedia.org"),
        ("enwikinews", "en.wikinews.org"),
        ("itwikiquote", "it.wikiquote.org"),
        ("eswikiversity", "es.wikiversity.org"),
        ("dewikimedia", "de.wikimedia.org"),
        ("foundationwiki", "foundation.wikimedia.org"),
    ],
)
def test_wikimedia_dbnames_name_their_hosts(dbname: str, host: str) -> None:
    assert wikimedia_host(dbname) == host
    assert wikimedia_dbname(host) == dbname
    assert api_url(dbname) == f"https://{host}/w/api.php"


def test_configured_wikis_come_first_and_unknown_names_are_refused() -> None:
    local = {"testwiki": "http://127.0.0.1:8080/api.php", "enwiki": "http://mirror/api.php"}
    assert api_url("testwiki", local) == "http://127.0.0.1:8080/api.php"
    assert api_url("enwiki", local) == "http://mirror/api.php"
    for bad in ("", "wiki", "Enwiki", "en.wikipedia.org", "9wiki"):
        with pytest.raises(NotFound, match="unknown wiki"):
            api_url(bad)


def test_hosts_that_are_not_wikimedia_wikis_have_no_dbname() -> None:
    for host in ("example.org", "www.wikipedia.org", "m.wikipedia.org", "wikipedia.org"):
        assert wikimedia_dbname(host) is None
    assert wikimedia_dbname("https://EN.wikipedia.org/wiki/Loom") == "enwiki"


def test_the_content_language_of_a_wiki() -> None:
    assert wiki_language("enwiki") == "en"
    assert wiki_language("zh_min_nanwiki") == "zh-min-nan"
    assert wiki_language("frwiktionary") == "fr"
    assert wiki_language("commonswiki") == "en"
    assert wiki_language("wikidatawiki", default="mul") == "mul"
    assert wiki_language("testwiki_local") == "en"
    assert wiki_language("testwiki") == "en"
    assert wiki_language("dewiki", {"dewiki": "http://127.0.0.1/api.php"}) == "en"
