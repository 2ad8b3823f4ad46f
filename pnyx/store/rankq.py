"""Read queries for ranked feeds: candidate posts, and the replies, reposts and reactions that
engage with them or that fall in the recent window clusters are computed over.

Both functions only read. Costs (no index exists yet on ``messages.target`` or ``parent``):

* ``candidate_posts`` walks ``messages_posts_by_time`` newest first from the cursor and keeps the
  chosen authors' visible posts, up to ``limit``: about ``limit / density`` index entries;
* ``actions`` scans every message once (O(messages)) and returns only the matching rows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from pnyx.core import kinds
from pnyx.store.models import Cursor, StoredMessage
from pnyx.store.queries import _COLUMNS, _VISIBLE, _below, check_limit, stored
from pnyx.store.schema import id_key


@dataclass(frozen=True, slots=True)
class Action:
    """One reply (``kind`` "reply"), repost or reaction by ``actor`` on post ``post`` at ``ts``
    (ms since the epoch)."""

    actor: bytes
    post: bytes
    kind: str
    ts: int


def candidate_posts(
    conn: sqlite3.Connection,
    authors: list[bytes] | None,
    limit: int,
    before: Cursor | None,
    exclude: list[bytes] | None = None,
) -> list[StoredMessage]:
    """The newest visible posts below ``before`` by ``authors`` (every author if None), none by
    ``exclude`` (the user's hidden authors: left out before ``limit`` counts)."""
    check_limit(limit)
    ts, last_id = _below(before)
    params: dict[str, object] = {"ts": ts, "id": last_id, "n": limit}
    by_author = ""
    if exclude:
        unwanted = set(exclude)
        held = conn.execute("SELECT aid, author FROM authors")
        params["skip"] = json.dumps([aid for aid, key in held if key in unwanted])
        by_author = "AND +m.aid NOT IN (SELECT value FROM json_each(:skip))"
    if authors is not None:
        wanted = set(authors)
        held = conn.execute("SELECT aid, author FROM authors")
        aids = [aid for aid, key in held if key in wanted]
        if not aids:
            return []
        params["aids"] = json.dumps(aids)
        by_author += " AND +m.aid IN (SELECT value FROM json_each(:aids))"
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM messages AS m INDEXED BY messages_posts_by_time
        WHERE m.kind = '{kinds.POST}' AND (m.ts, m.id) < (:ts, :id) {by_author} AND {_VISIBLE}
        ORDER BY m.ts DESC, m.id DESC LIMIT :n""",
        params,
    ).fetchall()
    return [stored(row) for row in rows]


def visible_post(conn: sqlite3.Connection, post_id: bytes) -> bool:
    """Whether ``post_id`` is a post held and not deleted by its author."""
    row = conn.execute(
        f"""SELECT 1 FROM messages AS m WHERE m.idkey = ? AND m.id = ?
        AND m.kind = '{kinds.POST}' AND {_VISIBLE}""",
        (id_key(post_id), post_id),
    ).fetchone()
    return row is not None


def actions(conn: sqlite3.Connection, posts: list[bytes], since_ms: int) -> list[Action]:
    """Replies (visible ones), reposts and reactions naming one of ``posts``, plus every repost
    and reaction at or after ``since_ms``; by ts, then author and seq."""
    ids = json.dumps(sorted({p.hex().upper() for p in posts}))
    rows = conn.execute(
        f"""SELECT a.author, m.kind, m.target, m.parent, m.ts FROM messages AS m
        JOIN authors AS a ON a.aid = m.aid
        WHERE (m.kind IN ('repost', 'reaction')
               AND (m.ts >= :since OR hex(m.target) IN (SELECT value FROM json_each(:ids))))
           OR (m.kind = '{kinds.POST}' AND m.parent IS NOT NULL
               AND hex(m.parent) IN (SELECT value FROM json_each(:ids)) AND {_VISIBLE})
        ORDER BY m.ts, m.aid, m.seq""",
        {"since": since_ms, "ids": ids},
    ).fetchall()
    found = []
    for actor, kind, target, parent, ts in rows:
        if kind == kinds.POST:
            found.append(Action(actor, parent, "reply", ts))
        else:
            found.append(Action(actor, target, kind, ts))
    return found
