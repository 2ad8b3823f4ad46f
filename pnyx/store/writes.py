"""Writing a placed batch: message rows, derived tables, fork evidence and chain summaries.

``Writes`` collects rows while ``pnyx.store.ingest`` places a batch; ``flush`` then writes each
table with one ``executemany`` inside the caller's transaction: messages, follows (a followee
never seen gets an ``authors`` row so it has an aid), deletions, profiles, fork evidence, the
per-author summaries (``contiguous`` advanced past newly filled gaps) and the running totals.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from pnyx.core import kinds
from pnyx.core.envelope import Message
from pnyx.core.reasons import Reason
from pnyx.store.schema import ID_KEY_OFFSET

#: Keys looked up per ``IN (...)`` query, in SQL parameters.
LOAD_CHUNK = 500
#: Most fork-evidence rows kept per author, a count (each at a different seq; one pair already
#: proves the fork). Further conflicting messages are counted in ``authors.forks_dropped`` only.
#: Schema migration 2 trims existing stores to the same number.
MAX_FORK_EVIDENCE = 8

_INSERT_MESSAGE = """
INSERT INTO messages (id, idkey, aid, seq, ts, kind, text, root, parent, target, received_ms, raw)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPSERT_FOLLOW = """
INSERT INTO follows (follower, followee, seq, state) VALUES (?, ?, ?, ?)
ON CONFLICT (follower, followee) DO UPDATE SET seq = excluded.seq, state = excluded.state
WHERE excluded.seq > follows.seq
"""
_INSERT_DELETION = "INSERT OR IGNORE INTO deletions (target, aid, seq) VALUES (?, ?, ?)"
_UPSERT_PROFILE = """
INSERT INTO profiles (author, name, name_seq, bio, bio_seq, seq) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (author) DO UPDATE SET
    name = CASE WHEN excluded.name_seq > profiles.name_seq
                THEN excluded.name ELSE profiles.name END,
    name_seq = max(excluded.name_seq, profiles.name_seq),
    bio = CASE WHEN excluded.bio_seq > profiles.bio_seq
               THEN excluded.bio ELSE profiles.bio END,
    bio_seq = max(excluded.bio_seq, profiles.bio_seq),
    seq = max(excluded.seq, profiles.seq)
"""
_INSERT_FORK = """
INSERT OR IGNORE INTO forks (other_id, aid, seq, kept_id, reason, seen_ms, other_raw)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_UPDATE_AUTHOR = """
UPDATE authors SET contiguous = :contiguous, highest = :highest, held = :held, posts = :posts,
    forked = :forked, fork_rows = :fork_rows, forks_dropped = :forks_dropped,
    first_post = coalesce(min(first_post, :first_post), first_post, :first_post),
    last_post = coalesce(max(last_post, :last_post), last_post, :last_post)
WHERE aid = :aid
"""
NEW_AUTHOR = """
INSERT INTO authors (author, contiguous, highest, held, posts, forked) VALUES (?, 0, 0, 0, 0, 0)
"""


@dataclass(slots=True)
class Chain:
    """One author's chain summary while a batch is placed."""

    aid: int
    contiguous: int
    db_highest: int  # highest seq in the database before this batch
    head_id: bytes | None  # id of the message at db_highest
    held: int
    posts: int
    forked: bool
    fork_rows: int = 0  # rows in `forks` (held and written by this batch)
    forks_dropped: int = 0  # conflicting messages seen beyond MAX_FORK_EVIDENCE, not kept
    evidence: dict[int, bytes] | None = None  # seq -> id of the evidence kept (loaded on demand)
    first_post: int | None = None  # ts span of the posts placed in this batch
    last_post: int | None = None
    top_seq: int = 0  # highest seq held in the database or placed in this batch
    top_id: bytes | None = None  # id of the message at top_seq
    new_seqs: list[int] = field(default_factory=list)
    changed: bool = False
    run: int = 0  # contiguous head counting the messages placed in this batch

    def __post_init__(self) -> None:
        self.top_seq, self.top_id = self.db_highest, self.head_id
        self.run = self.contiguous

    def keep_evidence(self, message: Message) -> bool | None:
        """Whether fork evidence ``message`` is kept (True), dropped and counted (False), or is a
        copy of evidence already kept (None). ``evidence`` must be loaded."""
        assert self.evidence is not None
        if self.evidence.get(message.seq) == message.id:
            return None
        self.changed = True
        if message.seq in self.evidence or len(self.evidence) >= MAX_FORK_EVIDENCE:
            self.forks_dropped += 1
            return False
        self.evidence[message.seq] = message.id
        self.fork_rows += 1
        return True


