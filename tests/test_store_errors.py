"""Store failures: every sqlite3 error becomes a one-line StoreError and nothing is half-written."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from pnyx.errors import StoreError
from pnyx.store import Store, connection
from tests.store_helpers import NOW_MS, Feed, key, open_store


def _one_line(exc: pytest.ExceptionInfo[StoreError], path: Path) -> str:
    text = str(exc.value)
    assert "\n" not in text and str(path) in text
    return text


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    path.write_bytes(b"this is a text file, not SQLite\n" * 200)
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError) as info:
            Store.open(path, readonly=readonly)
        assert "is not a pnyx store" in _one_line(info, path)
    assert path.read_bytes() == before


def test_a_locked_database(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        path = tmp_path / "pnyx.db"
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            store._conn.execute("PRAGMA busy_timeout = 20")  # do not wait 5 s in a test
            feed = Feed(key(1))
            with pytest.raises(StoreError) as info:
                store.ingest([feed.post("blocked").raw], NOW_MS)
            assert "locked by another process" in _one_line(info, path)
            assert store.heads() == {}  # reads still work while another process writes
            other.execute("ROLLBACK")
            assert len(store.ingest(feed.raws(), NOW_MS).accepted) == 1
        finally:
            other.close()


def test_a_full_disk_rolls_back_the_batch_and_keeps_earlier_data(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    with open_store(tmp_path) as store:
        early = Feed(key(1))
        for n in range(10):
            early.post(f"early {n}")
        store.ingest(early.raws(), NOW_MS)
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" is now full
        late = Feed(key(2))
        for n in range(200):
            late.post(f"late {n} " + "x" * 500)
        with pytest.raises(StoreError) as info:
            store.ingest(late.raws(), NOW_MS)
        assert "cannot grow" in _one_line(info, path) and "full" in str(info.value)
        with pytest.raises(StoreError, match="full"):
            store.append_own(key(3), "post", {"text": "y" * 4000}, NOW_MS)
        assert store.heads() == {early.author: (10, 10)}
        assert store.counts() == {
            "messages": 10,
            "authors": 1,
            "forks": 0,
            "fork_evidence": 0,
            "forks_dropped": 0,
        }
        assert list(store.export()) == early.raws()
        store._conn.execute(f"PRAGMA max_page_count = {pages * 1000}")  # space freed
        assert len(store.ingest(late.raws(), NOW_MS).accepted) == 200
    with open_store(tmp_path) as again:
        assert again.counts()["messages"] == 210


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_file(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    Store.open(path).close()
    path.chmod(0o400)
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert "read-only" in _one_line(info, path)
    with Store.open(path, readonly=True) as reader:
        assert reader.heads() == {}


def test_a_read_only_connection_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "pnyx.db"
    Store.open(path).close()
    with Store.open(path, readonly=True) as reader:
        with pytest.raises(StoreError) as info:
            reader.ingest([Feed(key(1)).post("no").raw], NOW_MS)
        assert "read-only" in _one_line(info, path)


def test_an_unwritable_directory_for_a_new_store(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the store"):
        Store.open(blocker / "pnyx.db")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("database is locked", "locked by another process"),
        ("database table is locked", "locked by another process"),
        ("disk I/O error", "disk I/O error on the store"),
        ("attempt to write a readonly database", "is read-only"),
        ("database or disk is full", "cannot grow"),
        ("file is not a database", "is not a pnyx store"),
        ("database disk image is malformed", "is damaged"),
        ("unable to open database file", "cannot open the store"),
        ("something else", "failed: something else"),
    ],
)
def test_error_messages_name_the_file_and_the_cause(message: str, expected: str) -> None:
    path = Path("/somewhere/pnyx.db")
    for exc_type in (sqlite3.OperationalError, sqlite3.DatabaseError):
        error = connection.store_error(exc_type(message), path)
        assert isinstance(error, StoreError)
        assert expected in str(error) and str(path) in str(error) and "\n" not in str(error)
