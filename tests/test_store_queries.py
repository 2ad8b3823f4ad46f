"""Store read queries: timeline (both plans), feed, thread, get, resolve_id, limits and cursors."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.core.envelope import Message
from pnyx.errors import NotFoundError, UserError
from pnyx.store import Cursor, Page, Store, queries
from tests.store_helpers import NOW_MS, Feed, ids, key, open_store, walk_feed, walk_timeline


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as opened:
        yield opened


def _expected(messages: list[Message]) -> list[bytes]:
    """Posts newest first by (ts, id), the timeline's order."""
    posts = [m for m in messages if m.kind == "post"]
    return [m.id for m in sorted(posts, key=lambda m: (m.ts, m.id), reverse=True)]


def _world(store: Store) -> tuple[Feed, list[Message]]:
    """Alice follows bob and carol (not dave); many posts, some sharing a timestamp."""
    rng = random.Random(7)
    alice, bob, carol, dave = (Feed(key(n)) for n in (1, 2, 3, 4))
    alice.follow(bob.author)
    alice.follow(carol.author)
    shown: list[Message] = []
    for n in range(40):
        for feed in (alice, bob, carol, dave):
            ts = NOW_MS - 10_000_000 + rng.randrange(0, 50) * 1000  # many equal timestamps
            message = feed.post(f"{n}", ts=ts)
            if feed is not dave:
                shown.append(message)
        if n % 10 == 0:
            shown.append(
                bob.add("reaction", {"id": shown[0].id, "author": alice.author, "reaction": "+"})
            )
    store.ingest(alice.raws() + bob.raws() + carol.raws() + dave.raws(), NOW_MS)
    return alice, shown


@pytest.mark.parametrize("plan", ["scan", "by-author"])
def test_timeline_pages_cover_every_post_once_in_order(
    store: Store, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "ROW_FETCH_COST", 10**9 if plan == "scan" else 0)
    alice, shown = _world(store)
    expected = _expected(shown)
    assert len(expected) == 120
    for limit in (7, 50, 120, 1000):
        assert ids(walk_timeline(store, alice.author, limit)) == expected
    first = store.timeline(alice.author, limit=10)
    assert ids(first.items) == expected[:10] and first.next == first.items[-1].cursor


def test_timeline_plans_are_chosen_by_density(store: Store) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    alice.follow(bob.author)
    bob.post("hello")
    strangers = [Feed(key(n)) for n in range(10, 16)]
    for stranger in strangers:
        for n in range(30):
            stranger.post(f"noise {n}")
    store.ingest(alice.raws() + bob.raws(), NOW_MS)
    store.ingest([raw for s in strangers for raw in s.raws()], NOW_MS)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    # 1 followed post among 181: the by-author plan reads 2 messages instead of ~9000 entries
    assert ids(store.timeline(alice.author).items) == [bob.messages[0].id]
    assert any("INDEXED BY messages_chain" in s for s in statements)
    statements.clear()
    # a stranger's own timeline: 30 of 181 posts are theirs, scanning by time is cheaper
    assert len(store.timeline(strangers[0].author, limit=5).items) == 5
    assert any("INDEXED BY messages_posts_by_time" in s for s in statements)
    nobody = Feed(key(20)).author
    assert store.timeline(nobody) == Page([], None)


def test_timeline_hides_deleted_posts_and_unfollowed_authors(store: Store) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    alice.follow(bob.author)
    kept = bob.post("kept")
    gone = bob.post("gone")
    bob.delete(gone.id)
    mine = alice.post("mine")
    store.ingest(alice.raws() + bob.raws(), NOW_MS)
    assert ids(store.timeline(alice.author).items) == [mine.id, kept.id]
    alice.unfollow(bob.author)
    store.ingest(alice.raws(), NOW_MS)
    assert ids(store.timeline(alice.author).items) == [mine.id]


def test_feed_pages_every_kind_newest_first(store: Store) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    for n in range(25):
        alice.post(f"{n}")
        if n % 5 == 0:
            alice.follow(bob.author)
            alice.profile(name=f"a{n}")
    bob.post("bob")
    store.ingest(alice.raws() + bob.raws(), NOW_MS)
    expected = [m.id for m in reversed(alice.messages)]
    for limit in (1, 4, 35, 100):
        assert ids(walk_feed(store, alice.author, limit)) == expected
    assert store.feed(Feed(key(30)).author) == Page([], None)
    foreign = store.feed(bob.author).items[0].cursor
    with pytest.raises(UserError, match="cursor"):
        store.feed(alice.author, before=foreign)


