"""The user's "show less like this" marks (table ``less_marks``, migration 6): local to this
home, never signed or published (``pnyx.rank.negative`` says what they weigh).

Marking post ``via`` stores two rows: ``('author', its author)`` and ``('thread', its thread's
first post)``. At most ``MAX_MARKS`` marked posts are kept: marking one more deletes the oldest
marks. Functions take a ``Store`` and use its lock and transactions as its own methods do (the
``Store`` class has no room for more methods). Failure mode: ``StoreError``.
"""

from __future__ import annotations

import sqlite3

from pnyx.rank.negative import MAX_MARKS, Mark
from pnyx.store.connection import reading, transaction
from pnyx.store.store import Store

#: Milliseconds per second (marks are stored in ms, ranked in seconds).
MS_PER_S = 1000


def _add(conn: sqlite3.Connection, via: bytes, author: bytes, thread: bytes, now_ms: int) -> bool:
    known = conn.execute("SELECT 1 FROM less_marks WHERE via = ?", (via,)).fetchone()
    if known is not None:
        return False
    conn.executemany(
        "INSERT INTO less_marks (via, kind, target, created_ms) VALUES (?, ?, ?, ?)",
        [(via, "author", author, now_ms), (via, "thread", thread, now_ms)],
    )
    conn.execute(
        "DELETE FROM less_marks WHERE via NOT IN (SELECT via FROM less_marks WHERE kind = "
        "'author' ORDER BY created_ms DESC, via DESC LIMIT ?)",
        (MAX_MARKS,),
    )
    return True


def add_mark(store: Store, via: bytes, author: bytes, thread: bytes, now_ms: int) -> bool:
    """Mark post ``via`` (by ``author``, in the thread whose first post is ``thread``): durable
    commit. False if that post was marked already (the first mark's time is kept)."""
    with store._lock:
        store._check_open()
        with transaction(store._conn, store.path, durable=True):
            return _add(store._conn, via, author, thread, now_ms)


def remove_mark(store: Store, via: bytes) -> bool:
    """Take back the marks given on post ``via``; False if there were none."""
    with store._lock:
        store._check_open()
        with transaction(store._conn, store.path, durable=True):
            cur = store._conn.execute("DELETE FROM less_marks WHERE via = ?", (via,))
            return cur.rowcount > 0


def marks(store: Store) -> list[Mark]:
    """Every mark, oldest first (then by post id, author mark before thread mark)."""
    with store._lock:
        store._check_open()
        with reading(store.path):
            rows = store._conn.execute(
                "SELECT kind, target, via, created_ms FROM less_marks "
                "ORDER BY created_ms, via, kind"
            ).fetchall()
    return [Mark(kind, target.hex(), via.hex(), ms / MS_PER_S) for kind, target, via, ms in rows]
