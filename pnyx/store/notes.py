"""Read queries for community notes: the notes on a post, and every note and rating held (the
scorer's input). Rows of the ``notes`` and ``note_ratings`` tables (the ``note`` and
``note-rating`` kinds' own) are joined back to their messages by (aid, seq) to skip what their
authors deleted. Functions take a ``Store`` and use its lock (the ``Store`` class has no room for
more methods). Costs: ``notes_on`` one index lookup; ``all_notes`` and ``all_ratings`` read
their whole table (bounded by what the node keeps: docs/notes.md). Failure mode: ``StoreError``.
"""

from __future__ import annotations

import sqlite3

from pnyx.notes.score import Rating
from pnyx.store.models import StoredMessage
from pnyx.store.queries import _COLUMNS, _VISIBLE, stored
from pnyx.store.store import Store


def _on(conn: sqlite3.Connection, post_id: bytes) -> list[StoredMessage]:
    rows = conn.execute(
        f"""SELECT {_COLUMNS} FROM notes AS n JOIN messages AS m ON m.aid = n.aid AND m.seq = n.seq
        WHERE n.post = ? AND {_VISIBLE} ORDER BY m.ts, m.id""",
        (post_id,),
    )
    return [stored(row) for row in rows]


def notes_on(store: Store, post_id: bytes) -> list[StoredMessage]:
    """The notes held on post ``post_id`` that their authors have not deleted, oldest first."""
    return store._read(_on, post_id)


def _notes(conn: sqlite3.Connection) -> dict[bytes, bytes]:
    rows = conn.execute(
        f"""SELECT n.id, a.author FROM notes AS n JOIN messages AS m ON m.aid = n.aid
        AND m.seq = n.seq JOIN authors AS a ON a.aid = n.aid WHERE {_VISIBLE}"""
    )
    return {bytes(note): bytes(author) for note, author in rows}


def all_notes(store: Store) -> dict[bytes, bytes]:
    """Every note held and not deleted: note id -> its author."""
    return store._read(_notes)


def _ratings(conn: sqlite3.Connection) -> list[Rating]:
    rows = conn.execute(
        f"""SELECT a.author, r.note, r.value FROM note_ratings AS r
        JOIN messages AS m ON m.aid = r.aid AND m.seq = r.seq
        JOIN authors AS a ON a.aid = r.aid
        WHERE {_VISIBLE} AND r.seq = (SELECT max(q.seq) FROM note_ratings AS q
            JOIN messages AS k ON k.aid = q.aid AND k.seq = q.seq
            WHERE q.note = r.note AND q.aid = r.aid
            AND NOT EXISTS (SELECT 1 FROM deletions AS d WHERE d.target = k.id AND d.aid = k.aid))
        ORDER BY r.note, r.aid"""
    )
    return [Rating(bytes(rater), bytes(note), float(value)) for rater, note, value in rows]


def all_ratings(store: Store) -> list[Rating]:
    """Each rater's latest rating of each note (highest seq not deleted), every note held."""
    return store._read(_ratings)
