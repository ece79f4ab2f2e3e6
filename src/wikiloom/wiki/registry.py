"""Which wiki a dbname names, and back: Wikimedia's naming rules plus configured wikis."""

from __future__ import annotations

import re
from collections.abc import Mapping

from wikiloom.errors import NotFound

#: Wikis whose host does not follow `<language>.<project>.org`.
SPECIAL_HOSTS = {
    "commonswiki": "commons.wikimedia.org",
    "metawiki": "meta.wikimedia.org",
    "specieswiki": "species.wikimedia.org",
    "incubatorwiki": "incubator.wikimedia.org",
    "outreachwiki": "outreach.wikimedia.org",
    "wikimaniawiki": "wikimania.wikimedia.org",
    "foundationwiki": "foundation.wikimedia.org",
    "mediawikiwiki": "www.mediawiki.org",
    "wikidatawiki": "www.wikidata.org",
    "testwikidatawiki": "test.wikidata.org",
    "testcommonswiki": "test-commons.wikimedia.org",
    "wikifunctionswiki": "www.wikifunctions.org",
    "sourceswiki": "wikisource.org",
    "be_x_oldwiki": "be-tarask.wikipedia.org",
}
#: dbname suffix -> project domain; `wiki` alone is Wikipedia.
PROJECTS = {
    "wiktionary": "wiktionary.org",
    "wikibooks": "wikibooks.org",
    "wikinews": "wikinews.org",
    "wikiquote": "wikiquote.org",
    "wikisource": "wikisource.org",
    "wikiversity": "wikiversity.org",
    "wikivoyage": "wikivoyage.org",
    "wikimedia": "wikimedia.org",  # chapters: dewikimedia -> de.wikimedia.org
    "wiki": "wikipedia.org",
}
LANGUAGE = re.compile(r"[a-z][a-z0-9_]*")


def wikimedia_host(dbname: str) -> str | None:
    """The host of a Wikimedia wiki (`enwiki` -> `en.wikipedia.org`), or None."""
    if dbname in SPECIAL_HOSTS:
        return SPECIAL_HOSTS[dbname]
    for suffix, domain in PROJECTS.items():
        language = dbname.removesuffix(suffix)
        if language != dbname and LANGUAGE.fullmatch(language):
            return f"{language.replace('_', '-')}.{domain}"
    return None


def wikimedia_dbname(host: str) -> str | None:
    """The dbname of a Wikimedia host (`en.wikipedia.org` -> `enwiki`), or None."""
    host = host.lower().removeprefix("https://").split("/")[0]
    for dbname, special in SPECIAL_HOSTS.items():
        if host == special:
            return dbname
    language, _, domain = host.partition(".")
    suffix = {project_domain: name for name, project_domain in PROJECTS.items()}.get(domain)
    if suffix is None or language in ("www", "m"):
        return None
    dbname = f"{language.replace('-', '_')}{suffix}"
    return dbname if wikimedia_host(dbname) == host else None


def api_url(dbname: str, custom: Mapping[str, str] | None = None) -> str:
    """The Action API endpoint (`…/w/api.php`) of a wiki named by its dbname."""
    if custom and dbname in custom:
        return custom[dbname]
    host = wikimedia_host(dbname)
    if host is None:
        raise NotFound(f"unknown wiki {dbname!r}: not a Wikimedia dbname nor a configured wiki")
    return f"https://{host}/w/api.php"


#: Subdomains that name a test wiki, not a language.
TEST_SUBDOMAINS = frozenset({"test", "test2"})


def wiki_language(dbname: str, custom: Mapping[str, str] | None = None, default: str = "en") -> str:
    """The content language of a Wikimedia wiki by its dbname (`dewiki` -> `de`), else `default`.

    Multilingual wikis (Commons, Wikidata, Meta), test wikis and configured wikis get
    `default`.
    """
    if dbname in SPECIAL_HOSTS or (custom and dbname in custom):
        return default
    host = wikimedia_host(dbname)
    language = None if host is None else host.split(".")[0]
    return default if language is None or language in TEST_SUBDOMAINS else language
