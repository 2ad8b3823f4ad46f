"""Placing validated messages in their authors' chains and writing them (inside a transaction).

``ingest_messages`` runs inside a caller's ``BEGIN IMMEDIATE`` transaction, so what it reads cannot
change under it. For each author touched it loads the chain summary once (contiguous, highest and
the id at ``highest``); a message that extends the chain, the common case, is then placed with no
further query. Only a message at or below the stored ``highest`` costs one index lookup for its
neighbours. Messages placed earlier in the same batch count as held. All writes happen at the end
with ``executemany``: messages, then the derived tables (follows, deletions, profiles), fork
evidence, the per-author summaries and the running totals.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from pnyx.core import kinds
from pnyx.core.chain import Neighbours, Placement, place
from pnyx.core.envelope import Message
from pnyx.core.reasons import Reason
from pnyx.store.models import IngestReport

_INSERT_MESSAGE = """
INSERT INTO messages (id, author, seq, prev, ts, kind, text, root, parent, target, raw, received_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPSERT_FOLLOW = """
INSERT INTO follows (follower, followee, seq, state) VALUES (?, ?, ?, ?)
ON CONFLICT (follower, followee) DO UPDATE SET seq = excluded.seq, state = excluded.state
WHERE excluded.seq > follows.seq
"""
_INSERT_DELETION = "INSERT OR IGNORE INTO deletions (target, author, seq) VALUES (?, ?, ?)"
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
INSERT OR IGNORE INTO forks (other_id, author, seq, kept_id, reason, other_raw, seen_ms)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_UPSERT_AUTHOR = """
INSERT OR REPLACE INTO authors (author, contiguous, highest, held, posts, forked)
VALUES (?, ?, ?, ?, ?, ?)
"""
_LOAD_AUTHOR = """
SELECT a.contiguous, a.highest, a.held, a.posts, a.forked, m.id
FROM authors AS a LEFT JOIN messages AS m ON m.author = a.author AND m.seq = a.highest
WHERE a.author = ?
"""
_NEIGHBOURS = "SELECT seq, id, prev FROM messages WHERE author = ? AND seq BETWEEN ? AND ?"


@dataclass(slots=True)
class _Chain:
    """One author's chain summary while a batch is placed."""

    contiguous: int
    db_highest: int  # highest seq in the database before this batch
    head_id: bytes | None  # id of the message at db_highest
    held: int
    posts: int
    forked: bool
    was_forked: bool
    new_seqs: list[int] = field(default_factory=list)
    changed: bool = False


def _load_chain(conn: sqlite3.Connection, author: bytes) -> _Chain:
    row = conn.execute(_LOAD_AUTHOR, (author,)).fetchone()
    if row is None:
        return _Chain(0, 0, None, 0, 0, False, False)
    contiguous, highest, held, posts, forked, head_id = row
    return _Chain(contiguous, highest, head_id, held, posts, bool(forked), bool(forked))


def _row(message: Message, received_ms: int) -> tuple[object, ...]:
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
    return (
        message.id,
        message.author,
        message.seq,
        message.prev,
        message.ts,
        kind,
        text,
        root,
        parent,
        target,
        message.raw,
        received_ms,
    )


class _Batch:
    """Placement state of one batch: per-author chains and the messages placed so far."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.chains: dict[bytes, _Chain] = {}
        # (author, seq) -> (id, prev) of messages placed earlier in this batch
        self.pending: dict[tuple[bytes, int], tuple[bytes, bytes | None]] = {}

    def chain(self, author: bytes) -> _Chain:
        chain = self.chains.get(author)
        if chain is None:
            chain = self.chains[author] = _load_chain(self.conn, author)
        return chain

    def neighbours(self, message: Message, chain: _Chain) -> tuple[Neighbours, bytes | None]:
        """What is held around ``message``, and the id of the message held at seq + 1."""
        author, seq = message.author, message.seq
        same_id = before_id = after_prev = after_id = None
        if seq - 1 < chain.db_highest:
            # The database may hold seq - 1, seq or seq + 1: one range lookup on (author, seq).
            for held_seq, held_id, held_prev in self.conn.execute(
                _NEIGHBOURS, (author, seq - 1, seq + 1)
            ):
                if held_seq == seq:
                    same_id = held_id
                elif held_seq == seq - 1:
                    before_id = held_id
                else:
                    after_id, after_prev = held_id, held_prev
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
    batch = _Batch(conn)
    rows: list[tuple[object, ...]] = []
    follows: list[tuple[bytes, bytes, int, int]] = []
    deletions: list[tuple[bytes, bytes, int]] = []
    profiles: list[tuple[object, ...]] = []
    evidence: list[tuple[object, ...]] = []
    duplicates = 0
    posts = 0
    for position, message in enumerate(messages):
        author = message.author
        chain = batch.chain(author)
        held, after_id = batch.neighbours(message, chain)
        verdict = place(message, held)
        if verdict.placement is Placement.APPEND:
            batch.pending[(author, message.seq)] = (message.id, message.prev)
            chain.new_seqs.append(message.seq)
            chain.held += 1
            chain.changed = True
            accepted.append(message)
            rows.append(_row(message, received_ms))
            kind = message.kind
            if kind == kinds.POST:
                chain.posts += 1
                posts += 1
            elif kind in (kinds.FOLLOW, kinds.UNFOLLOW):
                state = 1 if kind == kinds.FOLLOW else 0
                follows.append((author, message.body["key"], message.seq, state))
            elif kind == kinds.DELETE:
                deletions.append((message.body["id"], author, message.seq))
            elif kind == kinds.PROFILE:
                profiles.append(_profile_row(message))
        elif verdict.placement is Placement.DUPLICATE:
            duplicates += 1
        else:
            assert verdict.reason is not None
            kept = held.same_id or _conflicting_neighbour(message, held, after_id)
            evidence.append(
                (
                    message.id,
                    author,
                    message.seq,
                    kept,
                    verdict.reason.value,
                    message.raw,
                    received_ms,
                )
            )
            index = indexes[position] if indexes is not None else position
            rejected.append((index, verdict.reason, verdict.detail))
            if not chain.forked:
                chain.forked = True
                chain.changed = True
                forks.append(author)
    if rows:
        conn.executemany(_INSERT_MESSAGE, rows)
    if follows:
        conn.executemany(_UPSERT_FOLLOW, follows)
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
    rows: list[tuple[bytes, int, int, int, int, int]] = []
    for author, chain in chains.items():
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
                    contiguous = _walk(conn, author, contiguous)
        rows.append(
            (author, contiguous, highest, chain.held, chain.posts, 1 if chain.forked else 0)
        )
    if rows:
        conn.executemany(_UPSERT_AUTHOR, rows)


def _walk(conn: sqlite3.Connection, author: bytes, contiguous: int) -> int:
    """Advance ``contiguous`` over the seqs held after it; stops at the first gap."""
    cursor = conn.execute(
        "SELECT seq FROM messages WHERE author = ? AND seq > ? ORDER BY seq", (author, contiguous)
    )
    try:
        for (seq,) in cursor:
            if seq != contiguous + 1:
                break
            contiguous = seq
    finally:
        cursor.close()
    return contiguous
