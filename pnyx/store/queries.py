"""Read queries: single messages, ids, timeline, feed, thread, follows, profiles, forks.

Every function takes an open connection and only reads. Fork evidence lives in its own table, so no
query here can return it. A post is hidden when a ``deletions`` row names it with the post's own
author (``_VISIBLE``).

Timeline strategy (docs/store.md, "Timeline"): two plans, chosen per call from the running totals.

* scan: walk the partial index ``messages_posts_by_time`` (ts DESC, id DESC, aid) from the
  cursor and keep rows whose author is in the followed set (an ephemeral index SQLite builds once
  per statement). Cost ~ ``limit / density`` index entries, density = followed posts / all posts.
* by author: read every message of the followed authors through ``messages_chain`` (aid, seq) and
  sort them. Cost ~ their message count; wins when they hold few messages among many others.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgpack

from pnyx.core import kinds
from pnyx.core.envelope import Message
from pnyx.core.limits import ID_BYTES, SIGNATURE_BYTES
from pnyx.core.reasons import Reason
from pnyx.errors import NotFoundError, UserError
from pnyx.store.models import Cursor, FollowEdges, ForkEvidence, Page, Profile, StoredMessage
from pnyx.store.schema import id_key

#: Largest page a caller may ask for, in messages.
MAX_PAGE_ITEMS = 1000
#: Shortest id prefix ``resolve_id`` accepts, in hex characters.
MIN_ID_PREFIX_CHARS = 8
#: Timeline planner: cost of fetching one table row by rowid, in covering-index entries scanned.
ROW_FETCH_COST = 4

_POST = kinds.POST
#: SQL condition: message row ``m`` is not a post its own author deleted.
_VISIBLE = "NOT EXISTS (SELECT 1 FROM deletions AS d WHERE d.target = m.id AND d.aid = m.aid)"
#: The aids of :me and of every author :me follows (:me is an aid).
_FOLLOWED = "SELECT followee FROM follows WHERE follower = :me AND state = 1 UNION ALL SELECT :me"
_COLUMNS = "m.id, m.raw, m.received_ms"
_BY_ID = "m.idkey = :idkey AND m.id = :id"


def stored(row: tuple[Any, ...]) -> StoredMessage:
    """Build a StoredMessage from (id, raw, received_ms). The raw bytes were validated at ingest,
    so the payload is unpacked without re-checking canonical form or signature."""
    message_id, raw, received_ms = row[0], row[1], row[2]
    fields = msgpack.unpackb(raw[SIGNATURE_BYTES:], raw=False)
    _, author, seq, prev, ts, kind, body = fields
    return StoredMessage(Message(message_id, author, seq, prev, ts, kind, body, raw), received_ms)


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_ITEMS:
        raise UserError(f"page size {limit} outside 1..{MAX_PAGE_ITEMS}")


def _page(rows: list[tuple[Any, ...]], limit: int) -> Page:
    items = [stored(row) for row in rows[:limit]]
    following = items[-1].cursor if len(rows) > limit and items else None
    return Page(items, following)


def aid_of(conn: sqlite3.Connection, author: bytes) -> int | None:
    """The local number of ``author``, or None if no message of theirs is held."""
    row = conn.execute("SELECT aid FROM authors WHERE author = ?", (author,)).fetchone()
    return int(row[0]) if row is not None else None


def get(conn: sqlite3.Connection, message_id: bytes) -> StoredMessage | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM messages AS m WHERE {_BY_ID}",
        {"idkey": id_key(message_id), "id": message_id},
    ).fetchone()
    return stored(row) if row is not None else None


def resolve_id(conn: sqlite3.Connection, text: str) -> bytes:
    """A full id or a unique prefix (>= MIN_ID_PREFIX_CHARS hex chars) to the full id."""
    prefix = text.strip().lower()
    if not prefix or any(c not in "0123456789abcdef" for c in prefix):
        raise UserError(f"not a message id (expected hex): {text!r}")
    full = ID_BYTES * 2
    if len(prefix) > full:
        raise UserError(f"a message id has {full} hex characters, {text!r} has {len(prefix)}")
    if len(prefix) < MIN_ID_PREFIX_CHARS:
        raise UserError(f"an id prefix needs at least {MIN_ID_PREFIX_CHARS} hex characters")
    low = bytes.fromhex(prefix.ljust(full, "0"))
    high = bytes.fromhex(prefix.ljust(full, "f"))
    rows = conn.execute(
        """SELECT id FROM messages WHERE idkey BETWEEN ? AND ? AND id BETWEEN ? AND ?
        LIMIT 2""",
        (id_key(low), id_key(high), low, high),
    ).fetchall()
    if not rows:
        raise NotFoundError(f"no message with id {prefix} in this store")
    if len(rows) > 1:
        raise NotFoundError(f"the id prefix {prefix} is ambiguous: give more characters")
    result: bytes = rows[0][0]
    return result


def following(conn: sqlite3.Connection, me: bytes) -> list[bytes]:
    rows = conn.execute(
        """SELECT b.author FROM authors AS a
        JOIN follows AS f ON f.follower = a.aid AND f.state = 1
        JOIN authors AS b ON b.aid = f.followee
        WHERE a.author = ? ORDER BY b.author""",
        (me,),
    )
    return [row[0] for row in rows]


def followers(conn: sqlite3.Connection, me: bytes) -> list[bytes]:
    rows = conn.execute(
        """SELECT a.author FROM authors AS b
        JOIN follows AS f ON f.followee = b.aid AND f.state = 1
        JOIN authors AS a ON a.aid = f.follower
        WHERE b.author = ? ORDER BY a.author""",
        (me,),
    )
    return [row[0] for row in rows]


def _below(before: Cursor | None) -> tuple[int, bytes]:
    """The (ts, id) every returned item must sort below (a sentinel above everything if None)."""
    if before is None:
        return (2**63 - 1, b"\xff" * (ID_BYTES + 1))
    return (before.ts, before.id)


def timeline(conn: sqlite3.Connection, me: bytes, limit: int, before: Cursor | None) -> Page:
    check_limit(limit)
    me_aid = aid_of(conn, me)
    if me_aid is None:
        return Page([], None)
    ts, last_id = _below(before)
    params = {"me": me_aid, "ts": ts, "id": last_id, "n": limit + 1}
    followed_held, followed_posts, first, last = conn.execute(
        f"""SELECT coalesce(sum(held), 0), coalesce(sum(posts), 0), min(first_post),
        max(last_post) FROM authors WHERE aid IN ({_FOLLOWED})""",
        params,
    ).fetchone()
    if followed_posts == 0:
        return Page([], None)
    # Only posts inside the followed authors' ts span can match: bound the walk to it.
    if last < ts:
        params.update(ts=last, id=_below(None)[1])
    params["first"] = first
    total_row = conn.execute("SELECT value FROM stats WHERE name = 'posts'").fetchone()
    total_posts = int(total_row[0]) if total_row else 0
    scan_cost = limit * total_posts / followed_posts
    # "scan" walks every post newest first and keeps the followed authors' ones (~limit/density
    # index entries); "by author" reads every message of the followed authors and sorts them.
    index = "messages_posts_by_time"
    if followed_held * ROW_FETCH_COST < scan_cost:
        index = "messages_chain"
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM messages AS m INDEXED BY {index}
        WHERE m.kind = '{_POST}' AND (m.ts, m.id) < (:ts, :id) AND m.ts >= :first
          AND {"+" if index != "messages_chain" else ""}m.aid IN ({_FOLLOWED}) AND {_VISIBLE}
        ORDER BY m.ts DESC, m.id DESC LIMIT :n""",
        params,
    ).fetchall()
    return _page(rows, limit)


