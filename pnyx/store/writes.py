"""Writing a placed batch: message rows, derived tables, fork evidence and chain summaries.

``Writes`` collects rows while ``pnyx.store.ingest`` places a batch; ``flush`` then writes each
table with one ``executemany`` inside the caller's transaction: messages, the derived tables each
kind declares (``pnyx.core.kinds``: follows, profiles, deletions...; a key a derived row names and
never seen gets an ``authors`` row so it has an aid), fork evidence, the per-author summaries
(``contiguous`` advanced past newly filled gaps) and the running totals.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field

from pnyx.core.envelope import Message
from pnyx.core.kinds import SPECS, Derived
from pnyx.core.kinds.registry import NO_FIELD
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


#: The column fields of a kind this version does not know: every column stays NULL.
_UNKNOWN_FIELDS = (NO_FIELD, NO_FIELD, NO_FIELD, NO_FIELD)
_specs = SPECS


class Writes:
    """Rows collected while a batch is placed, written with one ``executemany`` per table."""

    def __init__(self, received_ms: int) -> None:
        self.received_ms = received_ms
        self.messages: list[tuple[object, ...]] = []
        #: Rows of each kind's derived tables, in the order their first row came.
        self.derived: defaultdict[Derived, list[tuple[object, ...]]] = defaultdict(list)
        self.evidence: list[tuple[object, ...]] = []
        self.posts = 0

    def append(self, message: Message, chain: Chain) -> None:
        """``message`` joins ``chain``: its row, its derived rows and the chain's counters."""
        chain.new_seqs.append(message.seq)
        chain.held += 1
        chain.changed = True
        kind = message.kind
        spec = _specs.get(kind)
        # the message's row; its columns are the body fields its kind's spec names (inline, not
        # a call to KindSpec.columns: this runs for every message stored)
        text, root, parent, target = _UNKNOWN_FIELDS if spec is None else spec.fields
        get = message.body.get
        mid = message.id
        self.messages.append(
            (
                mid,
                int.from_bytes(mid[:8], "big") - ID_KEY_OFFSET,
                chain.aid,
                message.seq,
                message.ts,
                kind,
                get(text),
                get(root),
                get(parent),
                get(target),
                self.received_ms,
                message.raw,
            )
        )
        if spec is None:
            return
        if spec.timeline:
            chain.posts += 1
            self.posts += 1
            ts = message.ts
            if chain.first_post is None or ts < chain.first_post:
                chain.first_post = ts
            if chain.last_post is None or ts > chain.last_post:
                chain.last_post = ts
        if spec.derived:
            for derived in spec.derived:
                self.derived[derived].append(derived.row(message, chain.aid))

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
        for derived, rows in self.derived.items():
            write_derived(conn, derived, rows)
        if self.evidence:
            conn.executemany(_INSERT_FORK, self.evidence)
        _write_chains(conn, chains)
        if self.messages:
            conn.execute(
                """UPDATE stats SET value = value + CASE name WHEN 'messages' THEN ? ELSE ? END
                WHERE name IN ('messages', 'posts')""",
                (len(self.messages), self.posts),
            )


def write_derived(
    conn: sqlite3.Connection, derived: Derived, rows: list[tuple[object, ...]]
) -> None:
    """Write ``rows`` of one derived table, first turning the keys at ``derived.keys`` to aids."""
    if derived.keys:
        positions = derived.keys
        keys = list(dict.fromkeys(row[i] for row in rows for i in positions))
        found = aids(conn, keys)  # type: ignore[arg-type]  # the kind's row puts keys there
        rows = [
            tuple(found[v] if i in positions else v for i, v in enumerate(row))  # type: ignore[index]
            for row in rows
        ]
    conn.executemany(derived.sql, rows)


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
