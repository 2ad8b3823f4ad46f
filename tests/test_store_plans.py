"""Performance sanity (nothing is timed): one transaction per batch, and the query plans use the
indexes docs/store.md describes (no full scans, no sorting for the paged queries)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pnyx.store import Store
from tests.store_helpers import NOW_MS, Feed, key, open_store


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[Feed]]]:
    with open_store(tmp_path_factory.mktemp("plans")) as store:
        feeds = [Feed(key(n)) for n in range(1, 21)]
        me = feeds[0]
        for other in feeds[1:10]:
            me.follow(other.author)
        for n in range(30):
            for feed in feeds:
                feed.post(f"{n}")
        root = feeds[1].messages[-1]
        for feed in feeds[2:]:
            feed.post("reply", reply_to=root)
        store.ingest([raw for feed in feeds for raw in feed.raws()], NOW_MS)
        yield store, feeds


def _plans(store: Store, call: Callable[[], Any]) -> list[str]:
    """Run ``call``; return the query-plan lines of every SELECT it executed."""
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    try:
        call()
    finally:
        store._conn.set_trace_callback(None)
    lines: list[str] = []
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT"):
            lines.extend(row[3] for row in store._conn.execute("EXPLAIN QUERY PLAN " + sql))
    return lines


def _no_scan_of_messages(lines: list[str]) -> None:
    assert not [line for line in lines if line.startswith("SCAN m") or line == "SCAN messages"]


def test_a_batch_is_one_transaction(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        feeds = [Feed(key(n)) for n in range(1, 11)]
        for feed in feeds:
            for n in range(100):
                feed.post(f"{n}")
        statements: list[str] = []
        store._conn.set_trace_callback(statements.append)
        report = store.ingest_verified([m for feed in feeds for m in feed.messages])
        store._conn.set_trace_callback(None)
        assert len(report.accepted) == 1000
        assert statements.count("BEGIN IMMEDIATE") == 1 and statements.count("COMMIT") == 1
        # chain placement of in-order feeds needs no per-message lookup
        assert sum(1 for s in statements if s.lstrip().startswith("SELECT")) <= 3


def test_timeline_walks_the_time_index_without_sorting(world: tuple[Store, list[Feed]]) -> None:
    store, feeds = world
    me = feeds[0].author
    lines = _plans(store, lambda: store.timeline(me, limit=20))
    assert any("messages_posts_by_time (ts>? AND (ts,id)<(?,?))" in line for line in lines), lines
    assert not any("TEMP B-TREE FOR ORDER BY" in line for line in lines), lines
    _no_scan_of_messages(lines)
    page = store.timeline(me, limit=20)
    deeper = _plans(store, lambda: store.timeline(me, limit=20, before=page.next))
    assert not any("TEMP B-TREE FOR ORDER BY" in line for line in deeper), deeper


def test_feed_thread_and_lookups_use_their_indexes(world: tuple[Store, list[Feed]]) -> None:
    store, feeds = world
    author = feeds[3].author
    feed_plan = _plans(store, lambda: store.feed(author, limit=10))
    assert any("messages_chain (aid=? AND seq<?)" in line for line in feed_plan), feed_plan
    assert not any("TEMP B-TREE" in line for line in feed_plan)
    root = feeds[1].messages[29]
    thread_plan = _plans(store, lambda: store.thread(root.id))
    assert any("messages_replies (root=?)" in line for line in thread_plan), thread_plan
    assert len(store.thread(root.id)) == 19
    for call in (
        lambda: store.get(root.id),
        lambda: store.resolve_id(root.id.hex()[:10]),
        lambda: store.missing(author, 50),
        lambda: store.range(author, 5, 9),
        lambda: store.changes_since(100, limit=10),
        lambda: list(store.export([author])),
        lambda: store.heads([author]),
    ):
        lines = _plans(store, call)
        _no_scan_of_messages(lines)
        assert not any("TEMP B-TREE FOR ORDER BY" in line for line in lines), lines
    # following() sorts the followed keys (one row per key), but scans no messages
    lines = _plans(store, lambda: store.following(feeds[0].author))
    _no_scan_of_messages(lines)
    assert any("SEARCH f USING PRIMARY KEY (follower=?)" in line for line in lines), lines
