"""Migration 5: the indexes behind ``Store.actions`` (ranked feeds), on a new store and on a store
of version 4 upgraded in place; the same actions found, and no query of it scans the messages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pnyx.store import Store, rankq, schema
from tests.store_helpers import NOW_MS, Feed, key

INDEXES = {"messages_by_target", "messages_by_parent", "messages_actions_by_time"}
HOUR_MS = 3600 * 1000


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()


def _fill(store: Store) -> tuple[list[bytes], list[tuple[bytes, bytes, str, int]]]:
    """Alice posts twice; bob replies to the first, reacts old to the second, reposts recent;
    carol reacts recent to a post not asked about, and replies then deletes the reply."""
    alice, bob, carol = Feed(key(1)), Feed(key(2)), Feed(key(3))
    p1 = alice.post("one", ts=NOW_MS - 50 * HOUR_MS)
    p2 = alice.post("two", ts=NOW_MS - 49 * HOUR_MS)
    other = alice.post("three", ts=NOW_MS - 48 * HOUR_MS)
    reply = bob.post("re", reply_to=p1, ts=NOW_MS - 40 * HOUR_MS)
    old = bob.add(
        "reaction", {"id": p2.id, "author": p2.author, "reaction": "+"}, ts=NOW_MS - 30 * HOUR_MS
    )
    new = bob.add("repost", {"id": p1.id, "author": p1.author}, ts=NOW_MS - HOUR_MS)
    recent = carol.add(
        "reaction",
        {"id": other.id, "author": other.author, "reaction": "+"},
        ts=NOW_MS - HOUR_MS + 1,
    )
    gone = carol.post("gone", reply_to=p2, ts=NOW_MS - 2 * HOUR_MS)
    carol.delete(gone.id)
    for feed in (alice, bob, carol):
        store.ingest_verified(feed.messages)
    expected = [
        (bob.author, p1.id, "reply", reply.ts),
        (bob.author, p2.id, "reaction", old.ts),
        (bob.author, p1.id, "repost", new.ts),
        (carol.author, other.id, "reaction", recent.ts),
    ]
    return [p1.id, p2.id], expected


def _found(store: Store, posts: list[bytes]) -> list[tuple[bytes, bytes, str, int]]:
    since = NOW_MS - 10 * HOUR_MS
    return [(a.actor, a.post, a.kind, a.ts) for a in store.actions(posts, since_ms=since)]


def test_actions_uses_the_indexes_and_finds_what_the_scan_found(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    with Store.open(path) as store:
        posts, expected = _fill(store)
        assert _found(store, posts) == expected
        assert _found(store, []) == expected[2:]  # only the recent window
    assert _indexes(path) >= INDEXES
    conn = sqlite3.connect(path)
    marks = ",".join("?" * len(posts))
    for index, where in (
        ("messages_actions_by_time", f"{rankq._ACTIVE} AND m.ts >= 0"),
        ("messages_by_target", f"m.target IN ({marks}) AND {rankq._ACTIVE}"),
        ("messages_by_parent", f"m.parent IN ({marks}) AND m.kind = 'post'"),
    ):
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT m.n FROM messages AS m WHERE {where}",
            posts if "?" in where else (),
        ).fetchall()
        text = " | ".join(str(row[-1]) for row in plan)
        assert index in text and "SCAN m" not in text, text
    conn.close()


def test_a_store_of_version_4_gets_the_indexes_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    with Store.open(path) as store:
        posts, expected = _fill(store)
    conn = sqlite3.connect(path, isolation_level=None)
    for index in INDEXES:  # back to what version 4 wrote
        conn.execute(f"DROP INDEX {index}")
    conn.execute("DROP TABLE less_marks")  # migration 6 (show less), after this one
    conn.execute("DROP TABLE label_subscriptions")  # migration 7 (labels)
    conn.execute("PRAGMA user_version = 4")
    conn.close()
    assert not INDEXES & _indexes(path)
    with Store.open(path) as store:
        assert _found(store, posts) == expected
    assert _indexes(path) >= INDEXES
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.current_version()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
