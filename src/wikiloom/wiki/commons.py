"""Files on a wiki (Commons above all): category trees and image information with thumbnails."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wikiloom.errors import BadRequest
from wikiloom.wiki.client import WikiClient

#: Namespaces of files and of categories.
FILE_NAMESPACE = 6
CATEGORY_NAMESPACE = 14
#: `prop=imageinfo` takes at most 50 titles per request (without the apihighlimits right).
BATCH = 50
#: What a crawl looks at by default: at most this many categories.
MAX_CATEGORIES = 200


@dataclass(frozen=True, slots=True)
class CategoryMember:
    """A page found in a category tree; `depth` 0 is a member of the starting category."""

    page_id: int
    namespace: int
    title: str
    kind: str
    category: str
    depth: int


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """A file's latest version: where it and a thumbnail of it are, its size and type.

    `thumb_url` is a scaled copy no wider than the width asked for (the original where the file
    is smaller, or where the wiki cannot scale it); sizes are pixels, `size` bytes.
    """

    title: str
    page_id: int
    url: str
    description_url: str
    thumb_url: str
    thumb_width: int
    thumb_height: int
    width: int
    height: int
    size: int
    mime: str
    media_type: str
    sha1: str


def category_title(name: str) -> str:
    """A category's full title (`Cats` or `category:cats` -> `Category:Cats`)."""
    name = " ".join(name.replace("_", " ").split())
    prefix, colon, rest = name.partition(":")
    if colon and prefix.lower() == "category":
        name = rest.strip()
    if not name:
        raise BadRequest("name a category")
    return f"Category:{name[:1].upper()}{name[1:]}"


async def category_members(
    client: WikiClient,
    wiki: str,
    category: str,
    *,
    depth: int = 0,
    kinds: Iterable[str] = ("file",),
    max_categories: int = MAX_CATEGORIES,
    batch: int | str = "max",
) -> AsyncIterator[CategoryMember]:
    """Yield the members of a category and of its subcategories down to `depth`, each once.

    The tree is walked breadth first, one `list=categorymembers` query (`batch` members a
    request, 500 at most, with continuation) per category, visiting each category once
    however often it is linked (cycles are common on Commons) and at most `max_categories`
    of them. `kinds` chooses what is yielded: `file`, `page`, `subcat`.
    """
    if depth < 0:
        raise BadRequest(f"depth must be 0 or more, not {depth}")
    wanted = set(kinds)
    unknown = wanted - {"file", "page", "subcat"}
    if unknown:
        raise BadRequest(f"unknown kinds of category members: {', '.join(sorted(unknown))}")
    start = category_title(category)
    queue = deque([(start, 0)])
    visited = {start}
    seen_pages: set[int] = set()
    while queue:
        title, level = queue.popleft()
        types = set(wanted - {"subcat"})
        if level < depth or "subcat" in wanted:
            types.add("subcat")
        params = {
            "action": "query",
            "list": "categorymembers",
            "cmtitle": title,
            "cmprop": "ids|title|type",
            "cmtype": "|".join(sorted(types)),
            "cmlimit": batch,
        }
        async for body in client.continued(wiki, params):
            for row in body.get("query", {}).get("categorymembers", []):
                member = CategoryMember(
                    page_id=int(row["pageid"]),
                    namespace=int(row["ns"]),
                    title=str(row["title"]),
                    kind=str(row["type"]),
                    category=title,
                    depth=level,
                )
                descend = member.kind == "subcat" and level < depth
                if descend and member.title not in visited and len(visited) < max_categories:
                    visited.add(member.title)
                    queue.append((member.title, level + 1))
                if member.kind in wanted and member.page_id not in seen_pages:
                    seen_pages.add(member.page_id)
                    yield member


async def image_info(
    client: WikiClient, wiki: str, titles: Iterable[str], *, thumb_width: int = 500
) -> dict[str, ImageInfo | None]:
    """Look files up by title, keyed by the titles asked for: None for a missing file.

    Redirects are followed. One `prop=imageinfo` request per 50 titles; `thumb_width` asks
    the wiki for a thumbnail URL of that width (the wiki scales the file on demand).
    """
    if thumb_width < 1:
        raise BadRequest(f"thumbnail width must be positive, not {thumb_width}")
    unique = list(dict.fromkeys(titles))
    found: dict[str, ImageInfo | None] = {}
    for batch in (unique[i : i + BATCH] for i in range(0, len(unique), BATCH)):
        body = await client.get(
            wiki,
            {
                "action": "query",
                "titles": "|".join(batch),
                "prop": "imageinfo",
                "iiprop": "url|size|mime|mediatype|sha1",
                "iiurlwidth": thumb_width,
                "redirects": 1,
            },
        )
        query = body.get("query", {})
        by_title = {str(page["title"]): page for page in query.get("pages", [])}
        for title in batch:
            page = by_title.get(resolved(query, title))
            found[title] = None if page is None else info_of(page)
    return found


def resolved(query: Mapping[str, Any], title: str) -> str:
    """The title the API answered for `title`, after normalising it and following a redirect."""
    for key in ("normalized", "redirects"):
        for entry in query.get(key, []):
            if entry["from"] == title:
                title = str(entry["to"])
                break
    return title


def info_of(page: Mapping[str, Any]) -> ImageInfo | None:
    """An `ImageInfo` from one page of a `prop=imageinfo` answer; None where there is no file."""
    versions = page.get("imageinfo") or []
    if not versions or "url" not in versions[0]:
        return None
    latest = versions[0]
    return ImageInfo(
        title=str(page["title"]),
        page_id=int(page.get("pageid") or 0),
        url=str(latest["url"]),
        description_url=str(latest.get("descriptionurl", "")),
        thumb_url=str(latest.get("thumburl") or latest["url"]),
        thumb_width=int(latest.get("thumbwidth") or latest["width"]),
        thumb_height=int(latest.get("thumbheight") or latest["height"]),
        width=int(latest["width"]),
        height=int(latest["height"]),
        size=int(latest["size"]),
        mime=str(latest.get("mime", "")),
        media_type=str(latest.get("mediatype", "")),
        sha1=str(latest.get("sha1", "")),
    )
