"""Who holds a feed: py-libp2p's Kademlia DHT (``/ipfs/kad/1.0.0``, server mode) for pnyx.

**Key of a feed.** A node holding the messages of author ``A`` (32-byte Ed25519 public key)
announces itself as a *provider* of the DHT key::

    feed_key(A) = 0x12 0x20 || SHA-256(b"/pnyx/feed/1/" || A)

that is, the sha2-256 multihash (code 0x12, length 0x20) of the domain-separated author key; as a
CID it is CIDv1 ``raw`` (0x55) of that multihash. The prefix keeps pnyx's keys apart from any other
use of the same public key in a shared DHT, and the version in it lets a future key scheme live
next to this one. Kademlia distance is py-libp2p's: XOR of SHA-256(key) and SHA-256(peer id).

**Key of a node.** With ``node_key = "identity"`` the author's key is its node's libp2p key, so
``author_peer_id(A)`` (the identity-multihash peer id ``12D3KooW...`` of ``A``) finds the author's
own node with ``find_peer``; a node with a separate key is found only as a provider.

What this module adds to py-libp2p 0.8.1 (LIBP2P-NOTES.md):

* peers are put in the routing table when they connect (py-libp2p adds only peers met in DHT
  queries), once identify says they speak the DHT protocol (``peer_connected``);
* ``find_providers`` asks the network every time: py-libp2p's own returns its local cache as soon
  as it holds any record for the key (its own announcement included), so a node that holds a feed
  would never learn of other holders;
* answers are de-duplicated by peer id, stripped of this node and of undialable addresses
  (``0.0.0.0``, non-TCP), and bounded (``MAX_ADDRESSES_PER_PEER``, the caller's ``limit``).

Nothing here raises for a network failure: provide returns False, lookups return what they got.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import multiaddr
import trio
from libp2p.abc import IHost
from libp2p.kad_dht import DHTMode, KadDHT
from libp2p.kad_dht.common import PROTOCOL_ID as KAD_PROTOCOL_ID
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStoreError
from libp2p.tools.anyio_service import background_trio_service

from pnyx.gossip.addresses import local_ipv4
from pnyx.gossip.dht_bounds import (
    bounded_provider_store,
    refuse_large_messages,
    refusing_validator,
)
from pnyx.net.contracts import FoundBy, FoundPeer

log = logging.getLogger(__name__)

#: Domain-separation prefix of feed keys (see the module docstring).
FEED_KEY_PREFIX = b"/pnyx/feed/1/"
#: Multihash header of a sha2-256 digest: function code 0x12, length 32.
SHA2_256_MULTIHASH = bytes([0x12, 0x20])
#: Length of an author key, in bytes.
AUTHOR_KEY_BYTES = 32
#: Longest wait for identify to name a new peer's protocols, in seconds.
IDENTIFY_WAIT_S = 5.0
#: How often the peer store is checked while waiting for identify, in seconds.
IDENTIFY_POLL_S = 0.05
#: Most addresses kept per peer in an answer, a count.
MAX_ADDRESSES_PER_PEER = 8
#: Closest peers asked for providers in one lookup, a count.
PROVIDER_QUERY_PEERS = 8
#: Peers asked for providers at once, a count.
PROVIDER_QUERY_PARALLEL = 4
#: Longest one GET_PROVIDERS exchange may take, in seconds.
PROVIDER_QUERY_TIMEOUT_S = 10.0
#: How long this machine's outgoing IPv4 address is reused for announcements, in seconds
#: (py-libp2p asks for the host's addresses on every DHT message).
LOCAL_IP_CACHE_S = 30.0

#: What py-libp2p's DHT code raises on network trouble: many unrelated types (stream, swarm,
#: protobuf, multiaddr errors), so every one is caught, logged and treated as "no answer".
_ERRORS: tuple[type[Exception], ...] = (Exception,)

_Adder = Callable[[Iterable[PeerInfo]], None]


def feed_key(author: bytes) -> bytes:
    """The DHT key under which holders of ``author``'s feed are announced (34 bytes)."""
    if len(author) != AUTHOR_KEY_BYTES:
        raise ValueError(f"an author key is {AUTHOR_KEY_BYTES} bytes")
    return SHA2_256_MULTIHASH + hashlib.sha256(FEED_KEY_PREFIX + author).digest()


