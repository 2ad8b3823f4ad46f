"""Store files: creation, schema versions and migrations, newer files refused, read-only opens."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from pnyx.errors import StoreError
from pnyx.store import Store, schema
from tests.store_helpers import NOW_MS, Feed, key


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_store_is_created_owner_only_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "pnyx.db"
    with Store.open(path) as store:
        assert store.counts() == {
            "messages": 0,
            "authors": 0,
            "forks": 0,
            "fork_evidence": 0,
            "forks_dropped": 0,
        }
        mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert _version(path) == schema.current_version() == len(schema.MIGRATIONS)
    assert {"messages", "authors", "forks", "follows", "deletions", "profiles"} <= _tables(path)


@pytest.mark.parametrize("kind", ["zero-bytes", "empty-sqlite"])
def test_a_version_0_file_is_migrated(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "pnyx.db"
    if kind == "zero-bytes":
        path.write_bytes(b"")
    else:
        sqlite3.connect(path).close()
        assert _version(path) == 0
    with Store.open(path) as store:
        feed = Feed(key(1))
        assert len(store.ingest([feed.post("hi").raw], NOW_MS).accepted) == 1
    assert _version(path) == schema.current_version()


def test_a_file_at_the_current_version_is_reopened_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    feed = Feed(key(1))
    with Store.open(path) as store:
        store.ingest([feed.post("kept").raw], NOW_MS)
    with Store.open(path) as store:
        assert store.heads() == {feed.author: (1, 1)}
    assert _version(path) == schema.current_version()


def test_a_file_from_a_newer_pnyx_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.current_version() + 1}")
    conn.close()
    before = _digest(path)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="newer pnyx") as info:
            Store.open(path, readonly=readonly)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert _digest(path) == before
    assert _version(path) == schema.current_version() + 1


def test_a_new_migration_upgrades_an_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pnyx.db"
    feed = Feed(key(1))
    with Store.open(path) as store:
        store.ingest([feed.post("old").raw], NOW_MS)
    upgrade = """
    -- a later release adds a table; comments and blank lines are fine
    CREATE TABLE extra (x INTEGER);

    INSERT INTO extra (x) VALUES (42);
    """
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, upgrade])
    with pytest.raises(StoreError, match="read-write to upgrade"):
        Store.open(path, readonly=True)
    with Store.open(path) as store:
        assert store.heads() == {feed.author: (1, 1)}
        assert store._conn.execute("SELECT x FROM extra").fetchall() == [(42,)]
    assert _version(path) == len(schema.MIGRATIONS)


def test_a_failing_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pnyx.db"
    Store.open(path).close()
    broken = "CREATE TABLE extra (x INTEGER);\nCREATE TABLE extra (y INTEGER);"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    with pytest.raises(StoreError, match="already exists"):
        Store.open(path)
    assert _version(path) == schema.current_version() - 1 and "extra" not in _tables(path)


def test_read_only_open(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(path, readonly=True)
    assert not path.exists()
    feed = Feed(key(1))
    with Store.open(path) as store:
        store.ingest([feed.post("one").raw], NOW_MS)
    with Store.open(path, readonly=True) as reader:
        assert reader.heads() == {feed.author: (1, 1)}
        with pytest.raises(StoreError, match="read-only"):
            reader.ingest([feed.post("two").raw], NOW_MS)
        with pytest.raises(StoreError, match="read-only"):
            reader.append_own(key(1), "post", {"text": "three"}, NOW_MS)
        assert reader.counts()["messages"] == 1


def test_statements_splits_scripts() -> None:
    script = "-- c\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nINSERT INTO a VALUES ('1;2');\n"
    assert schema.statements(script) == [
        "CREATE TABLE a (x TEXT DEFAULT ';');",
        "INSERT INTO a VALUES ('1;2');",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        schema.statements("CREATE TABLE b (x")
    for script in schema.MIGRATIONS:
        assert schema.statements(script)


def test_id_key_preserves_order() -> None:
    ids = [bytes([b]) + b"\x00" * 31 for b in (0, 1, 127, 128, 200, 255)]
    keys = [schema.id_key(i) for i in ids]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert keys[0] == -(2**63) and schema.id_key(b"\xff" * 32) == 2**63 - 1
