"""Notification queries: replies to a user's posts, posts mentioning the user, new followers.

Every function takes an open connection and only reads; each returns at most ``limit`` rows,
newest first (ts DESC, id DESC). Deleted posts are hidden; the user's own messages never count.

Cost: replies walk the user's own posts (``messages_chain``) and their threads
(``messages_replies``); followers read the ``follows`` rows naming the user and one message each;
mentions look the needles up in the ``mentions`` table (the post kind's own: each post's key
texts and fingerprints, ``pnyx.core.kinds.mentions``), so they cost O(posts naming the user).
"""

from __future__ import annotations

import sqlite3

from pnyx.core import kinds
from pnyx.store.models import StoredMessage
from pnyx.store.queries import _COLUMNS, _VISIBLE, aid_of, check_limit, stored

_POST = kinds.POST
_FOLLOW = kinds.FOLLOW


def replies(conn: sqlite3.Connection, me: bytes, limit: int) -> list[StoredMessage]:
    """Visible posts by others whose parent is one of ``me``'s posts."""
    check_limit(limit)
    aid = aid_of(conn, me)
    if aid is None:
        return []
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM messages AS p
        JOIN messages AS m ON m.root = coalesce(p.root, p.id) AND m.parent = p.id
        WHERE p.aid = :me AND p.kind = '{_POST}' AND m.aid != :me AND m.kind = '{_POST}'
          AND {_VISIBLE}
        ORDER BY m.ts DESC, m.id DESC LIMIT :n""",
        {"me": aid, "n": limit},
    ).fetchall()
    return [stored(row) for row in rows]


def mentions(
    conn: sqlite3.Connection, me: bytes, needles: list[str], limit: int
) -> list[StoredMessage]:
    """Visible posts by others whose text holds any of ``needles`` (exact, case-sensitive)."""
    check_limit(limit)
    if not needles:
        return []
    aid = aid_of(conn, me)
    marks = ",".join("?" * len(needles))
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM messages AS m JOIN (SELECT DISTINCT aid, seq FROM mentions
          WHERE needle IN ({marks})) AS n ON m.aid = n.aid AND m.seq = n.seq
        WHERE m.kind = '{_POST}' AND m.aid IS NOT ? AND {_VISIBLE}
        ORDER BY m.ts DESC, m.id DESC LIMIT ?""",
        (*needles, aid, limit),
    ).fetchall()
    return [stored(row) for row in rows]


def followers(conn: sqlite3.Connection, me: bytes, limit: int) -> list[StoredMessage]:
    """The follow message of everyone who follows ``me`` now (their latest follow of ``me``)."""
    check_limit(limit)
    aid = aid_of(conn, me)
    if aid is None:
        return []
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM follows AS f
        JOIN messages AS m ON m.aid = f.follower AND m.seq = f.seq
        WHERE f.followee = :me AND f.state = 1 AND m.kind = '{_FOLLOW}'
        ORDER BY m.ts DESC, m.id DESC LIMIT :n""",
        {"me": aid, "n": limit},
    ).fetchall()
    return [stored(row) for row in rows]
