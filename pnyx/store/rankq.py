"""Read queries for ranked feeds: candidate posts, and the replies, reposts and reactions that
engage with them or that fall in the recent window clusters are computed over.

Both functions only read. Costs:

* ``candidate_posts`` walks ``messages_posts_by_time`` newest first from the cursor and keeps the
  chosen authors' visible posts, up to ``limit``: about ``limit / density`` index entries;
* ``actions`` looks up three indexes of migration 5 (reposts and reactions by time, by target;
  posts by parent), each row then probing the ``deletions`` primary key (target, aid) to skip
  undone ones: O((rows returned + posts) x log(messages)), no scan.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from pnyx.core import kinds
from pnyx.store.models import Cursor, StoredMessage
from pnyx.store.queries import _COLUMNS, _VISIBLE, _below, check_limit, stored
from pnyx.store.schema import id_key

#: Ids or keys bound in one query, a count (well below SQLite's variable limit).
IDS_PER_QUERY = 500


@dataclass(frozen=True, slots=True)
class Action:
    """One reply (``kind`` "reply"), repost or reaction by ``actor`` on post ``post`` at ``ts``
    (ms since the epoch)."""

    actor: bytes
    post: bytes
    kind: str
    ts: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """A candidate post's ranking columns, read from the row without decoding the message (the
    ``root``/``parent`` columns are the post's body fields); ``item()`` decodes it, which only
    the posts a page shows need."""

    id: bytes
    author: bytes
    ts: int
    parent: bytes | None
    root: bytes | None
    received_ms: int
    raw: bytes

    def item(self) -> StoredMessage:
        return stored((self.id, self.raw, self.received_ms))

    @classmethod
    def of(cls, item: StoredMessage) -> Candidate:
        """The candidate of a post already decoded."""
        m = item.message
        parent, root = m.body.get("parent"), m.body.get("root")
        return cls(m.id, m.author, m.ts, parent, root, item.received_ms, m.raw)


def _aids(conn: sqlite3.Connection, keys: list[bytes], known: dict[bytes, int]) -> list[int]:
    """The local numbers of those of ``keys`` the store holds messages of, in aid order.

    ``known`` (the ``Store``'s, filled here) maps keys to aids already found: an ``authors`` row
    is never deleted nor renumbered (``aid`` is its rowid, ``author`` unique), so a key found once
    keeps its aid. The others are looked up in the ``authors.author`` unique index, once per key
    (a key not held yet may be held later: it is looked up again next time)."""
    unique = set(keys)
    found = [known[k] for k in unique if k in known]
    missing = sorted(k for k in unique if k not in known)
    for start in range(0, len(missing), IDS_PER_QUERY):
        chunk = missing[start : start + IDS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"SELECT aid, author FROM authors WHERE author IN ({marks})", chunk)
        for aid, author in rows:
            known[author] = int(aid)
            found.append(int(aid))
    return sorted(found)


def candidate_posts(
    conn: sqlite3.Connection,
    authors: list[bytes] | None,
    limit: int,
    before: Cursor | None,
    exclude: list[bytes] | None = None,
    known: dict[bytes, int] | None = None,
) -> list[Candidate]:
    """The newest visible posts below ``before`` by ``authors`` (every author if None), none by
    ``exclude`` (the user's hidden authors: left out before ``limit`` counts). ``known``: the
    caller's cache of author aids (``_aids``)."""
    known = {} if known is None else known
    check_limit(limit)
    ts, last_id = _below(before)
    params: dict[str, object] = {"ts": ts, "id": last_id, "n": limit}
    by_author = ""
    if exclude:
        params["skip"] = json.dumps(_aids(conn, exclude, known))
        by_author = "AND +m.aid NOT IN (SELECT value FROM json_each(:skip))"
    if authors is not None:
        aids = _aids(conn, authors, known)
        if not aids:
            return []
        params["aids"] = json.dumps(aids)
        by_author += " AND +m.aid IN (SELECT value FROM json_each(:aids))"
    rows = conn.execute(
        f"""SELECT m.id, a.author, m.ts, m.parent, m.root, m.received_ms, m.raw
        FROM messages AS m INDEXED BY messages_posts_by_time CROSS JOIN authors AS a
        ON a.aid = m.aid WHERE m.kind = '{kinds.POST}' AND (m.ts, m.id) < (:ts, :id)
        {by_author} AND {_VISIBLE}
        ORDER BY m.ts DESC, m.id DESC LIMIT :n""",
        params,
    ).fetchall()
    return [Candidate(*row) for row in rows]


def visible_post(conn: sqlite3.Connection, post_id: bytes) -> bool:
    """Whether ``post_id`` is a post held and not deleted by its author."""
    row = conn.execute(
        f"""SELECT 1 FROM messages AS m WHERE m.idkey = ? AND m.id = ?
        AND m.kind = '{kinds.POST}' AND {_VISIBLE}""",
        (id_key(post_id), post_id),
    ).fetchone()
    return row is not None


_ACTION_COLUMNS = "m.ts, m.aid, m.seq, a.author, m.kind, m.target, m.parent"
_ACTIVE = "m.kind IN ('repost', 'reaction')"  # the term of index messages_actions_by_time


def actions(conn: sqlite3.Connection, posts: list[bytes], since_ms: int) -> list[Action]:
    """Replies, reposts and reactions naming one of ``posts``, plus every repost and reaction at
    or after ``since_ms``; by ts, then author and seq. Only ones their author has not deleted (an
    undone like or repost stops counting): each row is checked with the ``deletions`` primary key,
    as posts are. Three index lookups (migration 5): the recent window by ts, reposts and
    reactions by target, replies by parent."""
    rows = conn.execute(
        f"""SELECT {_ACTION_COLUMNS} FROM messages AS m INDEXED BY messages_actions_by_time
        JOIN authors AS a ON a.aid = m.aid WHERE {_ACTIVE} AND m.ts >= ? AND {_VISIBLE}""",
        (since_ms,),
    ).fetchall()
    ids = sorted(set(posts))
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        rows += conn.execute(
            f"""SELECT {_ACTION_COLUMNS} FROM messages AS m INDEXED BY messages_by_target
            JOIN authors AS a ON a.aid = m.aid
            WHERE m.target IN ({marks}) AND {_ACTIVE} AND m.ts < ? AND {_VISIBLE}""",
            (*chunk, since_ms),
        ).fetchall()
        rows += conn.execute(
            f"""SELECT {_ACTION_COLUMNS} FROM messages AS m INDEXED BY messages_by_parent
            JOIN authors AS a ON a.aid = m.aid
            WHERE m.parent IN ({marks}) AND m.kind = '{kinds.POST}' AND {_VISIBLE}""",
            chunk,
        ).fetchall()
    rows.sort(key=lambda row: row[:3])
    found = []
    for ts, _aid, _seq, actor, kind, target, parent in rows:
        if kind == kinds.POST:
            found.append(Action(actor, parent, "reply", ts))
        else:
            found.append(Action(actor, target, kind, ts))
    return found


def published_recipes(conn: sqlite3.Connection, recipe_hash: bytes) -> list[StoredMessage]:
    """The held ``recipe`` messages whose recipe hash is ``recipe_hash``, oldest first (index)."""
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM published_recipes AS p JOIN messages AS m ON m.id = p.id
        WHERE p.hash = ? AND {_VISIBLE} ORDER BY m.ts, m.id""",
        (recipe_hash,),
    )
    return [stored(row) for row in rows]
