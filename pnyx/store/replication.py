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
        rows = conn.execute("SELECT author, contiguous, highest FROM authors WHERE held > 0")
        return {row[0]: (row[1], row[2]) for row in rows}
    wanted = list(dict.fromkeys(authors))
    result: dict[bytes, tuple[int, int]] = {}
    for start in range(0, len(wanted), HEADS_CHUNK):
        chunk = wanted[start : start + HEADS_CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            "SELECT author, contiguous, highest FROM authors"
            f" WHERE held > 0 AND author IN ({marks})",
            chunk,
        )
        result.update((row[0], (row[1], row[2])) for row in rows)
    return result


def missing(conn: sqlite3.Connection, author: bytes, upto: int | None) -> list[tuple[int, int]]:
    """Inclusive ranges of seqs absent in 1..max(highest, upto), like ``chain.missing_ranges``.

    Seqs up to ``contiguous`` are all held (summary table); gaps above it are found in SQL with a
    window over the seqs held beyond ``contiguous``, returning only the gaps.
    """
    row = conn.execute(
        "SELECT aid, contiguous, highest FROM authors WHERE author = ?", (author,)
    ).fetchone()
    aid, contiguous, highest = (row[0], row[1], row[2]) if row is not None else (0, 0, 0)
    gaps: list[tuple[int, int]] = []
    if contiguous < highest:
        gaps.extend(
            (row[0], row[1])
            for row in conn.execute(
                """SELECT before + 1, seq - 1 FROM (
                    SELECT seq, lag(seq, 1, :c) OVER (ORDER BY seq) AS before
                    FROM messages WHERE aid = :a AND seq > :c)
                WHERE seq > before + 1 ORDER BY seq""",
                {"a": aid, "c": contiguous},
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
        """SELECT m.raw FROM messages AS m JOIN authors AS a ON a.aid = m.aid
        WHERE a.author = ? AND m.seq BETWEEN ? AND ? ORDER BY m.seq LIMIT ?""",
        (author, first_seq, last_seq, limit),
    )
    return [row[0] for row in rows]


def export_page(
    conn: sqlite3.Connection, aid: int | None, after: tuple[int, int]
) -> list[tuple[int, int, bytes]]:
    """Next page of (aid, seq, raw) after ``after`` = (aid, seq), ordered by (aid, seq).

    ``aid`` None pages over every author; otherwise over that author only.
    """
    if aid is None:
        rows = conn.execute(
            """SELECT aid, seq, raw FROM messages WHERE (aid, seq) > (?, ?)
            ORDER BY aid, seq LIMIT ?""",
            (after[0], after[1], EXPORT_PAGE),
        )
    else:
        rows = conn.execute(
            "SELECT aid, seq, raw FROM messages WHERE aid = ? AND seq > ? ORDER BY seq LIMIT ?",
            (aid, after[1], EXPORT_PAGE),
        )
    return [(row[0], row[1], row[2]) for row in rows]


def aids(conn: sqlite3.Connection, authors: Iterable[bytes]) -> list[int]:
    """The local numbers of those ``authors`` held, ascending (unknown authors are skipped)."""
    found: list[int] = []
    wanted = list(dict.fromkeys(authors))
    for start in range(0, len(wanted), HEADS_CHUNK):
        chunk = wanted[start : start + HEADS_CHUNK]
        marks = ",".join("?" * len(chunk))
        found.extend(
            row[0]
            for row in conn.execute(f"SELECT aid FROM authors WHERE author IN ({marks})", chunk)
        )
    return sorted(found)


def changes_since(conn: sqlite3.Connection, rowid: int, limit: int) -> list[tuple[int, bytes]]:
    rows = conn.execute(
        "SELECT n, raw FROM messages WHERE n > ? ORDER BY n LIMIT ?", (rowid, max(limit, 0))
    )
    return [(row[0], row[1]) for row in rows]


def last_rowid(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(n) FROM messages").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """{"messages", "authors", "forks", "fork_evidence", "forks_dropped"}: forks counts authors
    flagged forked, fork_evidence the evidence rows kept, forks_dropped the conflicting messages
    seen beyond the per-author cap (not kept)."""
    messages = conn.execute("SELECT value FROM stats WHERE name = 'messages'").fetchone()
    authors, forked, rows, dropped = conn.execute(
        """SELECT count(*), coalesce(sum(forked), 0), coalesce(sum(fork_rows), 0),
        coalesce(sum(forks_dropped), 0) FROM authors WHERE held > 0"""
    ).fetchone()
    return {
        "messages": int(messages[0]) if messages else 0,
        "authors": int(authors),
        "forks": int(forked),
        "fork_evidence": int(rows),
        "forks_dropped": int(dropped),
    }
