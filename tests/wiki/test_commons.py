"""Category trees and image information against the real MediaWiki's uploaded photos."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.support.mediawiki import MediaWiki
from tests.wiki.conftest import AGENT, client_of
from wikiloom.errors import BadRequest
from wikiloom.wiki.commons import ImageInfo, category_members, category_title, image_info

PORTRAITS = {"File:Biden.jpg", "File:Biden2.jpg"}
PRESIDENTS = {"File:Obama.jpg", "File:Obama2.jpg"}
BOTH = {"File:Obama and biden.jpg"}


async def titles_in(mediawiki: MediaWiki, category: str, **options: object) -> list[str]:
    client = client_of(mediawiki)
    try:
        members = category_members(client, mediawiki.dbname, category, **options)  # type: ignore[arg-type]
        return [member.title async for member in members]
    finally:
        await client.aclose()


def test_category_titles_are_normalised() -> None:
    assert category_title("portraits") == "Category:Portraits"
    assert category_title("category:Obama_and  Biden") == "Category:Obama and Biden"
    assert category_title("Category:Presidents") == "Category:Presidents"
    with pytest.raises(BadRequest, match="name a category"):
        category_title("Category: ")


@pytest.mark.anyio
async def test_the_depth_limits_how_far_the_tree_is_walked(mediawiki: MediaWiki) -> None:
    assert set(await titles_in(mediawiki, "Portraits")) == PORTRAITS
    assert set(await titles_in(mediawiki, "Portraits", depth=1)) == PORTRAITS | PRESIDENTS
    assert set(await titles_in(mediawiki, "Presidents", depth=1)) == PRESIDENTS | BOTH


@pytest.mark.anyio
async def test_a_cyclic_tree_is_walked_once_with_one_query_per_category(
    mediawiki: MediaWiki,
) -> None:
    client = client_of(mediawiki)
    members = [m async for m in category_members(client, mediawiki.dbname, "Portraits", depth=9)]
    await client.aclose()
    titles = [member.title for member in members]
    assert sorted(titles) == sorted(PORTRAITS | PRESIDENTS | BOTH)  # each once
    assert client.requests == 3  # Portraits -> Presidents -> Obama and Biden (-> Portraits)
    where = {member.title: (member.category, member.depth) for member in members}
    assert where["File:Obama and biden.jpg"] == ("Category:Obama and Biden", 2)
    assert where["File:Biden.jpg"] == ("Category:Portraits", 0)
    seeded = mediawiki.files["File:Obama.jpg"]
    obama = next(member for member in members if member.title == "File:Obama.jpg")
    assert (obama.page_id, obama.namespace, obama.kind) == (seeded.page_id, 6, "file")


@pytest.mark.anyio
async def test_continuation_subcategories_and_a_category_budget(mediawiki: MediaWiki) -> None:
    one_at_a_time = await titles_in(mediawiki, "Portraits", depth=9, batch=1)
    assert sorted(one_at_a_time) == sorted(PORTRAITS | PRESIDENTS | BOTH)
    assert await titles_in(mediawiki, "Portraits", kinds=["subcat"]) == ["Category:Presidents"]
    budget = await titles_in(mediawiki, "Portraits", depth=9, max_categories=2)
    assert set(budget) == PORTRAITS | PRESIDENTS
    assert await titles_in(mediawiki, "No such category", depth=3) == []


@pytest.mark.anyio
async def test_bad_crawls_are_refused_before_any_request(mediawiki: MediaWiki) -> None:
    with pytest.raises(BadRequest, match="depth must be 0 or more"):
        await titles_in(mediawiki, "Portraits", depth=-1)
    with pytest.raises(BadRequest, match="unknown kinds of category members: videos"):
        await titles_in(mediawiki, "Portraits", kinds=["file", "videos"])


@pytest.mark.anyio
async def test_image_info_gives_the_file_and_a_real_thumbnail(mediawiki: MediaWiki) -> None:
    client = client_of(mediawiki)
    found = await image_info(
        client, mediawiki.dbname, ["file:obama.jpg", "File:Nowhere.jpg", "Loom"], thumb_width=120
    )
    await client.aclose()
    assert client.requests == 1
    assert found["File:Nowhere.jpg"] is None
    assert found["Loom"] is None  # a page, not a file
    info = found["file:obama.jpg"]
    assert isinstance(info, ImageInfo)
    seeded = mediawiki.files["File:Obama.jpg"]
    photo = seeded.path.read_bytes()
    assert (info.title, info.page_id) == ("File:Obama.jpg", seeded.page_id)
    assert (info.width, info.height, info.size) == (910, 1137, len(photo))
    assert (info.mime, info.media_type) == ("image/jpeg", "BITMAP")
    assert info.sha1 == hashlib.sha1(photo).hexdigest()
    assert (info.thumb_width, info.thumb_height) == (120, 150)
    assert info.thumb_url != info.url
    with httpx.Client(headers={"User-Agent": AGENT}) as http:
        original = http.get(info.url)
        thumbnail = http.get(info.thumb_url)
    assert original.content == photo
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.content[:2] == b"\xff\xd8"  # a JPEG, scaled by the wiki
    assert len(thumbnail.content) < len(photo) / 10


@pytest.mark.anyio
async def test_image_info_asks_fifty_titles_at_a_time(mediawiki: MediaWiki) -> None:
    client = client_of(mediawiki)
    titles = sorted(mediawiki.files) + [f"File:Missing {n}.png" for n in range(60)]
    found = await image_info(client, mediawiki.dbname, titles)
    await client.aclose()
    assert client.requests == 2
    assert {title for title, info in found.items() if info is not None} == set(mediawiki.files)
    with pytest.raises(BadRequest, match="thumbnail width must be positive"):
        await image_info(client, mediawiki.dbname, titles, thumb_width=0)
