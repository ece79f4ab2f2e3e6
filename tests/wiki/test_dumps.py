"""Reading MediaWiki XML dumps into revisions: a real enwiki sample, a history and our wiki."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import io
import itertools
import tracemalloc
from pathlib import Path

import pytest

from tests.support.mediawiki import SEED_EDITS, MediaWiki
from wikiloom.wiki.dumps import read_dump

SAMPLE = Path(__file__).parent.parent / "data" / "enwiki_sample" / "enwiki-sample-206-pages.xml.bz2"

HEADER = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xsi:schemaLocation="http://www.mediawiki.org/xml/export-0.10/
 http://www.mediawiki.org/xml/export-0.10.xsd" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Loomipedia</sitename>
    <dbname>loomwiki</dbname>
    <base>https://loom.example.org/wiki/Main_Page</base>
    <generator>MediaWiki 1.39.0</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="1" case="first-letter">Talk</namespace>
    </namespaces>
  </siteinfo>
"""

HISTORY = (
    HEADER
    + """  <page>
    <title>Talk:Shuttle</title>
    <ns>1</ns>
    <id>7</id>
    <revision>
      <id>100</id>
      <timestamp>2020-01-02T03:04:05Z</timestamp>
      <contributor>
        <username>Weaver</username>
        <id>42</id>
      </contributor>
      <comment>Start &amp; explain</comment>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text xml:space="preserve" bytes="23">A shuttle &lt;b&gt;flies&lt;/b&gt;.</text>
      <sha1>phoiac9h4m842xq45sp7s6u21eteeq1</sha1>
    </revision>
    <revision>
      <id>101</id>
      <parentid>100</parentid>
      <timestamp>2020-01-02T04:00:00Z</timestamp>
      <contributor deleted="deleted" />
      <minor />
      <comment deleted="deleted" />
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text xml:space="preserve" bytes="33">A shuttle flies through the warp.</text>
      <sha1>0000000000000000000000000000001</sha1>
    </revision>
    <revision>
      <id>102</id>
      <parentid>101</parentid>
      <timestamp>2020-01-03T00:00:00Z</timestamp>
      <contributor>
        <ip>192.0.2.7</ip>
      </contributor>
      <comment>vandalism</comment>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text deleted="deleted" />
      <sha1 />
    </revision>
  </page>
</mediawiki>
"""
)


def test_the_enwiki_sample_reads_as_206_current_revisions() -> None:
    revisions = list(read_dump(SAMPLE))
    assert len(revisions) == 206
    assert len({revision.page_id for revision in revisions}) == 206
    assert len({revision.rev_id for revision in revisions}) == 206
    titles = {revision.title for revision in revisions}
    assert {"Anarchism", "Autism", "Albedo", "AccessibleComputing"} <= titles
    assert {revision.wiki for revision in revisions} == {"enwiki"}
    assert {revision.namespace for revision in revisions} <= {0, 4}
    assert sum(revision.namespace == 0 for revision in revisions) > 200
    for revision in revisions:
        assert revision.timestamp.tzinfo is not None
        assert revision.timestamp.utcoffset() == dt.timedelta(0)
        assert revision.text
        assert revision.comment is not None
        assert revision.size == len(revision.text.encode("utf-8"))
        assert revision.sha1 is not None
        assert len(revision.sha1) == 40
        assert revision.content_model == "wikitext"
        assert revision.user is None
    first = revisions[0]
    assert (first.title, first.page_id, first.rev_id, first.parent_id) == (
        "AccessibleComputing",
        10,
        631144794,
        381202555,
    )
    assert first.parent_text is None  # its parent is not in a current dump
    assert first.timestamp == dt.datetime(2014, 10, 26, 4, 50, 23, tzinfo=dt.UTC)
    assert (first.user_name, first.user_id) == ("Paine Ellsworth", 9092818)
    assert first.text is not None
    assert first.text.startswith("#REDIRECT [[Computer accessibility]]")
    anarchism = next(revision for revision in revisions if revision.title == "Anarchism")
    assert anarchism.text is not None
    assert "anarchism" in anarchism.text.lower()
    assert any(revision.anonymous for revision in revisions)


