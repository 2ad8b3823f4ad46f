"""Read queries for polls: the polls held, newest first, and the ballots on one poll.

The ``polls`` and ``poll_votes`` tables are the ``poll`` and ``vote`` kinds' own
(``pnyx.core.kinds.poll``, ``vote``); each row is joined back to its message by (aid, seq)
(``messages_chain``) to skip what its author deleted (``_VISIBLE``) and to read when this node
received it. Functions take a ``Store`` and use its lock (the ``Store`` class has no room for
more methods). Costs: ``recent_polls`` walks ``polls_by_time`` from the cursor, ``ballots`` looks
up one poll's votes by the primary key's prefix: O(votes x log(messages)).
Failure mode: ``StoreError``.
"""

from __future__ import annotations

import sqlite3

from pnyx.polls.tally import Ballot
from pnyx.store.models import Cursor, StoredMessage
from pnyx.store.queries import _COLUMNS, _VISIBLE, _below, check_limit, stored
from pnyx.store.schema import id_key
from pnyx.store.store import Store


def _recent(conn: sqlite3.Connection, limit: int, before: Cursor | None) -> list[StoredMessage]:
    check_limit(limit)
    ts, last_id = _below(before)
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM polls AS p INDEXED BY polls_by_time
        JOIN messages AS m ON m.aid = p.aid AND m.seq = p.seq
        WHERE (p.ts, p.id) < (?, ?) AND {_VISIBLE} ORDER BY p.ts DESC, p.id DESC LIMIT ?""",
        (ts, last_id, limit),
    )
    return [stored(row) for row in rows]


def recent_polls(
    store: Store, limit: int = 20, before: Cursor | None = None
) -> list[StoredMessage]:
    """The polls held and not deleted, newest first (``ts``, then id), below ``before``.
    ``UserError`` for a ``limit`` outside 1..MAX_PAGE_ITEMS."""
    return store._read(_recent, limit, before)


def _shown(conn: sqlite3.Connection, poll_id: bytes) -> bool:
    row = conn.execute(
        f"""SELECT 1 FROM messages AS m WHERE m.idkey = ? AND m.id = ? AND m.kind = 'poll'
        AND {_VISIBLE}""",
        (id_key(poll_id), poll_id),
    ).fetchone()
    return row is not None


def poll_shown(store: Store, poll_id: bytes) -> bool:
    """Whether ``poll_id`` is a poll held and not deleted by its author."""
    return store._read(_shown, poll_id)


def _ballots(conn: sqlite3.Connection, poll_id: bytes) -> list[Ballot]:
    rows = conn.execute(
        f"""SELECT a.author, v.seq, v.ts, m.received_ms, v.choices FROM poll_votes AS v
        JOIN messages AS m ON m.aid = v.aid AND m.seq = v.seq
        JOIN authors AS a ON a.aid = v.aid
        WHERE v.poll = ? AND {_VISIBLE} ORDER BY v.aid, v.seq""",
        (poll_id,),
    )
    return [Ballot(*row) for row in rows]


def ballots(store: Store, poll_id: bytes) -> list[Ballot]:
    """Every ballot held on poll ``poll_id`` that its voter has not deleted."""
    return store._read(_ballots, poll_id)
