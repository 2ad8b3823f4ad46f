"""What each author's feed costs on disk, and dropping a whole feed (the storage budget).

``usage`` sums the raw envelopes held per author (chain messages and fork evidence): the
measure the admission policy's budget and quotas are in (``pnyx.trust.admission``). Indexes,
derived rows and SQLite's page overhead add about as much again (docs/store.md, "Budget").
Cost: one pass over the ``messages`` and ``forks`` tables (``length(raw)`` reads no overflow
page), run off the trio loop.

``evict`` drops everything held of one author inside the caller's transaction and keeps every
table consistent: its messages (and their full-text rows), fork evidence, the rows it derived
(its follows, deletions, profile and profile search row), the running totals, and its
``authors`` row reset to "known, nothing held" (the row stays: others' follows name its aid).
A later message of the author is placed as for any author not held (a new chain from what
arrives). Raises only ``sqlite3.Error`` (the caller rolls back).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from pnyx.store.schema import id_key

_USAGE = """
SELECT a.author, u.bytes FROM (
    SELECT aid, sum(bytes) AS bytes FROM (
        SELECT aid, sum(length(raw)) AS bytes FROM messages GROUP BY aid
        UNION ALL
        SELECT aid, sum(length(other_raw)) AS bytes FROM forks GROUP BY aid
    ) GROUP BY aid
) AS u JOIN authors AS a ON a.aid = u.aid
"""
_RESET_AUTHOR = """
UPDATE authors SET contiguous = 0, highest = 0, held = 0, posts = 0, forked = 0, fork_rows = 0,
    forks_dropped = 0, first_post = NULL, last_post = NULL
WHERE aid = ?
"""


def usage(conn: sqlite3.Connection) -> dict[bytes, int]:
    """author -> bytes of raw envelopes held (authors holding nothing are left out)."""
    return {bytes(author): int(total) for author, total in conn.execute(_USAGE) if total}


def evict(conn: sqlite3.Connection, author: bytes) -> int:
    """Drop everything held of ``author`` (see the module docstring); the messages removed."""
    row = conn.execute("SELECT aid, posts FROM authors WHERE author = ?", (author,)).fetchone()
    if row is None:
        return 0
    aid, posts = row
    conn.execute(
        """INSERT INTO posts_fts (posts_fts, rowid, text)
        SELECT 'delete', n, text FROM messages
        WHERE aid = ? AND kind = 'post' AND text IS NOT NULL""",
        (aid,),
    )
    removed = conn.execute("DELETE FROM messages WHERE aid = ?", (aid,)).rowcount
    conn.execute("DELETE FROM forks WHERE aid = ?", (aid,))
    conn.execute("DELETE FROM follows WHERE follower = ?", (aid,))
    conn.execute("DELETE FROM mutes WHERE actor = ?", (aid,))
    conn.execute("DELETE FROM blocks WHERE actor = ?", (aid,))
    conn.execute("DELETE FROM deletions WHERE aid = ?", (aid,))
    conn.execute("DELETE FROM profiles WHERE author = ?", (author,))
    conn.execute("DELETE FROM profiles_fts WHERE rowid = ?", (aid,))
    conn.execute(_RESET_AUTHOR, (aid,))
    conn.execute(
        """UPDATE stats SET value = value - CASE name WHEN 'messages' THEN ? ELSE ? END
        WHERE name IN ('messages', 'posts')""",
        (removed, posts),
    )
    return int(removed)


def held_ids(conn: sqlite3.Connection, ids: Iterable[bytes]) -> set[bytes]:
    """Those of ``ids`` naming a message held (one indexed lookup each)."""
    found: set[bytes] = set()
    for message_id in dict.fromkeys(ids):
        hit = conn.execute(
            "SELECT 1 FROM messages WHERE idkey = ? AND id = ?", (id_key(message_id), message_id)
        ).fetchone()
        if hit is not None:
            found.add(message_id)
    return found
