"""The provider store's bounds (``pnyx.gossip.dht_bounds``), without sockets: addresses per record,
records per providing peer, records in all, refreshes, and what a full store costs in memory."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace
from typing import Any

import multiaddr
import pytest
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo

from pnyx.gossip import dht_bounds
from pnyx.gossip.dht_bounds import (
    MAX_PROVIDER_ADDRESSES,
    MAX_PROVIDER_RECORDS,
    BoundedProviderStore,
)

#: Most a full provider store may hold in memory, in bytes (measured: 14 MiB).
FULL_STORE_BYTES = 32 * 1024 * 1024


def peer(n: int) -> ID:
    return ID(b"\x00\x24\x08\x01\x12\x20" + n.to_bytes(32, "big"))


def addresses(count: int, start: int = 0) -> list[multiaddr.Multiaddr]:
    return [multiaddr.Multiaddr(f"/ip4/10.0.{(start + n) // 250}.{(start + n) % 250}/tcp/4001")
            for n in range(count)]  # fmt: skip


def store() -> BoundedProviderStore:
    host: Any = SimpleNamespace(get_id=lambda: peer(0))
    return BoundedProviderStore(host=host)


def test_a_record_keeps_its_first_few_short_addresses() -> None:
    s = store()
    long = multiaddr.Multiaddr("/dns4/" + ".".join(["a" * 60] * 3) + "/tcp/1")
    s.add_provider(b"k", PeerInfo(peer(1), [long, *addresses(50)]))
    (found,) = s.get_providers(b"k")
    assert found.addrs == addresses(MAX_PROVIDER_ADDRESSES)
    s.add_provider(b"k2", PeerInfo(peer(1), [long]))
    assert s.get_providers(b"k2") == [] and s.refused == 1


def test_records_per_provider_and_in_all_are_capped_refreshes_always_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dht_bounds, "MAX_RECORDS_PER_PROVIDER", 3)
    monkeypatch.setattr(dht_bounds, "MAX_PROVIDER_RECORDS", 5)
    s = store()
    for n in range(4):
        s.add_provider(b"a%d" % n, PeerInfo(peer(1), addresses(1)))
    assert s.size() == 3 and s.refused == 1  # the 4th key of peer 1
    for n in range(3):
        s.add_provider(b"b%d" % n, PeerInfo(peer(2), addresses(1)))
    assert s.size() == 5 and s.refused == 2  # the store is full
    s.add_provider(b"a0", PeerInfo(peer(1), addresses(1, start=9)))  # a refresh replaces
    assert s.get_providers(b"a0")[0].addrs == addresses(1, start=9) and s.size() == 5
    s.providers.pop(b"a1")  # as expiry would
    s.cleanup_expired()
    s.add_provider(b"b9", PeerInfo(peer(2), addresses(1)))
    assert s.size() == 5


def test_the_node_own_records_are_not_trimmed() -> None:
    s = store()
    s.add_provider(b"k", PeerInfo(peer(0), addresses(10)))
    assert len(s.get_providers(b"k")[0].addrs) == 10


def test_a_full_store_stays_within_its_memory_bound() -> None:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    s = store()
    bloated = addresses(MAX_PROVIDER_ADDRESSES * 50)
    for n in range(MAX_PROVIDER_RECORDS + 100):
        s.add_provider(n.to_bytes(34, "big"), PeerInfo(peer(1 + n // 1000), bloated))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"a full provider store: {s.size()} records, {used / 2**20:.1f} MiB")
    assert s.size() == MAX_PROVIDER_RECORDS
    assert used < FULL_STORE_BYTES
