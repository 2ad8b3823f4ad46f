"""Bounds on what py-libp2p 0.8.1's DHT server keeps for other peers (issue 23, item 3).

A DHT server stores what others send it: provider records (``ADD_PROVIDER``) and value records
(``PUT_VALUE``). py-libp2p 0.8.1 bounds neither usefully: a message may be 4 MiB
(``MAX_DHT_MESSAGE_SIZE``), a provider record keeps every address it came with (one identity sent
10 messages of 419,000 addresses and the node grew by 420 MiB, kept for the records' 48 h), the
per-peer rate limit costs an attacker one fresh peer id, and a non-namespaced value of up to 1 MiB
is accepted into a store of 50,000 entries. pnyx needs provider records only, so:

* **Message size refused before parsing**: an inbound DHT message over
  ``MAX_INBOUND_DHT_MESSAGE_BYTES`` is refused from its length prefix, before a byte of it is read
  (the honest messages pnyx sends and answers, FIND_NODE, GET_PROVIDERS and ADD_PROVIDER with a
  handful of addresses, are a few KiB).
* **Values refused**: the value validator knows no namespace and is strict, so every ``PUT_VALUE``
  is refused and nothing is stored (pnyx never stores or reads values).
* **Provider records bounded** (``BoundedProviderStore``): at most ``MAX_PROVIDER_ADDRESSES``
  addresses a record, each at most ``MAX_PROVIDER_ADDRESS_BYTES``; at most
  ``MAX_RECORDS_PER_PROVIDER`` records of one providing peer; at most ``MAX_PROVIDER_RECORDS`` in
  all (py-libp2p already keeps at most 20 providers a key). A record over a bound is not stored
  (counted in ``refused``); a provider's refresh of a record it already has always replaces it.
  Held addresses are thus at most 16,384 x 4 x 64 bytes of address (4 MiB); a full store is
  14 MiB with Python's objects around them (measured in ``tests/test_dht_bounds.py``).

Compared with Kubo (go-libp2p-kad-dht): Kubo reads DHT messages up to 4 MiB, keeps provider records
in its datastore (on disk, with an LRU cache of 256 keys in memory), stores only the provider's peer
id and takes addresses from its peer store (whose address book is capped by TTLs and by the
connection manager), and caps providers per key (20) but not per peer. pnyx keeps records in memory,
so it caps what Kubo bounds by disk.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import multiaddr
from libp2p.kad_dht import kad_dht as py_kad_dht
from libp2p.kad_dht.provider_store import ProviderStore
from libp2p.peer.peerinfo import PeerInfo
from libp2p.records.validator import NamespacedValidator

log = logging.getLogger(__name__)

#: Largest inbound DHT message read, in bytes (py-libp2p: 4 MiB); larger ones reset the stream.
MAX_INBOUND_DHT_MESSAGE_BYTES = 64 * 1024
#: Addresses kept per provider record, a count (the first ones the provider listed).
MAX_PROVIDER_ADDRESSES = 4
#: Longest address kept in a provider record, in bytes of its binary multiaddr.
MAX_PROVIDER_ADDRESS_BYTES = 64
#: Provider records one providing peer may hold here, a count.
MAX_RECORDS_PER_PROVIDER = 1024
#: Provider records held in all, a count.
MAX_PROVIDER_RECORDS = 16_384


def refuse_large_messages() -> None:
    """Make py-libp2p's DHT stream handler refuse messages over ``MAX_INBOUND_DHT_MESSAGE_BYTES``
    from the length prefix (its module-level limit, read by ``KadDHT.handle_stream`` only; the
    lookups this node makes keep theirs)."""
    py_kad_dht.MAX_DHT_MESSAGE_SIZE = MAX_INBOUND_DHT_MESSAGE_BYTES  # type: ignore[attr-defined]


def refusing_validator() -> NamespacedValidator:
    """A value validator that accepts no key: every ``PUT_VALUE`` is refused."""
    return NamespacedValidator({}, strict_validation=True)


def _short(address: multiaddr.Multiaddr) -> bool:
    try:
        return len(address.to_bytes()) <= MAX_PROVIDER_ADDRESS_BYTES
    except Exception:  # noqa: BLE001 - an address that cannot be encoded is not kept
        return False


class BoundedProviderStore(ProviderStore):
    """py-libp2p's provider store with the bounds of the module docstring. The count of records
    per providing peer is kept as records come, and counted afresh whenever expired records are
    dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused = 0
        """Provider records not stored because of a bound (a count)."""
        self._held: Counter[str] = Counter()

    def _recount(self) -> None:
        self._held = Counter(pid for records in self.providers.values() for pid in records)

    def add_provider(self, key: bytes, provider: PeerInfo) -> None:
        if not provider or not provider.peer_id:
            return
        pid = str(provider.peer_id)
        addresses = provider.addrs
        if provider.peer_id != self.local_peer_id:
            addresses = [a for a in provider.addrs if _short(a)][:MAX_PROVIDER_ADDRESSES]
            if not addresses:
                self.refused += 1
                return
        new = pid not in self.providers.get(key, {})  # a refresh always replaces its record
        if new and (
            self._held[pid] >= MAX_RECORDS_PER_PROVIDER
            or self._held.total() >= MAX_PROVIDER_RECORDS
        ):
            self.refused += 1
            log.debug("provider record of %s refused: store bounds reached", pid)
            return
        super().add_provider(key, PeerInfo(provider.peer_id, addresses))
        if new and pid in self.providers.get(key, {}):
            self._held[pid] += 1

    def get_providers(self, key: bytes) -> list[PeerInfo]:
        before = len(self.providers.get(key, {}))
        found = super().get_providers(key)
        if len(self.providers.get(key, {})) != before:  # expired records were dropped
            self._recount()
        return found

    def cleanup_expired(self) -> None:
        super().cleanup_expired()
        self._recount()


def bounded_provider_store(kad: py_kad_dht.KadDHT) -> BoundedProviderStore:
    """Put a ``BoundedProviderStore`` in place of ``kad``'s (before its service starts)."""
    old = kad.provider_store
    store = BoundedProviderStore(host=old.host, peer_routing=old.peer_routing)
    kad.provider_store = store
    return store