def test_wiki_given_overrides_the_dumps_dbname() -> None:
    first = next(read_dump(SAMPLE, wiki="testwiki"))
    assert first.wiki == "testwiki"


def export_v11(xml: str) -> str:
    """The same dump in export format 0.11, whose <text> carries its sha1 (and always bytes)."""
    return (
        xml.replace("export-0.10", "export-0.11")
        .replace('version="0.10"', 'version="0.11"')
        .replace('bytes="23">', 'bytes="23" sha1="phoiac9h4m842xq45sp7s6u21eteeq1">')
        .replace('bytes="33">', 'bytes="33" sha1="1">')
        .replace('<text deleted="deleted" />', '<text bytes="40" sha1="" deleted="deleted" />')
    )


@pytest.mark.parametrize("version", ["0.10", "0.11"])
def test_a_history_chains_parent_texts_and_leaves_hidden_parts_none(version: str) -> None:
    xml = HISTORY if version == "0.10" else export_v11(HISTORY)
    assert f'version="{version}"' in xml
    created, hidden_user, hidden_text = read_dump(io.StringIO(xml))
    for revision in (created, hidden_user, hidden_text):
        assert (revision.wiki, revision.page_id, revision.namespace) == ("loomwiki", 7, 1)
        assert revision.title == "Talk:Shuttle"

    assert (created.rev_id, created.parent_id, created.parent_text) == (100, 0, "")
    assert created.text == "A shuttle <b>flies</b>."
    assert created.comment == "Start & explain"
    assert (created.user_name, created.user_id, created.anonymous) == ("Weaver", 42, False)
    assert created.timestamp == dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert (created.minor, created.size) == (False, 23)
    assert created.sha1 == format(int("phoiac9h4m842xq45sp7s6u21eteeq1", 36), "040x")

    assert (hidden_user.rev_id, hidden_user.parent_id) == (101, 100)
    assert hidden_user.parent_text == created.text
    assert hidden_user.text == "A shuttle flies through the warp."
    assert (hidden_user.user_name, hidden_user.user_id, hidden_user.comment) == (None, None, None)
    assert not hidden_user.anonymous
    assert hidden_user.minor

    assert (hidden_text.rev_id, hidden_text.parent_id) == (102, 101)
    assert hidden_text.parent_text == hidden_user.text
    assert hidden_text.text is None
    assert hidden_text.size == (None if version == "0.10" else 40)
    assert hidden_text.sha1 is None
    assert (hidden_text.user_name, hidden_text.user_id) == ("192.0.2.7", 0)
    assert hidden_text.anonymous
    assert hidden_text.comment == "vandalism"


def test_a_revision_after_a_deleted_text_has_no_parent_text_and_gaps_give_none() -> None:
    extra = """  <page>
    <title>Warp</title>
    <ns>0</ns>
    <id>8</id>
    <revision>
      <id>200</id>
      <parentid>150</parentid>
      <timestamp>2020-02-01T00:00:00Z</timestamp>
      <contributor><username>Weaver</username><id>42</id></contributor>
      <text xml:space="preserve" bytes="4">Warp</text>
      <sha1 />
    </revision>
    <revision>
      <id>201</id>
      <parentid>200</parentid>
      <timestamp>2020-02-02T00:00:00Z</timestamp>
      <contributor><username>Weaver</username><id>42</id></contributor>
      <text deleted="deleted" />
      <sha1 />
    </revision>
    <revision>
      <id>202</id>
      <parentid>201</parentid>
      <timestamp>2020-02-03T00:00:00Z</timestamp>
      <contributor><username>Weaver</username><id>42</id></contributor>
      <text xml:space="preserve" bytes="0" />
      <sha1 />
    </revision>
  </page>
"""
    xml = HISTORY.replace("</mediawiki>", extra + "</mediawiki>")
    revisions = list(read_dump(io.BytesIO(xml.encode("utf-8"))))
    gap, deleted, emptied = revisions[3:]
    assert (gap.rev_id, gap.parent_id, gap.parent_text) == (200, 150, None)
    assert gap.comment == ""
    assert (deleted.parent_text, deleted.text) == ("Warp", None)
    assert (emptied.parent_text, emptied.text, emptied.size) == (None, "", 0)


