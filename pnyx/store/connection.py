"""Opening the SQLite file, transactions, and turning sqlite3 errors into ``StoreError``.

Durability choices (docs/store.md, "Durability"): WAL journal; ``synchronous=NORMAL`` for ordinary
ingest (a commit survives an application crash; a power cut may lose the last commits but never
corrupts the file); ``synchronous=FULL`` around a durable commit (the user's own posts), so a post
the CLI reported as written survives a power cut too.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from pnyx.errors import StoreError
from pnyx.store import derived, schema

#: How long a statement waits for another process's write lock, in milliseconds.
BUSY_TIMEOUT_MS = 5000
#: Page cache of a read-only connection, in KiB (negative ``cache_size`` means KiB in SQLite).
CACHE_KIB = 32 * 1024
#: Memory-mapped I/O window of a read-only connection, in bytes (reads skip a copy through the
#: page cache). Read-only opens are the short-lived CLI readers (timeline, thread, export).
MMAP_BYTES = 256 * 1024 * 1024
#: Page cache of a read-write connection (the node's, ``pnyx sync``'s), in KiB, and no memory
#: map: a long-running writer's resident memory stays bounded by this, whatever the store's size
#: (mapped pages it touches would count in its RSS up to the whole window). Ingest is as fast
#: with 16 MiB and no map as with 32 MiB and a map (docs/performance.md).
WRITE_CACHE_KIB = 16 * 1024
#: WAL size that triggers an automatic checkpoint, in pages (4 KiB each: ~40 MiB). Larger than
#: SQLite's 1000 so a big ingest batch checkpoints (and fsyncs) less often.
WAL_AUTOCHECKPOINT_PAGES = 10_000
#: Size the WAL file is truncated back to after a checkpoint, in bytes.
JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
#: Permissions of a new database file (owner read/write only).
FILE_MODE = 0o600
#: Permissions of a parent directory the store creates (owner only).
DIR_MODE = 0o700


def describe(exc: sqlite3.Error, path: Path) -> str:
    """A clear one-line message for an sqlite3 error on the store at ``path``."""
    text = str(exc).strip() or exc.__class__.__name__
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return (
            f"the store {path} is locked by another process (waited {BUSY_TIMEOUT_MS} ms: {text})"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return f"the store {path} is read-only ({text})"
    if "full" in lowered:
        return f"the store {path} cannot grow: {text}"
    if "not a database" in lowered:
        return f"{path} is not a pnyx store ({text})"
    if "i/o" in lowered:
        return f"disk I/O error on the store {path} ({text})"
    if "malformed" in lowered or "corrupt" in lowered:
        return f"the store {path} is damaged ({text})"
    if "unable to open" in lowered:
        return f"cannot open the store {path} ({text})"
    return f"the store {path} failed: {text}"


def store_error(exc: sqlite3.Error, path: Path) -> StoreError:
    return StoreError(describe(exc, path))


def _create_file(path: Path) -> None:
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
        os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create the store {path}: {exc.strerror or exc}") from None


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """Open ``path``, set the connection's pragmas and (read-write) run migrations.

    Read-write creates the file (mode 0600) and its parent directory if missing. Read-only needs
    the file to exist at the current schema version. Raises ``StoreError`` for a file that is not
    a database, is locked, read-only (for a read-write open), or from a newer pnyx.
    """
    if readonly:
        if not path.is_file():
            raise StoreError(f"the store {path} does not exist")
        uri = "file:" + quote(str(path.absolute())) + "?mode=ro"
        if not os.access(path.parent, os.W_OK):
            # A WAL database needs its -shm file, which cannot be created in a read-only
            # directory. Nobody can write there either, so SQLite may treat the file as
            # immutable; it then reads the main file only (what a clean shutdown checkpointed).
            uri += "&immutable=1"
    else:
        _create_file(path)
        if not os.access(path, os.W_OK):
            raise StoreError(f"the store {path} is read-only (no write permission)")
        uri = "file:" + quote(str(path.absolute())) + "?mode=rw"
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(
            uri,
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        conn.execute(f"PRAGMA cache_size = {-(CACHE_KIB if readonly else WRITE_CACHE_KIB):d}")
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES if readonly else 0:d}")
        conn.execute("PRAGMA temp_store = MEMORY")
        if readonly:
            conn.execute("PRAGMA query_only = ON")
            schema.check_readable(conn, path)
            derived.check_tables(conn, path)
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES:d}")
            conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES:d}")
            schema.migrate(conn, path)
            derived.ensure_tables(conn)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise store_error(exc, path) from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path, *, durable: bool = False) -> Iterator[None]:
    """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), rolled back on any error.

    ``durable`` switches to ``synchronous=FULL`` for this commit and back to NORMAL afterwards.
    sqlite3 errors become ``StoreError``; other exceptions propagate unchanged after the rollback.
    """
    try:
        if durable:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
            except BaseException:
                rollback(conn)
                raise
        finally:
            if durable:
                conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        raise store_error(exc, path) from None


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already done so itself.

    A failing ROLLBACK (the disk vanished, say) is not reported over the error that caused it:
    SQLite then rolls the transaction back from the journal on the next open.
    """
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            return


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Map sqlite3 errors raised by a read into ``StoreError``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise store_error(exc, path) from None