def dialable(addresses: Iterable[multiaddr.Multiaddr | str], peer_id: str) -> tuple[str, ...]:
    """Text addresses ending in ``/p2p/<peer_id>``: TCP over IPv4/IPv6, not a wildcard address,
    or such an address of a relay followed by ``/p2p/RELAY/p2p-circuit`` (NAT reach); duplicates
    and extra ``/p2p`` parts removed; at most ``MAX_ADDRESSES_PER_PEER``. Addresses that do not
    parse (a peer may have sent any bytes: identify, the DHT) are skipped."""
    result: list[str] = []
    for address in addresses:
        try:
            text = str(address)
        except (ValueError, multiaddr.exceptions.Error):  # a peer's bytes (parsed lazily)
            continue
        relay, circuit, _ = text.partition("/p2p-circuit")
        base, _, relay_id = relay.partition("/p2p/")
        parts = base.split("/")
        if len(parts) != 5 or parts[1] not in ("ip4", "ip6") or parts[3] != "tcp":
            continue
        if parts[2] in ("0.0.0.0", "::"):
            continue
        if circuit:
            if not relay_id or "/" in relay_id or relay_id == peer_id:
                continue
            base = f"{base}/p2p/{relay_id}/p2p-circuit"
        full = f"{base}/p2p/{peer_id}"
        if full not in result:
            result.append(full)
    return tuple(result[:MAX_ADDRESSES_PER_PEER])


class _LocalIps:
    """This machine's outgoing IPv4 address, asked again after ``LOCAL_IP_CACHE_S``."""

    def __init__(self) -> None:
        self._at = -LOCAL_IP_CACHE_S
        self._ips: list[str] = []

    def __call__(self) -> list[str]:
        now = time.monotonic()
        if now - self._at >= LOCAL_IP_CACHE_S:
            self._at, self._ips = now, local_ipv4()
        return self._ips


_local_ips = _LocalIps()


def announced_addrs(candidates: list[multiaddr.Multiaddr]) -> list[multiaddr.Multiaddr]:
    """The host's ``addrs_factory``: what identify, the DHT and mDNS announce. A wildcard listen
    address (``0.0.0.0``) becomes this machine's outgoing IPv4 address and loopback, in that order;
    py-libp2p would announce ``0.0.0.0`` itself, which no peer can dial."""
    result: list[multiaddr.Multiaddr] = []
    for address in candidates:
        text = str(address)
        if text.startswith("/ip4/0.0.0.0/"):
            for ip in [*_local_ips(), "127.0.0.1"]:
                result.append(multiaddr.Multiaddr(text.replace("0.0.0.0", ip, 1)))
        else:
            result.append(address)
    return result


def known_addresses(host: IHost, peer_id: str) -> list[str]:
    """Dialable addresses the peer store holds for ``peer_id`` (from identify or the DHT)."""
    try:
        addrs = host.get_peerstore().addrs(ID.from_base58(peer_id))
    except (PeerStoreError, ValueError):
        return []
    return list(dialable(addrs, peer_id))


