"""Article-quality features of a revision's wikitext for the wp10 scale (FA, GA, B, C, Start, Stub).

Counts come from regular expressions over the text, except template names, which need a
parser to be right (names inside comments, `<nowiki>`, `{{{parameters}}}`, names that span
lines or hold comments): those come from `mwparserfromhell`, parsed once per revision,
and are sorted into kinds by the language's template lists (`wordlists/<language>/`:
citations, infoboxes, maintenance, reference lists, stubs).
"""

from __future__ import annotations

import re

import mwparserfromhell

from wikiloom.learn.revisionfeatures import RevisionTransformer, text_of
from wikiloom.learn.tokens import WORD_SCAN_RE
from wikiloom.learn.wordlists import TemplateLists, load_templates, template_name
from wikiloom.wiki.revisions import Revision

ARTICLE_QUALITY_FEATURES: tuple[str, ...] = (
    "text.chars",
    "text.bytes",
    "text.words",
    "sections.level2",
    "sections.level3",
    "refs.tags",
    "refs.citation_templates",
    "refs.has_list",
    "refs.per_kword",
    "files.links",
    "files.in_templates",
    "templates.count",
    "templates.infobox",
    "templates.maintenance",
    "templates.stub",
    "links.wikilinks",
    "links.per_kword",
    "links.external",
    "categories",
    "lists.items",
    "tables",
    "text_deleted",
)

HEADING_RE = re.compile(r"^(={2,6})[^=\n]", re.MULTILINE)
REF_TAG_RE = re.compile(r"<ref(?:\s[^<>]*)?/?>", re.IGNORECASE)
REFERENCES_TAG_RE = re.compile(r"<references\b", re.IGNORECASE)
FILE_LINK_RE = re.compile(r"\[\[[^\S\n]*(?:file|image)[^\S\n]*:", re.IGNORECASE)
GALLERY_RE = re.compile(r"<gallery\b[^>]*>(.*?)</gallery>", re.IGNORECASE | re.DOTALL)
FILE_NAME_RE = re.compile(r"\.(?:jpe?g|png|svg|gif|tiff?|webp|ogg|ogv|webm)\b", re.IGNORECASE)
TEMPLATE_FILE_RE = re.compile(
    r"\|[^=|{}\[\]\n]*=[^|{}\[\]\n]*\.(?:jpe?g|png|svg|gif|tiff?|webp)\b", re.IGNORECASE
)
CATEGORY_RE = re.compile(r"\[\[[^\S\n]*category[^\S\n]*:", re.IGNORECASE)
LIST_ITEM_RE = re.compile(r"^[*#]", re.MULTILINE)


def article_row(text: str, templates: TemplateLists) -> list[float]:
    """The article-quality features of one wikitext (without the `text_deleted` flag)."""
    words = sum(1 for word in WORD_SCAN_RE.findall(text) if word)
    levels = [len(marks) for marks in HEADING_RE.findall(text)]
    ref_tags = len(REF_TAG_RE.findall(text))
    citations = infoboxes = maintenance = stubs = reflists = total = 0
    for template in mwparserfromhell.parse(text).filter_templates(recursive=True):
        total += 1
        name = template_name(template.name.strip_code())
        if name is None:
            continue
        citations += templates.citations.fullmatch(name) is not None
        infoboxes += templates.infoboxes.fullmatch(name) is not None
        maintenance += templates.maintenance.fullmatch(name) is not None
        stubs += templates.stubs.fullmatch(name) is not None
        reflists += templates.reflists.fullmatch(name) is not None
    file_links = len(FILE_LINK_RE.findall(text))
    gallery = sum(len(FILE_NAME_RE.findall(body)) for body in GALLERY_RE.findall(text))
    categories = len(CATEGORY_RE.findall(text))
    wikilinks = text.count("[[") - file_links - categories
    per_kword = 1000 / words if words else 0.0
    return [
        len(text),
        len(text.encode()),
        words,
        levels.count(2),
        levels.count(3),
        ref_tags,
        citations,
        bool(reflists or REFERENCES_TAG_RE.search(text)),
        (ref_tags + citations) * per_kword,
        file_links + gallery,
        len(TEMPLATE_FILE_RE.findall(text)),
        total,
        bool(infoboxes),
        maintenance,
        bool(stubs),
        wikilinks,
        wikilinks * per_kword,
        text.count("://") + text.count("[//"),
        categories,
        len(LIST_ITEM_RE.findall(text)),
        text.count("{|"),
    ]


class ArticleQualityFeatures(RevisionTransformer):
    """Article-quality features of each revision's text, for wp10 classes.

    Columns, in order, are `ARTICLE_QUALITY_FEATURES`: characters, UTF-8 bytes and word
    tokens of the wikitext (as `tokenize` finds them: not in URLs or tags); level-2 and
    level-3 headings (sections and subsections); ``<ref>`` tags, citation templates,
    whether a reference list is shown (``<references`` or a reference-list template) and
    references (tags plus citation templates) per 1,000 words; file links (``[[File:``,
    ``[[Image:`` and gallery lines) and file names given to template parameters (infobox
    images); templates in all, an infobox, maintenance and cleanup templates, a stub
    template; wikilinks (other than files and categories) in all and per 1,000 words,
    external links, categories; list items (lines starting with ``*`` or ``#``) and
    tables; and ``text_deleted`` for a hidden text.

    Parameters
    ----------
    language : str, default="en"
        The language code whose template lists (``wordlists/<language>``) sort templates
        into citations, infoboxes, maintenance tags, reference lists and stubs.
    deleted : {"empty", "raise"}, default="empty"
        For a hidden text: compute the features of an empty text and set ``text_deleted``,
        or raise `TextDeleted`.

    Attributes
    ----------
    name : str
        The feature set's name, half of its feature-store key.
    version : int
        The feature set's version, bumped whenever a value could change.

    Examples
    --------
    >>> features = ArticleQualityFeatures()
    >>> features.get_feature_names_out()[0]
    'text.chars'
    """

    name = "articlequality"
    version = 1
    feature_names = ARTICLE_QUALITY_FEATURES

    def __init__(self, language: str = "en", deleted: str = "empty") -> None:
        self.language = language
        self.deleted = deleted

    @property
    def key(self) -> str:
        """The feature-store key: name, language, version and the template lists' fingerprint."""
        return self.fingerprinted(load_templates(self.language).digest, self.language)

    def row(self, revision: Revision) -> list[float]:
        """The feature values of one revision, in `ARTICLE_QUALITY_FEATURES` order."""
        text, hidden = text_of(revision, self.deleted)
        values = article_row(text, load_templates(self.language))
        return [float(value) for value in values] + [float(hidden)]
