"""The discovery half of the libp2p adapter: DHT, mDNS and peer exchange behind ``Network``.

py-libp2p's own auto-connector is turned off here: pnyx's dialer (``pnyx.discovery.dialer``) decides
which peers to dial and when.

``FindingMixin`` gives ``pnyx.gossip.adapter.Libp2pNetwork`` the discovery methods of
``pnyx.net.contracts.Network``; ``start_finding`` starts the parts the configuration asks for once
the host listens (``open_libp2p_network`` enters it). With the DHT off the methods answer
"nothing" (False, [], None); with mDNS off nothing binds UDP port 5353.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID

from pnyx.gossip.dht import FeedDht, known_addresses, open_feed_dht
from pnyx.gossip.identity import peer_id_of_public_key
from pnyx.gossip.mdns import MdnsStats, open_mdns
from pnyx.gossip.px import PxGossipSub
from pnyx.net.contracts import FoundPeer

log = logging.getLogger(__name__)

#: Depth of the ``found`` channel, a count (more finds are dropped and counted).
FOUND_DEPTH = 64


class FindingMixin:
    """Discovery methods of ``Libp2pNetwork`` (see ``pnyx.net.contracts.Network``)."""

    _host: IHost

    def _init_finding(self) -> None:
        self._dht: FeedDht | None = None
        self._dht_configured_client = False
        self._mdns: MdnsStats | None = None
        self._px: PxGossipSub | None = None
        self._found_send, self._found = trio.open_memory_channel[FoundPeer](FOUND_DEPTH)
        self.found_dropped = 0

    @property
    def found(self) -> trio.MemoryReceiveChannel[FoundPeer]:
        return self._found

    def _deliver_found(self, found: FoundPeer) -> None:
        """Called in trio's thread by mDNS and PX; never blocks."""
        try:
            self._found_send.send_nowait(found)
        except trio.WouldBlock:
            self.found_dropped += 1

    def peer_addresses(self, peer_id: str) -> list[str]:
        return known_addresses(self._host, peer_id)

    def author_peer_id(self, author: bytes) -> str | None:
        try:
            return peer_id_of_public_key(author)
        except ValueError:
            return None

    async def provide(self, author: bytes) -> bool:
        if self._dht is None:
            await trio.lowlevel.checkpoint()
            return False
        return await self._dht.provide(author)

    async def find_providers(self, author: bytes, limit: int) -> list[FoundPeer]:
        if self._dht is None:
            await trio.lowlevel.checkpoint()
            return []
        return await self._dht.find_providers(author, limit)

    async def find_peer(self, peer_id: str) -> FoundPeer | None:
        if self._dht is None:
            await trio.lowlevel.checkpoint()
            return None
        return await self._dht.find_peer(peer_id)

    async def sample_peers(self, limit: int) -> list[FoundPeer]:
        if self._dht is None:
            await trio.lowlevel.checkpoint()
            return []
        return await self._dht.sample_peers(limit)

    def discovery_stats(self) -> dict[str, int]:
        stats = {"found_dropped": self.found_dropped}
        if self._dht is not None:
            stats["dht_routing_table"] = self._dht.routing_table_size()
        if self._mdns is not None:
            stats.update(mdns_found=self._mdns.found, mdns_ignored=self._mdns.ignored)
        if self._px is not None:
            stats["px_received"] = self._px.px_received
        return stats

    async def _dht_client_mode(self, client: bool) -> None:
        """NAT reach: the DHT in client mode while behind NAT, back to the configured mode
        after (``dht_mode = "client"`` stays client)."""
        if self._dht is not None and not self._dht_configured_client:
            await self._dht.switch_mode(client)

    def _finding_peer_connected(self, nursery: trio.Nursery | None, peer: ID) -> None:
        """A peer connected: the DHT may take it into its routing table (after identify)."""
        if self._dht is not None and nursery is not None:
            nursery.start_soon(self._dht.peer_connected, peer)


async def _stop_auto_connector(host: IHost) -> None:
    """Turn py-libp2p's auto-connector off: pnyx's dialer keeps ``target_connections``. Left on,
    it dials every peer of the peer store (every address learned from identify, the DHT or PX,
    banned peers included) every 30 s until 40 connections (the middle of the watermarks), with
    no regard for pnyx's backoff, target or bans."""
    connector: Any = getattr(host.get_network(), "auto_connector", None)
    if connector is not None:
        await connector.stop()


@asynccontextmanager
async def start_finding(
    network: FindingMixin,
    host: IHost,
    gossipsub: PxGossipSub,
    *,
    listen: Sequence[str],
    announce: Sequence[str],
    dht: bool,
    mdns: bool,
    dht_mode: str = "server",
) -> AsyncIterator[None]:
    """Run the DHT and mDNS (as configured) and report PX peers while the block runs; the host
    must be listening. If mDNS cannot start (UDP port 5353 unusable) the node runs without it."""
    network._px = gossipsub
    gossipsub.on_px = network._deliver_found
    await _stop_auto_connector(host)
    network._dht_configured_client = dht_mode == "client"
    async with AsyncExitStack() as stack:
        if dht:
            network._dht = await stack.enter_async_context(
                open_feed_dht(host, client=dht_mode == "client")
            )
        if mdns:
            try:
                network._mdns = await stack.enter_async_context(
                    open_mdns(host.get_id().to_base58(), listen, announce, network._deliver_found)
                )
            except (OSError, trio.TooSlowError) as exc:  # the node runs on without LAN finds
                log.warning("LAN discovery (mDNS) is off: it could not start (%s)", exc)
        try:
            yield
        finally:
            gossipsub.on_px = None
            network._dht = None