def timeline_reposts(
    conn: sqlite3.Connection, me: bytes, limit: int, before: Cursor | None
) -> Page:
    """Reposts by ``me`` and everyone ``me`` follows, newest first (ts DESC, id DESC): what the
    timeline shows besides posts (issue 24). Two plans, as ``timeline``'s: walk the recent
    reposts and reactions by time (``messages_actions_by_time``) keeping the followed authors'
    reposts, or read every message of the followed authors (``messages_chain``) and sort; the
    cheaper by the running totals (reposts assumed spread like messages)."""
    check_limit(limit)
    me_aid = aid_of(conn, me)
    if me_aid is None:
        return Page([], None)
    ts, last_id = _below(before)
    params = {"me": me_aid, "ts": ts, "id": last_id, "n": limit + 1}
    (followed_held,) = conn.execute(
        f"SELECT coalesce(sum(held), 0) FROM authors WHERE aid IN ({_FOLLOWED})", params
    ).fetchone()
    total_row = conn.execute("SELECT value FROM stats WHERE name = 'messages'").fetchone()
    total = int(total_row[0]) if total_row else 0
    by_time = followed_held * ROW_FETCH_COST >= limit * total / max(followed_held, 1)
    index, aid = ("messages_actions_by_time", "+m.aid") if by_time else ("messages_chain", "m.aid")
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM messages AS m INDEXED BY {index}
        WHERE {aid} IN ({_FOLLOWED}) AND m.kind IN ('{kinds.REPOST}', '{kinds.REACTION}')
          AND m.kind = '{kinds.REPOST}' AND (m.ts, m.id) < (:ts, :id)
        ORDER BY m.ts DESC, m.id DESC LIMIT :n""",
        params,
    ).fetchall()
    return _page(rows, limit)


def feed(conn: sqlite3.Connection, author: bytes, limit: int, before: Cursor | None) -> Page:
    """All of one author's messages, newest (highest seq) first; deleted posts hidden."""
    check_limit(limit)
    aid = aid_of(conn, author)
    if aid is None:
        return Page([], None)
    below = 2**63 - 1
    if before is not None:
        row = conn.execute(
            f"SELECT m.seq FROM messages AS m WHERE {_BY_ID} AND m.aid = :aid",
            {"idkey": id_key(before.id), "id": before.id, "aid": aid},
        ).fetchone()
        if row is None:
            raise UserError("this cursor does not belong to this author's feed")
        below = row[0]
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM messages AS m
        WHERE m.aid = ? AND m.seq < ? AND (m.kind != '{_POST}' OR {_VISIBLE})
        ORDER BY m.seq DESC LIMIT ?""",
        (aid, below, limit + 1),
    ).fetchall()
    return _page(rows, limit)


def thread(conn: sqlite3.Connection, message_id: bytes) -> list[StoredMessage]:
    """The root post and all replies naming it as root, oldest first; deleted posts hidden."""
    row = conn.execute(
        f"SELECT m.kind, m.root FROM messages AS m WHERE {_BY_ID}",
        {"idkey": id_key(message_id), "id": message_id},
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no message {message_id.hex()} in this store")
    kind, root = row
    if kind != _POST:
        raise NotFoundError(f"message {message_id.hex()[:12]} is a {kind}, not a post")
    root = root if root is not None else message_id
    rows = conn.execute(
        f"""SELECT {_COLUMNS}, m.ts FROM messages AS m
        WHERE m.idkey = :idkey AND m.id = :root AND m.kind = '{_POST}' AND {_VISIBLE}
        UNION ALL
        SELECT {_COLUMNS}, m.ts FROM messages AS m INDEXED BY messages_replies
        WHERE m.root = :root AND m.kind = '{_POST}' AND {_VISIBLE}""",
        {"root": root, "idkey": id_key(root)},
    ).fetchall()
    rows.sort(key=lambda r: (r[3], r[0]))
    return [stored(r) for r in rows]


def profile(conn: sqlite3.Connection, author: bytes) -> Profile | None:
    row = conn.execute("SELECT name, bio, seq FROM profiles WHERE author = ?", (author,)).fetchone()
    if row is None:
        return None
    return Profile(author, row[0], row[1], row[2])


def forks(conn: sqlite3.Connection, author: bytes) -> list[ForkEvidence]:
    rows = conn.execute(
        """SELECT f.seq, f.kept_id, f.other_raw, f.reason, f.seen_ms
        FROM forks AS f JOIN authors AS a ON a.aid = f.aid WHERE a.author = ?
        ORDER BY f.seq, f.seen_ms, f.other_id""",
        (author,),
    )
    return [ForkEvidence(author, r[0], r[1], r[2], Reason(r[3]), r[4]) for r in rows]


def forks_dropped(conn: sqlite3.Connection, author: bytes) -> int:
    row = conn.execute("SELECT forks_dropped FROM authors WHERE author = ?", (author,)).fetchone()
    return int(row[0]) if row else 0


def forked_among(conn: sqlite3.Connection, authors: list[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for start in range(0, len(authors), 500):
        chunk = authors[start : start + 500]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT author FROM authors WHERE forked = 1 AND author IN ({marks})"
        found.update(row[0] for row in conn.execute(query, chunk))
    return found


def is_forked(conn: sqlite3.Connection, author: bytes) -> bool:
    row = conn.execute("SELECT forked FROM authors WHERE author = ?", (author,)).fetchone()
    return bool(row and row[0])


def references(
    conn: sqlite3.Connection, author: bytes, kind: str, target: bytes
) -> list[StoredMessage]:
    """``author``'s messages of ``kind`` naming message ``target`` (repost, reaction, delete), by
    seq. Reads that author's rows only (index ``messages_chain``)."""
    aid = aid_of(conn, author)
    if aid is None:
        return []
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM messages AS m
        WHERE m.aid = ? AND m.kind = ? AND m.target = ? ORDER BY m.seq""",
        (aid, kind, target),
    ).fetchall()
    return [stored(row) for row in rows]


def follow_edges(conn: sqlite3.Connection) -> FollowEdges:
    """All current follow edges (``state = 1``), over dense indices in key order.

    Cost: one scan of ``follows`` and of the authors named in it, memory O(edges)."""
    pairs = conn.execute("SELECT follower, followee FROM follows WHERE state = 1").fetchall()
    named = {aid for pair in pairs for aid in pair}
    authors = sorted(
        (author, aid)
        for aid, author in conn.execute("SELECT aid, author FROM authors")
        if aid in named
    )
    index = {aid: i for i, (_, aid) in enumerate(authors)}
    return FollowEdges(
        [author for author, _ in authors],
        [index[a] for a, _ in pairs],
        [index[b] for _, b in pairs],
    )
