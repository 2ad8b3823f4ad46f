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
-- One row per author known (held > 0: with messages held; 0: only followed so far). `aid` is a
-- small local number used in place of the 32-byte key in the other tables and their indexes;
-- the other columns are the chain summary kept in the ingest transaction (heads() is
-- O(authors)). `posts` and the ts span of the author's posts (`first_post`..`last_post`) feed
-- the timeline planner.
CREATE TABLE authors (
    aid        INTEGER PRIMARY KEY,
    author     BLOB    NOT NULL UNIQUE,
    contiguous INTEGER NOT NULL,
    highest    INTEGER NOT NULL,
    held       INTEGER NOT NULL,
    posts      INTEGER NOT NULL,
    forked     INTEGER NOT NULL,
    first_post INTEGER,
    last_post  INTEGER
);

-- Every message held that is part of its author's chain (fork evidence lives in `forks`).
-- `n` is the insertion order: an explicit INTEGER PRIMARY KEY so VACUUM never renumbers it.
-- `idkey` is the id's first 8 bytes as a signed integer: a small index for lookups by id.
CREATE TABLE messages (
    n           INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL,
    idkey       INTEGER NOT NULL,
    aid         INTEGER NOT NULL REFERENCES authors (aid),
    seq         INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    text        TEXT,
    root        BLOB,
    parent      BLOB,
    target      BLOB,
    received_ms INTEGER NOT NULL,
    raw         BLOB    NOT NULL
);
CREATE INDEX messages_idkey ON messages (idkey);
CREATE UNIQUE INDEX messages_chain ON messages (aid, seq);
CREATE INDEX messages_posts_by_time ON messages (ts DESC, id DESC, aid) WHERE kind = 'post';
CREATE INDEX messages_replies ON messages (root, ts, id) WHERE root IS NOT NULL;

-- Conflicting messages signed by an author: kept as evidence, never served.
CREATE TABLE forks (
    other_id  BLOB    PRIMARY KEY,
    aid       INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    kept_id   BLOB    NOT NULL,
    reason    TEXT    NOT NULL,
    seen_ms   INTEGER NOT NULL,
    other_raw BLOB    NOT NULL
) WITHOUT ROWID;
CREATE INDEX forks_author ON forks (aid, seq);

-- Follow state of every (follower, followee) pair of aids: the highest-seq follow/unfollow
-- decides. A followee never seen gets an `authors` row (held = 0) so it has an aid.
CREATE TABLE follows (
    follower INTEGER NOT NULL,
    followee INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    state    INTEGER NOT NULL,
    PRIMARY KEY (follower, followee)
) WITHOUT ROWID;

