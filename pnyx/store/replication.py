"""Replication reads: chain heads, missing ranges, seq ranges, export pages, changes since a rowid.

All read raw envelopes of chain messages only (fork evidence is in another table), in seq order per
author. Heads and the common case of ``missing`` come from the per-author summary table, so they
cost O(authors asked), not O(messages).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

#: Authors per ``IN (...)`` list when looking up heads, in SQL parameters.
HEADS_CHUNK = 500
#: Envelopes read per export page (the lock is released between pages), in messages.
EXPORT_PAGE = 500


def heads(
    conn: sqlite3.Connection, authors: Iterable[bytes] | None
) -> dict[bytes, tuple[int, int]]:
    """author -> (contiguous, highest) for every author held (or those asked that are held)."""
    if authors is None:
        rows = conn.execute("SELECT author, contiguous, highest FROM authors")
        return {row[0]: (row[1], row[2]) for row in rows}
    wanted = list(dict.fromkeys(authors))
    result: dict[bytes, tuple[int, int]] = {}
    for start in range(0, len(wanted), HEADS_CHUNK):
        chunk = wanted[start : start + HEADS_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT author, contiguous, highest FROM authors WHERE author IN ({marks})", chunk
        )
        result.update((row[0], (row[1], row[2])) for row in rows)
    return result


def missing(conn: sqlite3.Connection, author: bytes, upto: int | None) -> list[tuple[int, int]]:
    """Inclusive ranges of seqs absent in 1..max(highest, upto), like ``chain.missing_ranges``.

    Seqs up to ``contiguous`` are all held (summary table); gaps above it are found in SQL with a
    window over the seqs held beyond ``contiguous``, returning only the gaps.
    """
    row = conn.execute(
        "SELECT contiguous, highest FROM authors WHERE author = ?", (author,)
    ).fetchone()
    contiguous, highest = (row[0], row[1]) if row is not None else (0, 0)
    gaps: list[tuple[int, int]] = []
    if contiguous < highest:
        gaps.extend(
            (row[0], row[1])
            for row in conn.execute(
                """SELECT before + 1, seq - 1 FROM (
                    SELECT seq, lag(seq, 1, :c) OVER (ORDER BY seq) AS before
                    FROM messages WHERE author = :a AND seq > :c)
                WHERE seq > before + 1 ORDER BY seq""",
                {"a": author, "c": contiguous},
            )
        )
    top = max(highest, upto or 0)
    if top > highest:
        gaps.append((highest + 1, top))
    return gaps


def seq_range(
    conn: sqlite3.Connection, author: bytes, first_seq: int, last_seq: int, limit: int
) -> list[bytes]:
    if limit <= 0 or first_seq > last_seq:
        return []
    rows = conn.execute(
        """SELECT raw FROM messages WHERE author = ? AND seq BETWEEN ? AND ?
        ORDER BY seq LIMIT ?""",
        (author, first_seq, last_seq, limit),
    )
    return [row[0] for row in rows]


def export_page_all(
    conn: sqlite3.Connection, after: tuple[bytes, int] | None
) -> list[tuple[bytes, int, bytes]]:
    """Next page of (author, seq, raw) over every author, ordered by (author, seq)."""
    author, seq = after if after is not None else (b"", 0)
    rows = conn.execute(
        """SELECT author, seq, raw FROM messages WHERE (author, seq) > (?, ?)
        ORDER BY author, seq LIMIT ?""",
        (author, seq, EXPORT_PAGE),
    )
    return [(row[0], row[1], row[2]) for row in rows]


def export_page_author(
    conn: sqlite3.Connection, author: bytes, after_seq: int
) -> list[tuple[int, bytes]]:
    """Next page of (seq, raw) of one author with seq > ``after_seq``, in seq order."""
    rows = conn.execute(
        "SELECT seq, raw FROM messages WHERE author = ? AND seq > ? ORDER BY seq LIMIT ?",
        (author, after_seq, EXPORT_PAGE),
    )
    return [(row[0], row[1]) for row in rows]


def changes_since(conn: sqlite3.Connection, rowid: int, limit: int) -> list[tuple[int, bytes]]:
    rows = conn.execute(
        "SELECT n, raw FROM messages WHERE n > ? ORDER BY n LIMIT ?", (rowid, max(limit, 0))
    )
    return [(row[0], row[1]) for row in rows]


def last_rowid(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(n) FROM messages").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """{"messages", "authors", "forks"}: forks counts authors flagged forked."""
    messages = conn.execute("SELECT value FROM stats WHERE name = 'messages'").fetchone()
    authors, forked = conn.execute(
        "SELECT count(*), coalesce(sum(forked), 0) FROM authors"
    ).fetchone()
    return {
        "messages": int(messages[0]) if messages else 0,
        "authors": int(authors),
        "forks": int(forked),
    }
