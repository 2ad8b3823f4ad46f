"""Placing validated messages in their authors' chains and writing them (inside a transaction).

``ingest_messages`` runs inside a caller's ``BEGIN IMMEDIATE`` transaction, so what it reads cannot
change under it. For each author touched it loads the chain summary once (contiguous, highest and
the id at ``highest``; a new author gets its ``aid``). A message that extends the chain, the common
case, is then placed with no further query; only a message at or below the stored ``highest``
costs one index lookup for its neighbours. Messages placed earlier in the same batch count as held.
All writes happen at the end with ``executemany``: messages, the derived tables (follows,
deletions, profiles), fork evidence, the per-author summaries and the running totals.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgpack

from pnyx.core import kinds
from pnyx.core.chain import Neighbours, Placement, Verdict, place
from pnyx.core.envelope import Message
from pnyx.core.limits import SIGNATURE_BYTES
from pnyx.core.reasons import Reason
from pnyx.store.models import IngestReport
from pnyx.store.schema import ID_KEY_OFFSET as _ID_KEY_OFFSET

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
    forked = :forked,
    first_post = coalesce(min(first_post, :first_post), first_post, :first_post),
    last_post = coalesce(max(last_post, :last_post), last_post, :last_post)
WHERE aid = :aid
"""
_LOAD_AUTHORS = """
SELECT a.author, a.aid, a.contiguous, a.highest, a.held, a.posts, a.forked, m.id
FROM authors AS a LEFT JOIN messages AS m ON m.aid = a.aid AND m.seq = a.highest
WHERE a.author IN ({marks})
"""
_NEW_AUTHOR = """
INSERT INTO authors (author, contiguous, highest, held, posts, forked) VALUES (?, 0, 0, 0, 0, 0)
"""
#: Authors looked up per ``IN (...)`` query when a batch starts, in SQL parameters.
LOAD_CHUNK = 500

_APPEND = Verdict(Placement.APPEND)
_NEIGHBOURS = "SELECT seq, id, raw FROM messages WHERE aid = ? AND seq BETWEEN ? AND ?"


@dataclass(slots=True)
class _Chain:
    """One author's chain summary while a batch is placed."""

    aid: int
    contiguous: int
    db_highest: int  # highest seq in the database before this batch
    head_id: bytes | None  # id of the message at db_highest
    held: int
    posts: int
    forked: bool
    first_post: int | None = None  # ts span of the posts placed in this batch
    last_post: int | None = None
    top_seq: int = 0  # highest seq held in the database or placed in this batch
    top_id: bytes | None = None  # id of the message at top_seq
    new_seqs: list[int] = field(default_factory=list)
    changed: bool = False

    def __post_init__(self) -> None:
        self.top_seq, self.top_id = self.db_highest, self.head_id


def _load_chains(conn: sqlite3.Connection, authors: list[bytes]) -> dict[bytes, _Chain]:
    """The chain summary of each of ``authors``; a new author gets its row (and aid) now."""
    chains: dict[bytes, _Chain] = {}
    for start in range(0, len(authors), LOAD_CHUNK):
        chunk = authors[start : start + LOAD_CHUNK]
        query = _LOAD_AUTHORS.format(marks=",".join("?" * len(chunk)))
        for author, aid, contiguous, highest, held, posts, forked, head_id in conn.execute(
            query, chunk
        ):
            chains[author] = _Chain(aid, contiguous, highest, head_id, held, posts, bool(forked))
    for author in authors:
        if author not in chains:
            aid = conn.execute(_NEW_AUTHOR, (author,)).lastrowid
            assert aid is not None
            chains[author] = _Chain(aid, 0, 0, None, 0, 0, False)
    return chains


def _aids(conn: sqlite3.Connection, keys: list[bytes]) -> dict[bytes, int]:
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
            aid = conn.execute(_NEW_AUTHOR, (author,)).lastrowid
            assert aid is not None
            found[author] = aid
    return found


def _prev_of(raw: bytes) -> bytes | None:
    """The ``prev`` field of a stored envelope (validated at ingest, so it decodes)."""
    prev: bytes | None = msgpack.unpackb(raw[SIGNATURE_BYTES:], raw=False)[3]
    return prev


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
        int.from_bytes(mid[:8], "big") - _ID_KEY_OFFSET,
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


class _Batch:
    """Placement state of one batch: per-author chains and the messages placed so far."""

    def __init__(self, conn: sqlite3.Connection, messages: Sequence[Message]) -> None:
        self.conn = conn
        self.chains = _load_chains(conn, list(dict.fromkeys(m.author for m in messages)))
        # (author, seq) -> (id, prev) of messages placed earlier in this batch
        self.pending: dict[tuple[bytes, int], tuple[bytes, bytes | None]] = {}

    def neighbours(self, message: Message, chain: _Chain) -> tuple[Neighbours, bytes | None]:
        """What is held around ``message``, and the id of the message held at seq + 1."""
        author, seq = message.author, message.seq
        same_id = before_id = after_prev = after_id = None
        if seq - 1 < chain.db_highest:
            # The database may hold seq - 1, seq or seq + 1: one range lookup on (aid, seq).
            for held_seq, held_id, held_raw in self.conn.execute(
                _NEIGHBOURS, (chain.aid, seq - 1, seq + 1)
            ):
                if held_seq == seq:
                    same_id = held_id
                elif held_seq == seq - 1:
                    before_id = held_id
                else:
                    after_id, after_prev = held_id, _prev_of(held_raw)
        elif seq - 1 == chain.db_highest:
            before_id = chain.head_id
        pending = self.pending
        if same_id is None and (hit := pending.get((author, seq))) is not None:
            same_id = hit[0]
        if before_id is None and (hit := pending.get((author, seq - 1))) is not None:
            before_id = hit[0]
        if after_id is None and (hit := pending.get((author, seq + 1))) is not None:
            after_id, after_prev = hit
        return Neighbours(same_id, before_id, after_prev), after_id