def test_compressed_files_and_a_missing_dbname(tmp_path: Path) -> None:
    for name, data in [
        ("history.xml", HISTORY.encode()),
        ("history.xml.gz", gzip.compress(HISTORY.encode())),
        ("history.xml.bz2", bz2.compress(HISTORY.encode())),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        assert [revision.rev_id for revision in read_dump(path)] == [100, 101, 102]
        assert [revision.rev_id for revision in read_dump(str(path))] == [100, 101, 102]
    nameless = HISTORY.replace("<dbname>loomwiki</dbname>", "")
    with pytest.raises(ValueError, match="dbname"):
        next(read_dump(io.StringIO(nameless)))
    assert next(read_dump(io.StringIO(nameless), wiki="loomwiki")).wiki == "loomwiki"
    with pytest.raises(FileNotFoundError):
        next(read_dump(tmp_path / "absent.xml"))


def test_memory_stays_flat_over_a_long_history(tmp_path: Path) -> None:
    text = "The warp and the weft. " * 2000  # about 46 KB a revision
    path = tmp_path / "long.xml.gz"
    pages, per_page = 40, 10
    with gzip.open(path, "wt", encoding="utf-8") as dump:
        dump.write(HEADER)
        for page in range(pages):
            dump.write(f"<page><title>Page {page}</title><ns>0</ns><id>{page + 1}</id>\n")
            for number in range(per_page):
                rev_id = page * per_page + number + 1
                parent = f"<parentid>{rev_id - 1}</parentid>" if number else ""
                dump.write(
                    f"<revision><id>{rev_id}</id>{parent}"
                    "<timestamp>2020-01-01T00:00:00Z</timestamp>"
                    "<contributor><ip>192.0.2.1</ip></contributor>"
                    f'<text xml:space="preserve">{text}{rev_id}</text></revision>\n'
                )
            dump.write("</page>\n")
        dump.write("</mediawiki>\n")
    tracemalloc.start()
    try:
        count = 0
        for revision in read_dump(path):
            count += 1
            assert revision.parent_text == (
                "" if revision.parent_id == 0 else text + str(count - 1)
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == pages * per_page
    # The dump holds about 18 MB of text; a streaming reader holds a few revisions at a time.
    assert peak < 4_000_000


def test_a_dump_of_the_real_wiki_gives_the_seeded_histories(mediawiki: MediaWiki) -> None:
    xml = mediawiki.maintenance("dumpBackup.php", "--full", "--quiet", "--schema-version=0.11")
    assert 'version="0.11"' in xml[:1000]
    revisions = list(read_dump(io.BytesIO(xml.encode("utf-8"))))
    assert {revision.wiki for revision in revisions} == {mediawiki.dbname}
    for title, page in mediawiki.pages.items():
        history = [revision for revision in revisions if revision.title == title]
        assert [revision.rev_id for revision in history] == [
            seeded.rev_id for seeded in page.revisions
        ]
        assert [revision.parent_id for revision in history] == [
            seeded.parent_id for seeded in page.revisions
        ]
        assert [revision.user_name for revision in history] == [
            seeded.user_text for seeded in page.revisions
        ]
        assert [revision.comment for revision in history] == [
            seeded.comment for seeded in page.revisions
        ]
        texts = [edit.text for edit in SEED_EDITS if edit.title == title]
        assert [revision.text for revision in history] == [text.rstrip() for text in texts]
        assert history[0].parent_text == ""
        for parent, child in itertools.pairwise(history):
            assert child.parent_text == parent.text
        for revision in history:
            assert (revision.page_id, revision.namespace) == (page.page_id, page.namespace)
            assert revision.timestamp.tzinfo is not None
            assert revision.user_name is not None
            users = mediawiki.users
            expected = 0 if revision.user_name == "127.0.0.1" else users[revision.user_name].user_id
            assert revision.user_id == expected
