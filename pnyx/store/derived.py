"""Tables a kind declares for itself (``Derived.create``), created when the store is opened.

The tables of migration 1 (follows, profiles, deletions) come with the schema. A kind added later
brings its table's DDL in its own module; ``ensure_tables`` (called on every read-write open,
after the migrations) creates each such table that is missing, in one ``BEGIN IMMEDIATE``
transaction, and fills it from the messages of its kinds already held (stored earlier as unknown
kinds): each is checked against the kind's schema first and skipped if it breaks it. Only the
derived rows are filled in: the ``messages`` columns of those messages stay as stored.

A read-only open never writes: ``check_tables`` raises ``StoreError`` if a table is missing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pnyx.core.kinds import SPECS, Derived
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import StoreError
from pnyx.store.queries import stored
from pnyx.store.schema import statements
from pnyx.store.writes import write_derived

#: Messages read per step while a new derived table is filled, a count.
BACKFILL_CHUNK = 1000


def declared() -> dict[Derived, list[str]]:
    """Each derived table with DDL of its own and the kinds deriving into it."""
    found: dict[Derived, list[str]] = {}
    for spec in SPECS.values():
        for derived in spec.derived:
            if derived.create:
                found.setdefault(derived, []).append(spec.name)
    return found


def _missing(conn: sqlite3.Connection) -> dict[Derived, list[str]]:
    return {
        derived: names
        for derived, names in declared().items()
        if conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (derived.table,)
        ).fetchone()
        is None
    }


def check_tables(conn: sqlite3.Connection, path: Path) -> None:
    """For a read-only open: every declared table exists, else ``StoreError``."""
    missing = _missing(conn)
    if missing:
        tables = ", ".join(sorted(d.table for d in missing))
        raise StoreError(f"{path} has no table {tables}: open it once read-write to create it")


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Create and fill every missing declared table (``conn`` in autocommit mode, no open
    transaction). ``sqlite3.Error`` propagates after the transaction is rolled back."""
    if not _missing(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for derived, names in _missing(conn).items():  # again, under the write lock
            for statement in statements(derived.create):
                conn.execute(statement)
            _fill(conn, derived, names)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _fill(conn: sqlite3.Connection, derived: Derived, names: list[str]) -> None:
    marks = ",".join("?" * len(names))
    last = 0
    while True:
        chunk = conn.execute(
            f"""SELECT n, id, raw, received_ms, aid FROM messages
            WHERE n > ? AND kind IN ({marks}) ORDER BY n LIMIT ?""",
            (last, *names, BACKFILL_CHUNK),
        ).fetchall()
        if not chunk:
            return
        rows = []
        for n, message_id, raw, received_ms, aid in chunk:
            last = n
            message = stored((message_id, raw, received_ms)).message
            spec = SPECS[message.kind]
            try:
                spec.check(message.body)
            except InvalidMessage:
                continue  # stored while the kind was unknown; it breaks the schema now known
            rows.append(derived.row(message, aid))
        if rows:
            write_derived(conn, derived, rows)
