"""Pages of a ranked feed past the first (``pnyx.reads.feed_cursor``), on the world of
``tests/test_reads_feed`` (recipe ``buzz``: alice's post 3, carol's 1, mine 0.5): one post a page
gives alice, carol, me and then no cursor; a post that arrives after the first page is not in
that snapshot's later pages; a window of candidates is ranked whole before the next (older) one;
the web timeline links "More of buzz" with the cursor and the feed."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from pnyx.errors import UserError
from pnyx.reads import ranked_timeline
from pnyx.reads.feed_cursor import RankCursor, parse_page_cursor
from pnyx.store import Cursor
from pnyx.web.app import build_app
from pnyx.web.auth import TOKEN_FILE, TokenBook
from pnyx.web.context import WebContext
from tests.store_helpers import NOW_MS, key
from tests.test_reads_feed import World, world
from tests.web_kit import BASE, PORT, login

__all__ = ["world"]


def _walk(w: World, limit: int, now_ms: int = NOW_MS) -> list[list[bytes]]:
    store, _, _, recipes = w
    me = key(1).verify_key.encode()
    pages: list[list[bytes]] = []
    cursor: Cursor | RankCursor | None = None
    while True:
        page = ranked_timeline(store, me, "buzz", limit, cursor, recipes_dir=recipes, now_ms=now_ms)
        pages.append([i.item.id for i in page.items])
        if page.next is None:
            return pages
        cursor = parse_page_cursor(page.next.to_text())  # through its text, as the web does
        assert len(pages) < 10


def test_pages_of_one_post(world: World) -> None:
    _, _, p, _ = world
    assert _walk(world, 1) == [[p["alice"].id], [p["carol"].id], [p["me"].id]]
    assert _walk(world, 2) == [[p["alice"].id, p["carol"].id], [p["me"].id]]
    assert _walk(world, 3) == [[p["alice"].id, p["carol"].id, p["me"].id]]


def test_a_later_post_stays_out_of_the_snapshot(world: World) -> None:
    store, f, p, recipes = world
    me = key(1).verify_key.encode()
    first = ranked_timeline(store, me, "buzz", 1, recipes_dir=recipes, now_ms=NOW_MS)
    assert first.next == RankCursor(None, NOW_MS, 1)
    late = f["alice"].post("late", ts=NOW_MS)  # 2 (recency, in network): above carol's 1
    assert not store.ingest([late.raw], NOW_MS + 1).rejected
    rest = ranked_timeline(store, me, "buzz", 5, first.next, recipes_dir=recipes)
    assert [i.item.id for i in rest.items] == [p["carol"].id, p["me"].id]
    fresh = ranked_timeline(store, me, "buzz", 5, recipes_dir=recipes, now_ms=NOW_MS + 1)
    assert late.id in [i.item.id for i in fresh.items]


def test_windows_of_candidates_follow_in_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, p, _ = world
    monkeypatch.setattr("pnyx.reads.feed.CANDIDATES", 2)  # carol's and alice's, then mine
    assert _walk(world, 1) == [[p["alice"].id], [p["carol"].id], [p["me"].id]]


def test_cursor_text() -> None:
    window = Cursor(5, b"\x01" * 32)
    for at in (RankCursor(None, 7, 0), RankCursor(window, NOW_MS, 40)):
        assert parse_page_cursor(at.to_text()) == at
    assert parse_page_cursor(window.to_text()) == window
    for bad in ("r.x.1.2", "r..1", "r..-1.2", "r..1.99999999", "nope!"):
        with pytest.raises(UserError):
            parse_page_cursor(bad)


def test_the_web_timeline_links_more(
    world: World, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _, p, recipes = world
    me = key(1)
    ctx = WebContext(
        store=store,
        me=me.verify_key.encode(),
        key=me,
        tokens=TokenBook(tmp_path_factory.mktemp("t") / TOKEN_FILE),
        port=PORT,
        recipes_dir=recipes,
    )
    monkeypatch.setattr("pnyx.web.read.DEFAULT_PAGE", 1)
    with TestClient(build_app(ctx), base_url=BASE, backend="trio") as client:
        login(ctx, client)
        url, seen = "/timeline?feed=buzz", []
        while url:
            page = client.get(url.replace("&amp;", "&")).text
            seen += [k for k, v in p.items() if f'id="m-{v.id.hex()}"' in page]
            found = re.search(r"<p class=.more.><a href=.([^\"]+).>More of buzz</a>", page)
            url = found.group(1) if found else ""
            assert len(seen) < 10
    assert seen == ["alice", "carol", "me"]
    with pytest.raises(UserError, match="ranked feed"):
        ranked_timeline(store, me.verify_key.encode(), "following", 5, RankCursor(None, 1, 0))
