"""Article-quality features of a wikitext, worked by hand, and the transformer's contract."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks

from tests.learn.test_editquality import CHECKS
from wikiloom.errors import TextDeleted
from wikiloom.learn.articlequality import ARTICLE_QUALITY_FEATURES, ArticleQualityFeatures
from wikiloom.wiki.revisions import Revision

ARTICLE = """{{Infobox loom
| name = Jacquard loom
| image = Jacquard.loom.jpg
}}
'''Loom''' is a [[device]] for [[weaving]] — old.<ref>{{cite book |title=Looms}}</ref>
{{citation needed}}

== History ==
Old looms.<ref name="a">Smith</ref> See http://example.org.
<!-- {{cleanup}} hidden -->

=== Modern ===
* One
* Two
# Three
[[File:Loom.jpg|thumb]]
<gallery>
A.jpg|a
B.png|b
</gallery>

{| class="wikitable"
| x
|}

== References ==
{{Reflist}}
<nowiki>{{stub}}</nowiki>
{{Loom-stub}}
[[Category:Tools]]
"""


def article(text: str | None) -> Revision:
    return Revision(
        wiki="enwiki",
        rev_id=1,
        parent_id=0,
        page_id=1,
        namespace=0,
        title="Loom",
        timestamp=dt.datetime(2015, 1, 1, tzinfo=dt.UTC),
        comment="",
        text=text,
        parent_text="",
        user_name="Weaver",
        user_id=7,
    )


def features(text: str | None, **params: Any) -> dict[str, float]:
    row = ArticleQualityFeatures(**params).transform([article(text)])[0]
    return dict(zip(ARTICLE_QUALITY_FEATURES, row.tolist(), strict=True))


def test_a_worked_article() -> None:
    values = features(ARTICLE)
    assert values["text.chars"] == len(ARTICLE)
    assert values["text.bytes"] == len(ARTICLE) + 2  # the em dash takes 3 bytes
    assert values["sections.level2"] == 2  # History, References
    assert values["sections.level3"] == 1  # Modern
    assert values["refs.tags"] == 2  # <ref>, <ref name="a"> (closing tags do not count)
    assert values["refs.citation_templates"] == 1  # cite book
    assert values["refs.has_list"] == 1  # {{Reflist}}
    assert values["refs.per_kword"] == pytest.approx(3 * 1000 / values["text.words"])
    assert values["files.links"] == 3  # [[File:Loom.jpg]], A.jpg and B.png in the gallery
    assert values["files.in_templates"] == 1  # image = Jacquard.loom.jpg
    # Infobox loom, cite book, citation needed, Reflist, Loom-stub; not the commented-out
    # cleanup nor the <nowiki> stub.
    assert values["templates.count"] == 5
    assert values["templates.infobox"] == 1
    assert values["templates.maintenance"] == 1  # citation needed
    assert values["templates.stub"] == 1  # Loom-stub
    assert values["links.wikilinks"] == 2  # device, weaving
    assert values["links.per_kword"] == pytest.approx(2 * 1000 / values["text.words"])
    assert values["links.external"] == 1
    assert values["categories"] == 1
    assert values["lists.items"] == 3  # * One, * Two, # Three
    assert values["tables"] == 1
    assert values["text_deleted"] == 0


def test_words_leave_out_urls_tags_and_numbers() -> None:
    text = "'''Loom''' — a [[device]] (see http://example.org/x), <ref name=a>Smith 2000</ref>."
    values = features(text)
    assert values["text.words"] == 5  # Loom a device see Smith
    assert values["refs.tags"] == 1
    assert values["refs.has_list"] == 0
    assert values["templates.count"] == 0


def test_non_latin_article() -> None:
    values = features("== इतिहास ==\nवसा अर्थात चिकनाई शरीर को।\n{{ज्ञानसन्दूक}}")
    # इतिहास वसा अर्थात चिकनाई शरीर को, and the template's name: words of the wikitext.
    assert values["text.words"] == 7
    assert values["sections.level2"] == 1
    assert values["templates.count"] == 1
    assert values["templates.infobox"] == 0  # the English lists do not know it


def test_empty_and_hidden_texts() -> None:
    empty = features("")
    assert all(value == 0 for value in empty.values())
    hidden = features(None)
    assert hidden["text_deleted"] == 1
    assert hidden["text.chars"] == 0
    with pytest.raises(TextDeleted):
        features(None, deleted="raise")
    with pytest.raises(ValueError, match="deleted='skip'"):
        features("x", deleted="skip")


def test_transform_many_and_none() -> None:
    transformer = ArticleQualityFeatures()
    matrix = transformer.fit([article("a")]).transform([article(ARTICLE), article("Stub.")])
    assert matrix.shape == (2, len(ARTICLE_QUALITY_FEATURES))
    assert matrix.dtype == np.float64
    assert transformer.transform([]).shape == (0, len(ARTICLE_QUALITY_FEATURES))
    assert list(transformer.get_feature_names_out()) == list(ARTICLE_QUALITY_FEATURES)
    assert transformer.key.startswith("articlequality/en/v1/")
    assert clone(transformer).get_params() == {"language": "en", "deleted": "empty"}


@pytest.mark.parametrize("check", CHECKS)
def test_scikit_learn_checks(check: str) -> None:
    # The checks that feed numeric arrays cannot apply to records; see test_editquality.
    getattr(estimator_checks, check)("ArticleQualityFeatures", ArticleQualityFeatures())
