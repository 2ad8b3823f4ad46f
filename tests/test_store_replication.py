"""Store replication reads: heads, missing, range, export, changes_since; two processes' view."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.core.chain import missing_ranges
from pnyx.store import Store, replication
from tests.store_helpers import NOW_MS, Feed, key, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as opened:
        yield opened


def _feeds(store: Store, sizes: dict[int, int]) -> dict[int, Feed]:
    feeds = {}
    for n, size in sizes.items():
        feed = Feed(key(n))
        for i in range(size):
            feed.post(f"{n}/{i}")
        store.ingest(feed.raws(), NOW_MS)
        feeds[n] = feed
    return feeds


def test_heads_for_all_or_some_authors(store: Store) -> None:
    feeds = _feeds(store, {1: 3, 2: 1})
    partial = Feed(key(3))
    for i in range(4):
        partial.post(f"{i}")
    store.ingest([partial.raws()[1], partial.raws()[3]], NOW_MS)
    a, b, c = feeds[1].author, feeds[2].author, partial.author
    assert store.heads() == {a: (3, 3), b: (1, 1), c: (0, 4)}
    unknown = Feed(key(9)).author
    assert store.heads([b, unknown, b]) == {b: (1, 1)}
    assert store.heads([]) == {}


def test_missing_matches_the_core_rule_on_random_holdings(store: Store) -> None:
    rng = random.Random(3)
    feed = Feed(key(1))
    for i in range(40):
        feed.post(f"{i}")
    held: set[int] = set()
    order = list(range(1, 41))
    rng.shuffle(order)
    for step in range(0, 40, 3):
        batch = order[step : step + 3]
        store.ingest([feed.messages[s - 1].raw for s in batch], NOW_MS)
        held.update(batch)
        for upto in (None, 1, 39, 45):
            assert store.missing(feed.author, upto) == missing_ranges(held, upto), (held, upto)
        contiguous = max((n for n in range(41) if set(range(1, n + 1)) <= held), default=0)
        assert store.heads([feed.author])[feed.author] == (contiguous, max(held))
    assert store.missing(Feed(key(2)).author) == []
    assert store.missing(Feed(key(2)).author, 3) == [(1, 3)]


def test_range_returns_raw_envelopes_in_seq_order(store: Store) -> None:
    feed = _feeds(store, {1: 10})[1]
    raws = feed.raws()
    assert store.range(feed.author, 3, 6) == raws[2:6]
    assert store.range(feed.author, 1, 100, limit=4) == raws[:4]
    assert store.range(feed.author, 8, 2) == []
    assert store.range(feed.author, 1, 10, limit=0) == []
    assert store.range(Feed(key(5)).author, 1, 10) == []


def test_export_streams_every_feed_in_seq_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replication, "EXPORT_PAGE", 3)  # several pages per author
    feeds = _feeds(store, {1: 7, 2: 3, 3: 5})
    exported = list(store.export())
    assert sorted(exported) == sorted(raw for f in feeds.values() for raw in f.raws())
    # per author, contiguous and in seq order
    for feed in feeds.values():
        positions = [exported.index(raw) for raw in feed.raws()]
        assert positions == list(range(positions[0], positions[0] + len(positions)))
    some = list(store.export([feeds[2].author, Feed(key(8)).author, feeds[1].author]))
    assert sorted(some) == sorted(feeds[1].raws() + feeds[2].raws())
    assert list(store.export([feeds[3].author])) == feeds[3].raws()
    assert list(store.export([])) == []


def test_export_lets_other_calls_run_between_pages(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replication, "EXPORT_PAGE", 2)
    feed = _feeds(store, {1: 5})[1]
    stream = store.export()
    assert next(stream) == feed.raws()[0]
    assert store.counts()["messages"] == 5  # would deadlock if the export held the lock
    assert list(stream) == feed.raws()[1:]


def test_changes_since_and_last_rowid(store: Store) -> None:
    assert store.last_rowid() == 0 and store.changes_since(0) == []
    feeds = _feeds(store, {1: 4, 2: 2})
    raws = feeds[1].raws() + feeds[2].raws()
    changes = store.changes_since(0)
    assert [raw for _, raw in changes] == raws
    rowids = [rowid for rowid, _ in changes]
    assert rowids == sorted(rowids) and store.last_rowid() == rowids[-1]
    assert [raw for _, raw in store.changes_since(rowids[1], limit=2)] == raws[2:4]
    assert store.changes_since(store.last_rowid()) == []


def test_counts(store: Store) -> None:
    none = {"fork_evidence": 0, "forks_dropped": 0}
    assert store.counts() == {"messages": 0, "authors": 0, "forks": 0, **none}
    feeds = _feeds(store, {1: 4, 2: 2})
    feeds[1].follow(feeds[2].author)
    store.ingest([feeds[1].raws()[-1], feeds[2].other_at(1).raw], NOW_MS)
    one = {"fork_evidence": 1, "forks_dropped": 0}
    assert store.counts() == {"messages": 7, "authors": 2, "forks": 1, **one}


def test_two_store_objects_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    with open_store(tmp_path) as node, open_store(tmp_path) as cli:
        seen = node.last_rowid()
        own = cli.append_own(key(1), "post", {"text": "from the CLI"}, NOW_MS)
        changes = node.changes_since(seen)
        assert [raw for _, raw in changes] == [own.raw]
        bob.post("from the network")
        node.ingest(bob.raws(), NOW_MS)
        assert cli.heads() == {alice.author: (1, 1), bob.author: (1, 1)}
        followed = cli.append_own(key(1), "follow", {"key": bob.author}, NOW_MS + 1)
        assert followed.seq == 2 and followed.prev == own.id
        assert node.following(alice.author) == [bob.author]
        assert [s.text for s in node.timeline(alice.author).items] == [
            "from the CLI",
            "from the network",
        ]


def test_calls_from_several_threads_are_serialised(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    feeds = [Feed(key(n)) for n in range(1, 5)]
    for feed in feeds:
        for i in range(30):
            feed.post(f"{i}")

    def work(feed: Feed) -> int:
        for start in range(0, 30, 5):
            store.ingest(feed.raws()[start : start + 5], NOW_MS)
            store.heads()
            store.timeline(feed.author, limit=5)
        return len(store.feed(feed.author, limit=100).items)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(work, feeds, timeout=60)) == [30, 30, 30, 30]
    assert store.heads() == {feed.author: (30, 30) for feed in feeds}
    assert store.counts()["messages"] == 120
