"""The peer book file: round trip, bounds, eviction order, migrations, permissions."""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pnyx.discovery import peerbook
from pnyx.discovery.peerbook import (
    MAX_ADDRESSES_PER_PEER,
    PeerBook,
    PeerRecord,
    learned,
    merge_addresses,
)
from pnyx.errors import StoreError


def record(peer: str, **changes: Any) -> PeerRecord:
    base = PeerRecord(
        peer_id=peer,
        addresses=(f"/ip4/127.0.0.1/tcp/1/p2p/{peer}",),
        source="dht",
        pinned=False,
        added_ms=1_000,
        last_seen_ms=1_000,
    )
    return replace(base, **changes)


def test_records_survive_reopening_with_addresses_in_order(tmp_path: Path) -> None:
    path = tmp_path / "home" / "peers.db"
    first = record(
        "P1",
        addresses=("/ip4/10.0.0.1/tcp/1/p2p/P1", "/ip4/10.0.0.2/tcp/2/p2p/P1"),
        last_success_ms=5_000,
        failures=0,
    )
    second = record("P2", pinned=True, source="bootstrap", failures=3, last_failure_ms=7_000)
    with PeerBook.open(path) as book:
        assert book.save_many([first, second]) == []
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with PeerBook.open(path) as book:
        loaded = {r.peer_id: r for r in book.load()}
        assert loaded == {"P1": first, "P2": second}
        assert book.count() == 2
        book.remove("P1")
        assert [r.peer_id for r in book.load()] == ["P2"]


def test_saving_again_replaces_the_record_and_its_addresses() -> None:
    with PeerBook.open(None) as book:
        book.save_many([record("P1")])
        changed = record("P1", addresses=("/ip4/10.9.9.9/tcp/9/p2p/P1",), failures=2)
        book.save_many([changed])
        assert book.load() == [changed]


def test_learning_merges_addresses_newest_first_and_bounded() -> None:
    old = learned(None, "P", ["/a/1", "/a/2"], "mdns", 10)
    assert old.addresses == ("/a/1", "/a/2") and old.source == "mdns" and old.added_ms == 10
    new = learned(old, "P", ["/a/3", "/a/1"], "dht", 20, pinned=True)
    assert new.addresses == ("/a/3", "/a/1", "/a/2")
    assert new.source == "mdns" and new.pinned and new.last_seen_ms == 20 and new.added_ms == 10
    many = merge_addresses((), [f"/a/{i}" for i in range(20)])
    assert len(many) == MAX_ADDRESSES_PER_PEER and many[0] == "/a/0"
    assert merge_addresses((), ["/x" * 400]) == ()  # absurdly long addresses are dropped


def test_a_full_book_evicts_never_reached_peers_first_and_never_pinned_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peerbook, "MAX_PEERS", 3)
    with PeerBook.open(None) as book:
        book.save_many(
            [
                record("pinned", pinned=True, failures=9, last_seen_ms=1),
                record("good", last_success_ms=50, last_seen_ms=50),
                record("bad", failures=5, last_seen_ms=60),
            ]
        )
        evicted = book.save_many([record("new", last_seen_ms=100)])
        assert evicted == ["bad"]
        evicted = book.save_many([record("newer", last_seen_ms=200)])
        assert evicted == ["new"]  # never reached and older than "newer"
        assert {r.peer_id for r in book.load()} == {"pinned", "good", "newer"}


def test_a_book_from_a_newer_pnyx_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "peers.db"
    with PeerBook.open(path) as book:
        book.save_many([record("P1")])
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="newer pnyx"):
        PeerBook.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    conn.close()


def test_a_file_that_is_not_a_database_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "peers.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"peers\.db"):
        PeerBook.open(path)
