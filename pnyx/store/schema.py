"""The database schema and its migrations (see docs/store.md for why each table and index exists).

The schema version lives in ``PRAGMA user_version``. ``MIGRATIONS[i]`` is the SQL script that takes
a database from version ``i`` to ``i + 1``; a new file (version 0) runs them all. A migration only
ever appends to this list: released scripts are never edited. All pending scripts run in ONE
``BEGIN IMMEDIATE`` transaction, so a failure leaves the file at its old version, and a second
process that migrated first is noticed (the version is read again under the write lock).

A file whose version is above ``len(MIGRATIONS)`` was written by a newer pnyx: it is refused with
``StoreError`` and left untouched.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pnyx.errors import StoreError

_V1 = """
-- Every message held that is part of its author's chain (fork evidence lives in `forks`).
-- `n` is the insertion order: an explicit INTEGER PRIMARY KEY so VACUUM never renumbers it.
CREATE TABLE messages (
    n           INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL,
    author      BLOB    NOT NULL,
    seq         INTEGER NOT NULL,
    prev        BLOB,
    ts          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    text        TEXT,
    root        BLOB,
    parent      BLOB,
    target      BLOB,
    raw         BLOB    NOT NULL,
    received_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_id ON messages (id);
CREATE UNIQUE INDEX messages_author_seq ON messages (author, seq);
CREATE INDEX messages_posts_by_time ON messages (ts DESC, id DESC, author) WHERE kind = 'post';
CREATE INDEX messages_posts_by_author ON messages (author, ts DESC, id DESC) WHERE kind = 'post';
CREATE INDEX messages_replies ON messages (root, ts, id) WHERE root IS NOT NULL;

-- One row per author held: the chain summary that makes heads() O(authors).
CREATE TABLE authors (
    author     BLOB    PRIMARY KEY,
    contiguous INTEGER NOT NULL,
    highest    INTEGER NOT NULL,
    held       INTEGER NOT NULL,
    posts      INTEGER NOT NULL,
    forked     INTEGER NOT NULL
) WITHOUT ROWID;

-- Conflicting messages signed by an author: kept as evidence, never served.
CREATE TABLE forks (
    other_id  BLOB    PRIMARY KEY,
    author    BLOB    NOT NULL,
    seq       INTEGER NOT NULL,
    kept_id   BLOB    NOT NULL,
    reason    TEXT    NOT NULL,
    other_raw BLOB    NOT NULL,
    seen_ms   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX forks_author ON forks (author, seq);

-- Follow state of every (follower, followee) pair: the highest-seq follow/unfollow decides.
CREATE TABLE follows (
    follower BLOB    NOT NULL,
    followee BLOB    NOT NULL,
    seq      INTEGER NOT NULL,
    state    INTEGER NOT NULL,
    PRIMARY KEY (follower, followee)
) WITHOUT ROWID;

-- Delete requests: (target id, author of the delete). A post is hidden when its own author
-- asked; the row may arrive before the post it names.
CREATE TABLE deletions (
    target BLOB    NOT NULL,
    author BLOB    NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (target, author)
) WITHOUT ROWID;

-- Merged profile per author: each field with the seq of the message that last set it.
CREATE TABLE profiles (
    author   BLOB    PRIMARY KEY,
    name     TEXT,
    name_seq INTEGER NOT NULL,
    bio      TEXT,
    bio_seq  INTEGER NOT NULL,
    seq      INTEGER NOT NULL
) WITHOUT ROWID;

-- Running totals kept in the ingest transaction (counts() and the timeline planner read them).
CREATE TABLE stats (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO stats (name, value) VALUES ('messages', 0), ('posts', 0);
"""

#: ``MIGRATIONS[i]`` takes the schema from version i to i + 1. Append only.
MIGRATIONS: list[str] = [_V1]


def current_version() -> int:
    """The schema version this code writes: the number of migrations."""
    return len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (``sqlite3.complete_statement`` decides)."""
    result: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            result.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]!r}")
    return result


def read_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _refuse_newer(version: int, path: Path) -> None:
    if version > current_version():
        raise StoreError(
            f"{path} was written by a newer pnyx (store schema version {version}, this version "
            f"knows up to {current_version()}); refusing to open it so it is not damaged"
        )


def check_readable(conn: sqlite3.Connection, path: Path) -> None:
    """For a read-only open: the file must already be at exactly the current version."""
    version = read_version(conn)
    _refuse_newer(version, path)
    if version < current_version():
        raise StoreError(
            f"{path} is at store schema version {version}, not {current_version()}: open it once "
            "read-write to upgrade it"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the database to ``current_version()``; return the version found before.

    ``conn`` must be in autocommit mode (``isolation_level=None``) with no open transaction.
    Raises ``StoreError`` for a newer file; ``sqlite3.Error`` propagates (the caller maps it) after
    the transaction is rolled back.
    """
    version = read_version(conn)
    _refuse_newer(version, path)
    if version == current_version():
        return version
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = read_version(conn)  # another process may have migrated while we waited
        _refuse_newer(version, path)
        for script in MIGRATIONS[version:]:
            for statement in statements(script):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {current_version():d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version
