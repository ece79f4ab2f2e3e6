"""MediaWiki XML dumps (current or full history) read into `Revision` records with mwxml."""

from __future__ import annotations

import bz2
import contextlib
import datetime as dt
import gzip
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import mwxml
from mwxml.element_iterator import ElementIterator

from wikiloom.wiki.revisions import Revision

DumpSource = str | os.PathLike[str] | IO[bytes] | IO[str]


def read_dump(source: DumpSource, wiki: str | None = None) -> Iterator[Revision]:
    """Yield every revision of a dump, in dump order, each with its parent's text where known.

    `source` is a path (plain XML, `.bz2`, `.gz`, or `.7z` where the `7z` program exists) or an
    open file of XML. `wiki` defaults to the dump's `<dbname>`. In a history dump a revision's
    `parent_text` is the text of the revision before it on the same page when that one is its
    parent, "" for a page creation (no `<parentid>`, or 0) and None when the parent is not in
    the dump or its text was deleted. Only the previous revision's text of the current page
    is held, so memory stays flat however long the dump.
    """
    with _open(source) as stream:
        root = ElementIterator.from_file(stream)
        dump = mwxml.Dump.from_element(root)
        dbname = wiki or dump.site_info.dbname
        if not dbname:
            raise ValueError("the dump names no <dbname> in its <siteinfo>; pass wiki=")
        for page in dump.pages:
            previous_id: int | None = None
            previous_text: str | None = None
            for revision in page:
                record = _revision(dbname, page, revision, previous_id, previous_text)
                yield record
                previous_id, previous_text = record.rev_id, record.text
            # Finished <page> elements stay attached to <mediawiki>; drop them.
            del root.element[:]


def _revision(
    wiki: str, page: Any, revision: Any, previous_id: int | None, previous_text: str | None
) -> Revision:
    """Build one `Revision` from mwxml's page and revision."""
    deleted = revision.deleted
    parent_id = int(revision.parent_id or 0)
    if parent_id == 0:
        parent_text: str | None = ""
    elif parent_id == previous_id:
        parent_text = previous_text
    else:
        parent_text = None
    text = _text(revision)
    user = revision.user
    if deleted.user or user is None:
        user_name: str | None = None
        user_id: int | None = None
    else:
        user_name = user.text
        user_id = int(user.id) if user.id is not None else 0
    return Revision(
        wiki=wiki,
        rev_id=int(revision.id),
        parent_id=parent_id,
        page_id=int(page.id),
        namespace=int(page.namespace),
        title=page.title,
        timestamp=dt.datetime.fromtimestamp(revision.timestamp.unix(), tz=dt.UTC),
        comment=None if deleted.comment else (revision.comment or ""),
        text=text,
        parent_text=parent_text,
        user_name=user_name,
        user_id=user_id,
        minor=bool(revision.minor),
        size=revision.bytes if revision.bytes is not None else _size(text),
        sha1=_hex_sha1(revision.sha1),
        content_model=revision.model or "wikitext",
    )


def _text(revision: Any) -> str | None:
    """The main slot's text: None when deleted or left out of the dump (stubs), else a str."""
    if revision.deleted.text:
        return None
    if revision.text is not None:
        return str(revision.text)
    # mwxml reads an empty <text> as None: an empty page, unless the dump left the text out.
    return "" if not revision.bytes else None


def _size(text: str | None) -> int | None:
    """The length in bytes of a text, as MediaWiki counts it (UTF-8)."""
    return None if text is None else len(text.encode("utf-8"))


def _hex_sha1(sha1: str | None) -> str | None:
    """Turn a dump's base-36 SHA-1 into the 40 hex digits that the Action API reports."""
    if not sha1:
        return None
    if len(sha1) == 40:  # already hexadecimal
        return sha1.lower()
    try:
        return format(int(sha1, 36), "040x")
    except ValueError:
        return None


@contextlib.contextmanager
def _open(source: DumpSource) -> Iterator[object]:
    """Open a dump path by its suffix (closing it afterwards), or pass an open file through.

    What it yields is only handed to mwxml, which reads bytes or str from it.
    """
    if not isinstance(source, str | os.PathLike):
        yield source
        return
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no dump file at {path}")
    if path.suffix == ".bz2":
        with bz2.open(path, "rb") as stream:
            yield stream
    elif path.suffix == ".gz":
        with gzip.open(path, "rb") as stream:
            yield stream
    elif path.suffix == ".7z":
        with _open_7z(path) as stream:
            yield stream
    else:
        with path.open("rb") as stream:
            yield stream


@contextlib.contextmanager
def _open_7z(path: Path) -> Iterator[IO[bytes]]:
    """Stream a .7z dump through the `7z` program (p7zip), which must be installed."""
    program = shutil.which("7z") or shutil.which("7za")
    if program is None:
        raise RuntimeError(f"reading {path.name} needs the 7z program (p7zip) on PATH")
    process = subprocess.Popen(
        [program, "e", "-so", str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    try:
        yield process.stdout
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.kill()
        process.wait()