def test_thread_from_any_post_oldest_first(store: Store) -> None:
    alice, bob, carol = Feed(key(1)), Feed(key(2)), Feed(key(3))
    root = alice.post("root")
    first = bob.post("first", reply_to=root)
    nested = carol.post("nested", reply_to=first)
    gone = bob.post("regret", reply_to=root)
    bob.delete(gone.id)
    last = alice.post("last", reply_to=nested)
    unrelated = carol.post("elsewhere")
    store.ingest(alice.raws() + bob.raws() + carol.raws(), NOW_MS)
    expected = [root.id, first.id, nested.id, last.id]
    assert ids(store.thread(root.id)) == expected
    assert ids(store.thread(nested.id)) == expected
    assert ids(store.thread(unrelated.id)) == [unrelated.id]
    with pytest.raises(NotFoundError, match="no message"):
        store.thread(b"\x01" * 32)
    with pytest.raises(NotFoundError, match="not a post"):
        store.thread(bob.messages[-1].id)


def test_thread_without_its_root_shows_the_replies(store: Store) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    root = alice.post("root, never received")
    reply = bob.post("reply", reply_to=root)
    store.ingest([reply.raw], NOW_MS)
    assert ids(store.thread(reply.id)) == [reply.id]


def test_get_and_resolve_id(store: Store) -> None:
    alice = Feed(key(1))
    post = alice.post("hello")
    store.ingest([post.raw], NOW_MS)
    hexid = post.id.hex()
    got = store.get(post.id)
    assert got is not None and got.message == post
    assert store.get(b"\x00" * 32) is None
    assert store.resolve_id(hexid) == post.id
    assert store.resolve_id(hexid[:8]) == post.id
    assert store.resolve_id(" " + hexid[:11].upper()) == post.id
    with pytest.raises(NotFoundError, match="no message"):
        store.resolve_id("00000000")
    with pytest.raises(UserError, match="hex"):
        store.resolve_id("xyz12345")
    with pytest.raises(UserError, match="at least 8"):
        store.resolve_id(hexid[:7])
    with pytest.raises(UserError, match="64 hex"):
        store.resolve_id(hexid + "0")


def _with_id(m: Message, new_id: bytes, prev: bytes | None = None) -> Message:
    return Message(new_id, m.author, m.seq, prev or m.prev, m.ts, m.kind, m.body, m.raw)


def test_resolve_id_reports_an_ambiguous_prefix(store: Store) -> None:
    alice = Feed(key(1))
    one, two = alice.post("one"), alice.post("two")
    # ingest_verified trusts its caller: give the two messages ids sharing 10 hex characters
    shared = bytes.fromhex("abcdef0123")
    first = _with_id(one, shared + b"\x01" * 27)
    second = _with_id(two, shared + b"\x02" * 27, prev=first.id)
    store.ingest_verified([first, second], now_ms=NOW_MS)
    with pytest.raises(NotFoundError, match="ambiguous"):
        store.resolve_id("abcdef0123")
    assert store.resolve_id("abcdef012301") == first.id
    assert store.resolve_id(second.id.hex()) == second.id


def test_page_limits_and_cursor_text(store: Store) -> None:
    me = Feed(key(1)).author
    for bad in (0, -1, queries.MAX_PAGE_ITEMS + 1):
        with pytest.raises(UserError, match="page size"):
            store.timeline(me, limit=bad)
        with pytest.raises(UserError, match="page size"):
            store.feed(me, limit=bad)
    cursor = Cursor(NOW_MS, bytes(range(32)))
    text = cursor.to_text()
    assert Cursor.from_text(text) == cursor
    assert all(c.isalnum() or c in "-_" for c in text)
    too_late = Cursor(2**64 - 1, b"\x01" * 32).to_text()
    for garbage in ("", "!!!", "abc", Cursor(1, b"\x01" * 31).to_text(), too_late):
        with pytest.raises(UserError, match="not a page cursor"):
            Cursor.from_text(garbage)


def test_timeline_finds_posts_outside_other_authors_time_span(store: Store) -> None:
    alice, bob, stranger = Feed(key(1)), Feed(key(2)), Feed(key(3))
    alice.follow(bob.author)
    old = bob.post("old", ts=NOW_MS - 90_000_000)
    new = bob.post("new", ts=NOW_MS - 1_000)
    older = bob.post("older, posted later", ts=NOW_MS - 95_000_000)
    for n in range(20):
        stranger.post(f"noise {n}", ts=NOW_MS - 50_000_000 + n)
    store.ingest(alice.raws() + stranger.raws() + [new.raw], NOW_MS)
    store.ingest([old.raw], NOW_MS)
    store.ingest([older.raw], NOW_MS)
    assert ids(walk_timeline(store, alice.author, 1)) == [new.id, old.id, older.id]
    last = store.timeline(alice.author, limit=3).items[-1].cursor
    assert store.timeline(alice.author, before=last) == Page([], None)