class FeedDht:
    """Provide and find feeds, find peers, walk the DHT (see the module docstring)."""

    def __init__(self, host: IHost, kad: KadDHT) -> None:
        self._host = host
        self._kad = kad
        self._me = host.get_id()

    async def switch_mode(self, client: bool) -> None:
        """Client (True: ask, answer nobody) or server mode, at once."""
        await self._kad.switch_mode(DHTMode.CLIENT if client else DHTMode.SERVER)

    def routing_table_size(self) -> int:
        return self._kad.get_routing_table_size()

    async def peer_connected(self, peer: ID) -> None:
        """Put a newly connected peer in the routing table once identify shows it speaks the DHT
        protocol (bounded wait; a peer that does not is left out)."""
        store = self._host.get_peerstore()
        with trio.move_on_after(IDENTIFY_WAIT_S):
            while True:
                try:
                    protocols = store.get_protocols(peer)
                except PeerStoreError:
                    protocols = []
                if protocols:
                    break
                await trio.sleep(IDENTIFY_POLL_S)
        try:
            if str(KAD_PROTOCOL_ID) in store.get_protocols(peer):
                await self._kad.add_peer(peer)
        except PeerStoreError:
            log.debug("no identify answer from %s: left out of the routing table", peer)

    async def provide(self, author: bytes) -> bool:
        """Announce this node as a holder of ``author``'s feed; True if a peer took it."""
        try:
            return bool(await self._kad.provider_store.provide(feed_key(author)))
        except _ERRORS as exc:
            log.debug("announcing a feed failed: %r", exc)
            return False

    async def find_providers(self, author: bytes, limit: int) -> list[FoundPeer]:
        """Holders of ``author``'s feed other than this node, at most ``limit``: the records
        this node keeps for the key, then the answers of the closest peers."""
        key = feed_key(author)
        found: dict[ID, list[multiaddr.Multiaddr]] = {}

        def add(infos: Iterable[PeerInfo]) -> None:
            for info in infos:
                if info.peer_id != self._me and len(found) < limit:
                    found.setdefault(info.peer_id, []).extend(info.addrs)

        add(self._kad.provider_store.get_providers(key))
        try:
            closest = await self._kad.peer_routing.find_closest_peers_network(key)
        except _ERRORS as exc:
            log.debug("DHT lookup failed: %r", exc)
            closest = []
        asked = [p for p in closest if p != self._me][:PROVIDER_QUERY_PEERS]
        for start in range(0, len(asked), PROVIDER_QUERY_PARALLEL):
            if len(found) >= limit:
                break
            async with trio.open_nursery() as nursery:
                for peer in asked[start : start + PROVIDER_QUERY_PARALLEL]:
                    nursery.start_soon(self._ask_providers, peer, key, add)
        return [
            FoundPeer(peer.to_base58(), addresses, FoundBy.DHT)
            for peer, addrs in found.items()
            if (addresses := dialable(addrs, peer.to_base58()))
        ]

    async def _ask_providers(self, peer: ID, key: bytes, add: _Adder) -> None:
        store = self._kad.provider_store
        with trio.move_on_after(PROVIDER_QUERY_TIMEOUT_S):
            try:
                providers, _closer = await store._get_providers_from_peer_with_closers(peer, key)
            except _ERRORS as exc:
                log.debug("GET_PROVIDERS to %s failed: %r", peer, exc)
                return
            add(providers)

    async def find_peer(self, peer_id: str) -> FoundPeer | None:
        """Addresses of ``peer_id`` (routing table, peer store, then a DHT lookup)."""
        try:
            target = ID.from_base58(peer_id)
        except ValueError:
            return None
        try:
            info = await self._kad.find_peer(target)
        except _ERRORS as exc:
            log.debug("finding %s failed: %r", peer_id, exc)
            return None
        addresses = dialable(info.addrs, peer_id) if info is not None else ()
        return FoundPeer(peer_id, addresses, FoundBy.DHT) if addresses else None

    async def sample_peers(self, limit: int) -> list[FoundPeer]:
        """Look up a random key; return the peers met that have dialable addresses."""
        try:
            met = await self._kad.peer_routing.find_closest_peers_network(os.urandom(32))
        except _ERRORS as exc:
            log.debug("DHT walk failed: %r", exc)
            met = []
        result: list[FoundPeer] = []
        for peer in met:
            if peer == self._me or len(result) >= limit:
                continue
            addresses = known_addresses(self._host, peer.to_base58())
            if addresses:
                result.append(FoundPeer(peer.to_base58(), tuple(addresses), FoundBy.DHT))
        return result


@asynccontextmanager
async def open_feed_dht(host: IHost, *, client: bool = False) -> AsyncIterator[FeedDht]:
    """Run py-libp2p's KadDHT in server mode on ``host`` (which must be running) while the block
    runs. Its own random walk is off: ``sample_peers`` does the walking. What it keeps for others
    is bounded (``pnyx.gossip.dht_bounds``): messages, provider records, no values. ``client``:
    DHT client mode (it asks, and answers nobody: nothing is kept for others)."""
    refuse_large_messages()
    kad = KadDHT(
        host,
        DHTMode.CLIENT if client else DHTMode.SERVER,
        enable_random_walk=False,
        validator=refusing_validator(),
        strict_validation=True,
    )
    bounded_provider_store(kad)
    async with background_trio_service(kad):
        yield FeedDht(host, kad)
