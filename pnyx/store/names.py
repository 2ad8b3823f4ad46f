"""The display names of the user and everyone the user follows, in one query (the web app's
look-alike checks on every page: ``pnyx.web.read.known_names``). Takes a ``Store`` and uses its
lock (the ``Store`` class has no room for more methods). Cost: the user's follows by the
``follows`` primary key, one ``profiles`` lookup each, in SQLite. Failure mode: ``StoreError``.
"""

from __future__ import annotations

import sqlite3

from pnyx.store.store import Store


def _names(conn: sqlite3.Connection, me: bytes) -> dict[bytes, str | None]:
    rows = conn.execute(
        """SELECT b.author, p.name FROM authors AS a
        JOIN follows AS f ON f.follower = a.aid AND f.state = 1
        JOIN authors AS b ON b.aid = f.followee
        LEFT JOIN profiles AS p ON p.author = b.author
        WHERE a.author = ?""",
        (me,),
    ).fetchall()
    mine = conn.execute("SELECT name FROM profiles WHERE author = ?", (me,)).fetchone()
    known: dict[bytes, str | None] = {me: None if mine is None else mine[0]}
    known.update((bytes(key), name) for key, name in rows)
    return known


def followed_names(store: Store, me: bytes) -> dict[bytes, str | None]:
    """``me`` and each key ``me`` follows, with the profile name held (None: none)."""
    return store._read(_names, me)
