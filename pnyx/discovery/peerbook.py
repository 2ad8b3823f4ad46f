"""The peer book: every peer this node has learned of, with its addresses and dial history.

It lives in its own small SQLite file, ``peers.db`` in the home directory (``PEERBOOK_FILE``),
not in the store: it is the node's private bookkeeping, written often, never replicated, and
its schema evolves apart from the store's (own ``PRAGMA user_version`` migrations, below). Losing
it costs nothing but a slower start (the node falls back to its bootstrap addresses).

Synchronous, like the store: async callers go through ``trio.to_thread.run_sync`` (or the node's
``offload``). One ``PeerBook`` holds one connection guarded by a lock, usable from any thread.

Bounds: at most ``MAX_PEERS`` peers (``save_many`` evicts the least useful ones, see
``EVICTION_ORDER``; pinned bootstrap entries are never evicted) and ``MAX_ADDRESSES_PER_PEER``
addresses each (the most recently learned kept).

Failure modes: any sqlite3 failure raises ``StoreError`` naming the file; a file written by a
newer pnyx (higher ``user_version``) is refused and left untouched.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from pnyx.errors import StoreError

#: File name of the peer book inside the home directory.
PEERBOOK_FILE = "peers.db"
#: Most peers kept, a count (a row is ~200 bytes: ~2 MB at most on disk).
MAX_PEERS = 2000
#: Most addresses kept per peer, a count (the most recently learned first).
MAX_ADDRESSES_PER_PEER = 8
#: Longest address kept, in characters (longer ones are dropped as junk).
MAX_ADDRESS_CHARS = 512
#: How long a statement waits for another connection's lock, in milliseconds.
BUSY_TIMEOUT_MS = 5000
#: Permissions of a new peer-book file (owner only).
FILE_MODE = 0o600

#: Which peers go first when the book is full: never pinned ones; among them those never reached
#: (most failures first), then the ones not seen for longest.
EVICTION_ORDER = "pinned ASC, (last_success_ms IS NULL) DESC, failures DESC, last_seen_ms ASC"

_V1 = """
CREATE TABLE peers (
    peer_id         TEXT    PRIMARY KEY,
    source          TEXT    NOT NULL,
    pinned          INTEGER NOT NULL,
    added_ms        INTEGER NOT NULL,
    last_seen_ms    INTEGER NOT NULL,
    last_success_ms INTEGER,
    last_failure_ms INTEGER,
    failures        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE addresses (
    peer_id TEXT    NOT NULL REFERENCES peers (peer_id) ON DELETE CASCADE,
    address TEXT    NOT NULL,
    rank    INTEGER NOT NULL,
    PRIMARY KEY (peer_id, address)
) WITHOUT ROWID;
"""

#: ``MIGRATIONS[i]`` takes the peer book from version i to i + 1. Append only.
MIGRATIONS: list[str] = [_V1]


@dataclass(frozen=True, slots=True)
class PeerRecord:
    """What the book knows of one peer. Times are Unix milliseconds."""

    peer_id: str
    addresses: tuple[str, ...]
    """Dialable multiaddrs, each ending in ``/p2p/<peer_id>``, most recently learned first."""
    source: str
    """How the peer was first learned (a ``pnyx.net.contracts.FoundBy`` value)."""
    pinned: bool
    """A configured bootstrap peer: never evicted, retried with a shorter backoff."""
    added_ms: int
    last_seen_ms: int
    """Last time the peer was learned again or connected."""
    last_success_ms: int | None = None
    last_failure_ms: int | None = None
    failures: int = 0
    """Failed dials since the last success."""


def merge_addresses(old: Sequence[str], new: Iterable[str]) -> tuple[str, ...]:
    """``new`` addresses first (in order), then the ``old`` ones not repeated; bounded."""
    merged: list[str] = []
    for address in (*new, *old):
        if address not in merged and len(address) <= MAX_ADDRESS_CHARS:
            merged.append(address)
    return tuple(merged[:MAX_ADDRESSES_PER_PEER])


def learned(
    record: PeerRecord | None,
    peer_id: str,
    addresses: Iterable[str],
    source: str,
    now_ms: int,
    *,
    pinned: bool = False,
) -> PeerRecord:
    """``record`` (or a new one) after learning ``addresses`` for ``peer_id`` from ``source``.
    The first source is kept; pinning is sticky."""
    if record is None:
        return PeerRecord(
            peer_id=peer_id,
            addresses=merge_addresses((), addresses),
            source=source,
            pinned=pinned,
            added_ms=now_ms,
            last_seen_ms=now_ms,
        )
    return replace(
        record,
        addresses=merge_addresses(record.addresses, addresses),
        pinned=record.pinned or pinned,
        last_seen_ms=max(record.last_seen_ms, now_ms),
    )


class PeerBook:
    """The peer book of one node (see the module docstring). Open with ``PeerBook.open``."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self._conn = conn
        self._where = str(path) if path is not None else "the in-memory peer book"
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | None) -> PeerBook:
        """Open (creating, mode 0600) the book at ``path``; None keeps it in memory (tests).
        Raises ``StoreError``."""
        where = str(path) if path is not None else ":memory:"
        try:
            if path is not None:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE))
        except OSError as exc:
            raise StoreError(f"cannot create the peer book {path}: {exc.strerror}") from None
        try:
            conn = sqlite3.connect(
                where, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the peer book {where}: {exc}") from None
        book = cls(conn, path)
        try:
            with book._guard():
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                book._migrate()
        except BaseException:
            conn.close()
            raise
        return book

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PeerBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"{self._where} failed: {exc}") from None

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self._where} was written by a newer pnyx (peer book version {version}); "
                "refusing to change it"
            )
        if version == len(MIGRATIONS):
            return
        self._conn.execute("BEGIN IMMEDIATE")
        for script in MIGRATIONS[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
        self._conn.execute(f"PRAGMA user_version = {len(MIGRATIONS):d}")
        self._conn.execute("COMMIT")

    # --- reading ----------------------------------------------------------------------------

    def load(self) -> list[PeerRecord]:
        """Every peer in the book (at most ``MAX_PEERS``), in no particular order."""
        with self._guard():
            addresses: dict[str, list[str]] = {}
            for peer_id, address in self._conn.execute(
                "SELECT peer_id, address FROM addresses ORDER BY peer_id, rank"
            ):
                addresses.setdefault(peer_id, []).append(address)
            rows = self._conn.execute(
                "SELECT peer_id, source, pinned, added_ms, last_seen_ms, last_success_ms,"
                " last_failure_ms, failures FROM peers"
            ).fetchall()
        return [
            PeerRecord(
                peer_id=row[0],
                addresses=tuple(addresses.get(row[0], ())),
                source=row[1],
                pinned=bool(row[2]),
                added_ms=row[3],
                last_seen_ms=row[4],
                last_success_ms=row[5],
                last_failure_ms=row[6],
                failures=row[7],
            )
            for row in rows
        ]

    def count(self) -> int:
        with self._guard():
            return int(self._conn.execute("SELECT count(*) FROM peers").fetchone()[0])

    # --- writing ----------------------------------------------------------------------------

    def save_many(self, records: Iterable[PeerRecord]) -> list[str]:
        """Insert or replace ``records`` in one transaction, then evict down to ``MAX_PEERS``.
        Returns the peer ids evicted (callers drop them from their own view)."""
        with self._guard():
            self._conn.execute("BEGIN IMMEDIATE")
            for record in records:
                self._write(record)
            evicted = [
                row[0]
                for row in self._conn.execute(
                    f"SELECT peer_id FROM peers ORDER BY {EVICTION_ORDER} LIMIT max(0, "
                    "(SELECT count(*) FROM peers) - ?)",
                    (MAX_PEERS,),
                )
            ]
            self._conn.executemany("DELETE FROM peers WHERE peer_id = ?", [(p,) for p in evicted])
            self._conn.execute("COMMIT")
        return evicted

    def remove(self, peer_id: str) -> None:
        with self._guard():
            self._conn.execute("DELETE FROM peers WHERE peer_id = ?", (peer_id,))

    def _write(self, record: PeerRecord) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO peers (peer_id, source, pinned, added_ms, last_seen_ms,"
            " last_success_ms, last_failure_ms, failures) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.peer_id,
                record.source,
                int(record.pinned),
                record.added_ms,
                record.last_seen_ms,
                record.last_success_ms,
                record.last_failure_ms,
                record.failures,
            ),
        )
        self._conn.execute("DELETE FROM addresses WHERE peer_id = ?", (record.peer_id,))
        self._conn.executemany(
            "INSERT OR IGNORE INTO addresses (peer_id, address, rank) VALUES (?, ?, ?)",
            [
                (record.peer_id, address, rank)
                for rank, address in enumerate(record.addresses[:MAX_ADDRESSES_PER_PEER])
            ],
        )