def aids(conn: sqlite3.Connection, keys: list[bytes]) -> dict[bytes, int]:
    """The aid of each key, creating an empty ``authors`` row for a key never seen."""
    found: dict[bytes, int] = {}
    for start in range(0, len(keys), LOAD_CHUNK):
        chunk = keys[start : start + LOAD_CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update(
            conn.execute(f"SELECT author, aid FROM authors WHERE author IN ({marks})", chunk)
        )
    for author in keys:
        if author not in found:
            aid = conn.execute(NEW_AUTHOR, (author,)).lastrowid
            assert aid is not None
            found[author] = aid
    return found


def _row(message: Message, aid: int, received_ms: int) -> tuple[object, ...]:
    """The ``messages`` row of ``message``: raw bytes plus the columns queries use."""
    body = message.body
    kind = message.kind
    text = root = parent = target = None
    if kind == kinds.POST:
        text = body["text"]
        root = body.get("root")
        parent = body.get("parent")
    elif kind in (kinds.REPOST, kinds.REACTION, kinds.DELETE):
        target = body["id"]
    elif kind in (kinds.FOLLOW, kinds.UNFOLLOW):
        target = body["key"]
    mid = message.id
    return (
        mid,
        int.from_bytes(mid[:8], "big") - ID_KEY_OFFSET,
        aid,
        message.seq,
        message.ts,
        kind,
        text,
        root,
        parent,
        target,
        received_ms,
        message.raw,
    )


def _profile_row(message: Message) -> tuple[object, ...]:
    body = message.body
    seq = message.seq
    has_name, has_bio = "name" in body, "bio" in body
    return (
        message.author,
        body["name"] if has_name else None,
        seq if has_name else 0,
        body["bio"] if has_bio else None,
        seq if has_bio else 0,
        seq,
    )


class Writes:
    """Rows collected while a batch is placed, written with one ``executemany`` per table."""

    def __init__(self, received_ms: int) -> None:
        self.received_ms = received_ms
        self.messages: list[tuple[object, ...]] = []
        self.follows: list[tuple[int, bytes, int, int]] = []
        self.deletions: list[tuple[bytes, int, int]] = []
        self.profiles: list[tuple[object, ...]] = []
        self.evidence: list[tuple[object, ...]] = []
        self.posts = 0

    def append(self, message: Message, chain: Chain) -> None:
        """``message`` joins ``chain``: its row, its derived rows and the chain's counters."""
        seq = message.seq
        chain.new_seqs.append(seq)
        chain.held += 1
        chain.changed = True
        self.messages.append(_row(message, chain.aid, self.received_ms))
        kind = message.kind
        if kind == kinds.POST:
            chain.posts += 1
            self.posts += 1
            ts = message.ts
            if chain.first_post is None or ts < chain.first_post:
                chain.first_post = ts
            if chain.last_post is None or ts > chain.last_post:
                chain.last_post = ts
        elif kind in (kinds.FOLLOW, kinds.UNFOLLOW):
            state = 1 if kind == kinds.FOLLOW else 0
            self.follows.append((chain.aid, message.body["key"], seq, state))
        elif kind == kinds.DELETE:
            self.deletions.append((message.body["id"], chain.aid, seq))
        elif kind == kinds.PROFILE:
            self.profiles.append(_profile_row(message))

    def fork(self, message: Message, chain: Chain, kept_id: bytes, reason: Reason) -> None:
        self.evidence.append(
            (
                message.id,
                chain.aid,
                message.seq,
                kept_id,
                reason.value,
                self.received_ms,
                message.raw,
            )
        )

    def flush(self, conn: sqlite3.Connection, chains: dict[bytes, Chain]) -> None:
        if self.messages:
            conn.executemany(_INSERT_MESSAGE, self.messages)
        if self.follows:
            followees = aids(conn, list(dict.fromkeys(row[1] for row in self.follows)))
            conn.executemany(
                _UPSERT_FOLLOW, [(a, followees[k], s, f) for a, k, s, f in self.follows]
            )
        if self.deletions:
            conn.executemany(_INSERT_DELETION, self.deletions)
        if self.profiles:
            conn.executemany(_UPSERT_PROFILE, self.profiles)
        if self.evidence:
            conn.executemany(_INSERT_FORK, self.evidence)
        _write_chains(conn, chains)
        if self.messages:
            conn.execute(
                """UPDATE stats SET value = value + CASE name WHEN 'messages' THEN ? ELSE ? END
                WHERE name IN ('messages', 'posts')""",
                (len(self.messages), self.posts),
            )


def _write_chains(conn: sqlite3.Connection, chains: dict[bytes, Chain]) -> None:
    """Write the summary of every author whose chain changed, advancing ``contiguous``."""
    rows: list[dict[str, int | None]] = []
    for chain in chains.values():
        if not chain.changed:
            continue
        contiguous = chain.contiguous
        highest = chain.db_highest
        if chain.new_seqs:
            new = set(chain.new_seqs)
            highest = max(highest, *new)
            if contiguous + 1 in new:
                if chain.db_highest == contiguous:
                    # Nothing beyond `contiguous` was held before: only this batch can extend it.
                    while contiguous + 1 in new:
                        contiguous += 1
                else:
                    contiguous = _walk(conn, chain.aid, contiguous)
        forked = 1 if chain.forked else 0
        rows.append(
            {
                "contiguous": contiguous,
                "highest": highest,
                "held": chain.held,
                "posts": chain.posts,
                "forked": forked,
                "fork_rows": chain.fork_rows,
                "forks_dropped": chain.forks_dropped,
                "first_post": chain.first_post,
                "last_post": chain.last_post,
                "aid": chain.aid,
            }
        )
    if rows:
        conn.executemany(_UPDATE_AUTHOR, rows)


def _walk(conn: sqlite3.Connection, aid: int, contiguous: int) -> int:
    """Advance ``contiguous`` over the seqs held after it; stops at the first gap."""
    cursor = conn.execute(
        "SELECT seq FROM messages WHERE aid = ? AND seq > ? ORDER BY seq", (aid, contiguous)
    )
    try:
        for (seq,) in cursor:
            if seq != contiguous + 1:
                break
            contiguous = seq
    finally:
        cursor.close()
    return contiguous