-- Delete requests: (target id, author of the delete). A post is hidden when its own author
-- asked; the row may arrive before the post it names.
CREATE TABLE deletions (
    target BLOB    NOT NULL,
    aid    INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (target, aid)
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


_V2 = """
-- Fork evidence is capped per author (docs/store.md, "Fork evidence"): at most one row per
-- (author, seq) and at most 8 rows per author (pnyx.store.writes.MAX_FORK_EVIDENCE); further
-- conflicting messages are counted in `forks_dropped`, not kept. `fork_rows` counts the
-- author's rows in `forks`.
ALTER TABLE authors ADD COLUMN fork_rows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE authors ADD COLUMN forks_dropped INTEGER NOT NULL DEFAULT 0;

-- An existing store keeps, per author, the first row seen at each seq, then the first 8 of
-- those by arrival (seen_ms); every other row is counted as dropped and deleted.
CREATE TEMP TABLE fork_keep AS
SELECT other_id, aid FROM (
    SELECT other_id, aid,
           row_number() OVER (PARTITION BY aid ORDER BY seen_ms, seq, other_id) AS nth
    FROM (
        SELECT other_id, aid, seq, seen_ms,
               row_number() OVER (PARTITION BY aid, seq ORDER BY seen_ms, other_id) AS at_seq
        FROM forks
    )
    WHERE at_seq = 1
)
WHERE nth <= 8;
UPDATE authors SET
    fork_rows = (SELECT count(*) FROM fork_keep AS k WHERE k.aid = authors.aid),
    forks_dropped = (SELECT count(*) FROM forks AS f WHERE f.aid = authors.aid)
        - (SELECT count(*) FROM fork_keep AS k WHERE k.aid = authors.aid)
WHERE forked = 1;
DELETE FROM forks WHERE other_id NOT IN (SELECT other_id FROM fork_keep);
DROP TABLE fork_keep;
"""


_V3 = """
-- Full-text search (docs/store.md, "Search"), SQLite FTS5. Both indexes are kept current by
-- triggers, so every write path (ingest, own messages, derived-table backfill) feeds them, and
-- they are filled here from what an existing store already holds.
-- Posts: an external-content index over messages.text (rowid = messages.n). Messages are never
-- updated or removed, so the index stays in step with its content table; a deleted post keeps
-- its index entry and is hidden by the query (the deletion may arrive before the post).
CREATE VIRTUAL TABLE posts_fts USING fts5(
    text, content = 'messages', content_rowid = 'n', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO posts_fts (rowid, text)
SELECT n, text FROM messages WHERE kind = 'post' AND text IS NOT NULL;
CREATE TRIGGER posts_fts_insert AFTER INSERT ON messages
WHEN new.kind = 'post' AND new.text IS NOT NULL
BEGIN
    INSERT INTO posts_fts (rowid, text) VALUES (new.n, new.text);
END;

-- Profiles: name and bio of the merged profile, one row per author (rowid = the author's aid;
-- a profile's author always has an `authors` row, its message being held). Replaced whole on
-- every change of the profile row.
CREATE VIRTUAL TABLE profiles_fts USING fts5(
    name, bio, tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO profiles_fts (rowid, name, bio)
SELECT a.aid, p.name, p.bio FROM profiles AS p JOIN authors AS a ON a.author = p.author;
CREATE TRIGGER profiles_fts_insert AFTER INSERT ON profiles
BEGIN
    INSERT INTO profiles_fts (rowid, name, bio)
    SELECT aid, new.name, new.bio FROM authors WHERE author = new.author;
END;
CREATE TRIGGER profiles_fts_update AFTER UPDATE ON profiles
BEGIN
    DELETE FROM profiles_fts WHERE rowid = (SELECT aid FROM authors WHERE author = old.author);
    INSERT INTO profiles_fts (rowid, name, bio)
    SELECT aid, new.name, new.bio FROM authors WHERE author = new.author;
END;
"""


#: Subtracted from the unsigned first 8 bytes of an id to fit a signed 64-bit ``idkey``.
ID_KEY_OFFSET = 2**63


def id_key(message_id: bytes) -> int:
    """The ``idkey`` column of a message id: its first 8 bytes as a signed 64-bit integer.

    Order-preserving (unsigned big-endian shifted by 2**63), so an id prefix maps to a range.
    """
    return int.from_bytes(message_id[:8].ljust(8, b"\0"), "big") - ID_KEY_OFFSET


#: ``MIGRATIONS[i]`` takes the schema from version i to i + 1. Append only.
_V4 = """
-- Private mutes (docs/moderation.md): keys the user muted with `pnyx mute --private`. They live
-- only in this home and are never signed or published; the public mutes and blocks are derived
-- tables of their kinds (`mutes`, `blocks`, pnyx.core.kinds.mute and block).
CREATE TABLE private_mutes (
    target     BLOB    NOT NULL PRIMARY KEY,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""

_V5 = """
-- Ranked feeds (pnyx.store.rankq.actions, docs/ranking.md): the replies, reposts and reactions
-- naming a candidate post, and the reposts and reactions of the recent window clusters are found
-- over, each found by an index instead of a scan of every message.
CREATE INDEX messages_by_target ON messages (target) WHERE target IS NOT NULL;
CREATE INDEX messages_by_parent ON messages (parent) WHERE parent IS NOT NULL;
CREATE INDEX messages_actions_by_time ON messages (ts) WHERE kind IN ('repost', 'reaction');
"""

_V6 = """
-- "Show less like this" (pnyx.store.less, docs/ranking.md): the user's own negative feedback,
-- kept in this home only and never signed or published. Marking post `via` puts one mark on its
-- author and one on its thread (kind 'author' or 'thread', target the key or the first post id).
CREATE TABLE less_marks (
    via        BLOB    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('author', 'thread')),
    target     BLOB    NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (via, kind)
) WITHOUT ROWID;
"""

_V7 = """
-- Label subscriptions (docs/moderation.md, "Labels and labellers"): the labellers whose labels
-- this home applies, each with the user's action per label value as a JSON object (value ->
-- 'hide', 'warn' or 'ignore'; a value not in it takes its default). Kept in this home only, never
-- signed or published, like private mutes. The labels themselves are the derived table `labels`
-- of the kind `label` (pnyx.core.kinds.label).
CREATE TABLE label_subscriptions (
    labeller   BLOB    NOT NULL PRIMARY KEY,
    actions    TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""

_V8 = """
-- Followers (pnyx.store.notify.followers: the notifications and the unread count on every web
-- page; docs/web.md): the follows naming a user, by an index instead of a scan of every edge.
CREATE INDEX IF NOT EXISTS follows_by_followee ON follows (followee) WHERE state = 1;
"""

MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8]


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