def ingest_messages(
    conn: sqlite3.Connection,
    messages: Sequence[Message],
    received_ms: int,
    *,
    indexes: Sequence[int] | None = None,
) -> IngestReport:
    """Place and store ``messages`` (already validated) inside the caller's open transaction.

    ``indexes[i]`` is the position of ``messages[i]`` in the caller's batch, used in
    ``IngestReport.rejected`` (default: positions in ``messages``). Raises only ``sqlite3.Error``
    (the caller rolls back); bad chain placement is reported, never raised.
    """
    accepted: list[Message] = []
    rejected: list[tuple[int, Reason, str]] = []
    forks: list[bytes] = []
    batch = _Batch(conn, messages)
    chains, pending = batch.chains, batch.pending
    rows: list[tuple[object, ...]] = []
    follows: list[tuple[int, bytes, int, int]] = []
    deletions: list[tuple[bytes, int, int]] = []
    profiles: list[tuple[object, ...]] = []
    evidence: list[tuple[object, ...]] = []
    duplicates = posts = 0
    for position, message in enumerate(messages):
        author, seq = message.author, message.seq
        chain = chains[author]
        if seq == chain.top_seq + 1:
            # Extends the chain: nothing is held at seq or above, only seq - 1 (top) matters.
            held, after_id = Neighbours(None, chain.top_id, None), None
            verdict = _APPEND if message.prev == chain.top_id else place(message, held)
        else:
            held, after_id = batch.neighbours(message, chain)
            verdict = place(message, held)
        if verdict.placement is Placement.APPEND:
            pending[(author, seq)] = (message.id, message.prev)
            if seq > chain.top_seq:
                chain.top_seq, chain.top_id = seq, message.id
            chain.new_seqs.append(seq)
            chain.held += 1
            chain.changed = True
            accepted.append(message)
            rows.append(_row(message, chain.aid, received_ms))
            kind = message.kind
            if kind == kinds.POST:
                chain.posts += 1
                posts += 1
                ts = message.ts
                if chain.first_post is None or ts < chain.first_post:
                    chain.first_post = ts
                if chain.last_post is None or ts > chain.last_post:
                    chain.last_post = ts
            elif kind in (kinds.FOLLOW, kinds.UNFOLLOW):
                state = 1 if kind == kinds.FOLLOW else 0
                follows.append((chain.aid, message.body["key"], seq, state))
            elif kind == kinds.DELETE:
                deletions.append((message.body["id"], chain.aid, seq))
            elif kind == kinds.PROFILE:
                profiles.append(_profile_row(message))
        elif verdict.placement is Placement.DUPLICATE:
            duplicates += 1
        else:
            assert verdict.reason is not None
            kept = held.same_id or _conflicting_neighbour(message, held, after_id)
            reason = verdict.reason
            evidence.append(
                (message.id, chain.aid, message.seq, kept, reason.value, received_ms, message.raw)
            )
            index = indexes[position] if indexes is not None else position
            rejected.append((index, reason, verdict.detail))
            if not chain.forked:
                chain.forked = chain.changed = True
                forks.append(author)
    if rows:
        conn.executemany(_INSERT_MESSAGE, rows)
    if follows:
        followees = _aids(conn, list(dict.fromkeys(row[1] for row in follows)))
        conn.executemany(_UPSERT_FOLLOW, [(a, followees[k], s, f) for a, k, s, f in follows])
    if deletions:
        conn.executemany(_INSERT_DELETION, deletions)
    if profiles:
        conn.executemany(_UPSERT_PROFILE, profiles)
    if evidence:
        conn.executemany(_INSERT_FORK, evidence)
    _write_chains(conn, batch.chains)
    if rows:
        conn.execute(
            "UPDATE stats SET value = value + CASE name WHEN 'messages' THEN ? ELSE ? END",
            (len(rows), posts),
        )
    return IngestReport(accepted, duplicates, rejected, forks)


def _conflicting_neighbour(message: Message, held: Neighbours, after_id: bytes | None) -> bytes:
    """For a broken chain: the stored neighbour whose link ``message`` contradicts."""
    if held.before_id is not None and message.prev != held.before_id:
        return held.before_id
    assert after_id is not None
    return after_id


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


def _write_chains(conn: sqlite3.Connection, chains: dict[bytes, _Chain]) -> None:
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
