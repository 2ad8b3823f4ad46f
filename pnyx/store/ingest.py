"""Placing validated messages in their authors' chains (inside the caller's transaction).

``ingest_messages`` runs inside a caller's ``BEGIN IMMEDIATE`` transaction, so what it reads cannot
change under it. It loads the chain summary of every author in the batch at once (contiguous,
highest and the id at ``highest``; a new author gets its ``aid``). A message that extends its
chain, the common case, is then placed with no further query; only a message at or below the
stored ``highest`` costs one index lookup for its neighbours. Messages placed earlier in the same
batch count as held. Placement is ``pnyx.core.chain.place``; ``pnyx.store.writes`` does the writing.

Two bounds (robustness, docs/protocol.md "Chain rules"): a message more than ``MAX_SEQ_AHEAD``
beyond its author's contiguous head (counting what the batch placed before it) is not stored
(reported as ``seq-too-far``); fork evidence is kept at most once per seq and ``MAX_FORK_EVIDENCE``
times per author, further conflicting messages are reported as forks and only counted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Container, Sequence

import msgpack

from pnyx.core.chain import Neighbours, Placement, Verdict, place
from pnyx.core.envelope import Message
from pnyx.core.limits import MAX_SEQ_AHEAD, SIGNATURE_BYTES
from pnyx.core.reasons import Reason
from pnyx.store.models import IngestReport
from pnyx.store.writes import LOAD_CHUNK, NEW_AUTHOR, Chain, Writes

_LOAD_AUTHORS = """
SELECT a.author, a.aid, a.contiguous, a.highest, a.held, a.posts, a.forked, a.fork_rows,
    a.forks_dropped, m.id
FROM authors AS a LEFT JOIN messages AS m ON m.aid = a.aid AND m.seq = a.highest
WHERE a.author IN ({marks})
"""

_APPEND = Verdict(Placement.APPEND)
_NEIGHBOURS = "SELECT seq, id, raw FROM messages WHERE aid = ? AND seq BETWEEN ? AND ?"
_EVIDENCE = "SELECT seq, other_id FROM forks WHERE aid = ? ORDER BY seen_ms, other_id"


def _load_chains(conn: sqlite3.Connection, authors: list[bytes]) -> dict[bytes, Chain]:
    """The chain summary of each of ``authors``; a new author gets its row (and aid) now."""
    chains: dict[bytes, Chain] = {}
    for start in range(0, len(authors), LOAD_CHUNK):
        chunk = authors[start : start + LOAD_CHUNK]
        query = _LOAD_AUTHORS.format(marks=",".join("?" * len(chunk)))
        for author, *summary, head_id in conn.execute(query, chunk):
            aid, contiguous, highest, held, posts, forked, rows, dropped = summary
            chains[author] = Chain(
                aid, contiguous, highest, head_id, held, posts, bool(forked), rows, dropped
            )
    for author in authors:
        if author not in chains:
            aid = conn.execute(NEW_AUTHOR, (author,)).lastrowid
            assert aid is not None
            chains[author] = Chain(aid, 0, 0, None, 0, 0, False)
    return chains


def _prev_of(raw: bytes) -> bytes | None:
    """The ``prev`` field of a stored envelope (validated at ingest, so it decodes)."""
    prev: bytes | None = msgpack.unpackb(raw[SIGNATURE_BYTES:], raw=False)[3]
    return prev


class _Batch:
    """Placement state of one batch: per-author chains and the messages placed so far."""

    def __init__(self, conn: sqlite3.Connection, messages: Sequence[Message]) -> None:
        self.conn = conn
        self.chains = _load_chains(conn, list(dict.fromkeys(m.author for m in messages)))
        # (author, seq) -> (id, prev) of messages placed earlier in this batch
        self.pending: dict[tuple[bytes, int], tuple[bytes, bytes | None]] = {}

    def neighbours(self, message: Message, chain: Chain) -> tuple[Neighbours, bytes | None]:
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

    def load_evidence(self, chain: Chain) -> None:
        """Read which seqs of ``chain`` already have fork evidence (at most MAX_FORK_EVIDENCE
        rows per author, read once per batch and only when the author forks)."""
        if chain.evidence is None:
            chain.evidence = {}
            for seq, other_id in self.conn.execute(_EVIDENCE, (chain.aid,)):
                chain.evidence.setdefault(seq, other_id)


def _advance(chain: Chain, author: bytes, pending: Container[tuple[bytes, int]]) -> None:
    """Move ``chain.run`` (the contiguous head within this batch) over the seqs placed so far."""
    while (author, chain.run + 1) in pending:
        chain.run += 1


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
    duplicates = 0
    batch = _Batch(conn, messages)
    chains, pending = batch.chains, batch.pending
    writes = Writes(received_ms)
    for position, message in enumerate(messages):
        author, seq = message.author, message.seq
        chain = chains[author]
        if seq > chain.run + MAX_SEQ_AHEAD:  # an absurd gap: not stored, no gap to fetch
            index = indexes[position] if indexes is not None else position
            detail = f"seq {seq} is more than {MAX_SEQ_AHEAD} beyond the contiguous {chain.run}"
            rejected.append((index, Reason.SEQ_TOO_FAR, detail))
            continue
        if seq == chain.top_seq + 1 and message.prev == chain.top_id:
            verdict = _APPEND  # extends the chain, the common case: no neighbour is looked at
        else:
            if seq == chain.top_seq + 1:  # nothing is held at seq or above: only top matters
                held, after_id = Neighbours(None, chain.top_id, None), None
            else:
                held, after_id = batch.neighbours(message, chain)
            verdict = place(message, held)
        if verdict.placement is Placement.APPEND:
            pending[(author, seq)] = (message.id, message.prev)
            if seq > chain.top_seq:
                chain.top_seq, chain.top_id = seq, message.id
            if seq == chain.run + 1:
                _advance(chain, author, pending)
            writes.append(message, chain)
            accepted.append(message)
        elif verdict.placement is Placement.DUPLICATE:
            duplicates += 1
        else:
            assert verdict.reason is not None
            kept = held.same_id or _conflicting_neighbour(message, held, after_id)
            batch.load_evidence(chain)
            if chain.keep_evidence(message):  # robustness: capped per author
                writes.fork(message, chain, kept, verdict.reason)
            index = indexes[position] if indexes is not None else position
            rejected.append((index, verdict.reason, verdict.detail))
            if not chain.forked:
                chain.forked = chain.changed = True
                forks.append(author)
    writes.flush(conn, chains)
    return IngestReport(accepted, duplicates, rejected, forks)


def _conflicting_neighbour(message: Message, held: Neighbours, after_id: bytes | None) -> bytes:
    """For a broken chain: the stored neighbour whose link ``message`` contradicts."""
    if held.before_id is not None and message.prev != held.before_id:
        return held.before_id
    assert after_id is not None
    return after_id
