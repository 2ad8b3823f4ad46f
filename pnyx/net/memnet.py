"""An in-memory ``Network`` for fast tests: many nodes in one trio process, no sockets.

It mimics what the node relies on from gossipsub, not its mesh: a frame is validated by each node
that receives it, delivered and forwarded to every other connected peer only if the validator says
ACCEPT, and recognised as already seen by its ``frame_id``. Works under ``autojump_clock``.

Addresses look like ``/memory/p2p/<peer id>``. Usage::

    hub = MemoryHub()
    async with open_memory_network(hub, "A", validator) as net: ...
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio
import trio.testing

from pnyx.core.frame import frame_id
from pnyx.errors import UserError
from pnyx.net.contracts import (
    FRAME_ORIGIN,
    ByteStream,
    ConnectError,
    Direction,
    FoundBy,
    FoundPeer,
    PeerEvent,
    PeerInfo,
    Received,
    StreamClosedError,
    StreamHandler,
    Validator,
    Verdict,
    peer_id_of,
)
from pnyx.net.triostream import TrioStream

log = logging.getLogger(__name__)

#: Frames waiting to be validated by one node, a count (more are dropped, as py-libp2p does).
INBOX_FRAMES = 1024
#: Depth of the ``received`` and ``events`` channels, a count.
CHANNEL_DEPTH = 256


@dataclass
class MemoryHub:
    """The registry that lets in-memory networks find each other by peer id."""

    nodes: dict[str, MemoryNetwork] = field(default_factory=dict)
    # discovery: a stand-in for the DHT. Off unless a test turns it on; provider records stay
    # after their node leaves (as in a real DHT); ``authors`` maps an author key to its node.
    dht: bool = False
    providers: dict[bytes, list[str]] = field(default_factory=dict)
    authors: dict[bytes, str] = field(default_factory=dict)


class MemoryNetwork:
    """One node's view of the in-memory network (see ``pnyx.net.contracts.Network``)."""

    def __init__(self, hub: MemoryHub, peer_id: str, validator: Validator) -> None:
        self._hub = hub
        self._peer_id = peer_id
        self._validator = validator
        self._links: dict[str, Direction] = {}
        self._banned: dict[str, float] = {}
        self._seen: set[bytes] = set()
        self._handlers: dict[str, StreamHandler] = {}
        self._inbox_send, self._inbox = trio.open_memory_channel[tuple[bytes, str, str]](
            INBOX_FRAMES
        )
        self._received_send, self._received = trio.open_memory_channel[Received](CHANNEL_DEPTH)
        self._events_send, self._events = trio.open_memory_channel[PeerEvent](CHANNEL_DEPTH)
        self.found_send, self._found = trio.open_memory_channel[FoundPeer](CHANNEL_DEPTH)
        self._nursery: trio.Nursery | None = None
        self.dropped = 0
        """Frames dropped because an inbox was full (a count)."""
        self.published = 0

    @property
    def peer_id(self) -> str:
        return self._peer_id

    @property
    def received(self) -> trio.MemoryReceiveChannel[Received]:
        return self._received

    @property
    def events(self) -> trio.MemoryReceiveChannel[PeerEvent]:
        return self._events

    def listen_addrs(self) -> list[str]:
        return [f"/memory/p2p/{self._peer_id}"]

    def peers(self) -> list[PeerInfo]:
        return [self._info(peer) for peer in sorted(self._links)]

    def topic_peers(self) -> list[str]:
        return sorted(self._links)

    def mesh_peers(self) -> list[str]:
        return sorted(self._links)  # no mesh in memory: every link carries every frame

    def _info(self, peer: str) -> PeerInfo:
        return PeerInfo(peer, self._links.get(peer, Direction.UNKNOWN), f"/memory/p2p/{peer}")

    def _is_banned(self, peer: str) -> bool:
        until = self._banned.get(peer)
        if until is None:
            return False
        if trio.current_time() >= until:
            del self._banned[peer]
            return False
        return True

    def banned(self) -> list[str]:
        return sorted(peer for peer in list(self._banned) if self._is_banned(peer))

    async def connect(self, address: str) -> str:
        await trio.lowlevel.checkpoint()
        peer = peer_id_of(address)
        if peer is None or not address.startswith("/memory/"):
            raise UserError(f"not a memory address: {address}")
        if peer == self._peer_id:
            raise UserError("a node cannot connect to itself")
        remote = self._hub.nodes.get(peer)
        if remote is None:
            raise ConnectError(f"no node {peer} on this hub")
        if self._is_banned(peer) or remote._is_banned(self._peer_id):
            raise ConnectError(f"peer {peer} refused the connection")
        if peer not in self._links:
            self._link(peer, Direction.OUTBOUND)
            remote._link(self._peer_id, Direction.INBOUND)
        return peer

    def _link(self, peer: str, direction: Direction) -> None:
        self._links[peer] = direction
        self._emit(PeerEvent(self._info(peer), connected=True))

    def _unlink(self, peer: str) -> None:
        if peer in self._links:
            info = self._info(peer)
            del self._links[peer]
            self._emit(PeerEvent(info, connected=False))

    def _emit(self, event: PeerEvent) -> None:
        try:
            self._events_send.send_nowait(event)
        except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
            log.debug("peer event dropped: %s", event)

    async def disconnect(self, peer_id: str) -> None:
        await trio.lowlevel.checkpoint()
        self._cut(peer_id)

    def _cut(self, peer_id: str) -> None:
        self._unlink(peer_id)
        remote = self._hub.nodes.get(peer_id)
        if remote is not None:
            remote._unlink(self._peer_id)

    async def ban(self, peer_id: str, seconds: float) -> None:
        self._banned[peer_id] = trio.current_time() + seconds
        await self.disconnect(peer_id)

    async def publish(self, frame: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self._seen.add(frame_id(frame))
        self.published += 1
        self._forward(frame, self._peer_id, self._peer_id)

    def _forward(self, frame: bytes, forwarder: str, origin: str) -> None:
        for peer in list(self._links):
            if peer in (forwarder, origin):
                continue
            remote = self._hub.nodes.get(peer)
            if remote is None:
                continue
            try:
                remote._inbox_send.send_nowait((frame, self._peer_id, origin))
            except trio.WouldBlock:
                remote.dropped += 1

    async def _process_inbox(self) -> None:
        async for frame, forwarder, origin in self._inbox:
            if forwarder not in self._links or self._is_banned(forwarder):
                continue
            if self._is_banned(origin):  # as libp2p: a banned peer's frames are dropped anywhere
                continue
            fid = frame_id(frame)
            if fid in self._seen:
                continue
            self._seen.add(fid)
            token = FRAME_ORIGIN.set(origin)
            try:
                verdict = await self._validator(frame, forwarder)
            except Exception:
                log.exception("validator raised (treated as a rejection)")
                verdict = Verdict.REJECT
            finally:
                FRAME_ORIGIN.reset(token)
            if verdict is not Verdict.ACCEPT:
                continue
            await self._received_send.send(Received(frame, origin))
            self._forward(frame, forwarder, origin)

    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None:
        self._handlers[protocol] = handler

    # --- discovery: the hub's stand-in DHT (``MemoryHub.dht``); ``found_send`` feeds ``found`` ---

    @property
    def found(self) -> trio.MemoryReceiveChannel[FoundPeer]:
        return self._found

    def peer_addresses(self, peer_id: str) -> list[str]:
        return [f"/memory/p2p/{peer_id}"] if peer_id in self._hub.nodes else []

    def author_peer_id(self, author: bytes) -> str | None:
        return self._hub.authors.get(author)

    async def provide(self, author: bytes) -> bool:
        await trio.lowlevel.checkpoint()
        if not self._hub.dht or not self._links:
            return False
        holders = self._hub.providers.setdefault(author, [])
        if self._peer_id not in holders:
            holders.append(self._peer_id)
        return True

    async def find_providers(self, author: bytes, limit: int) -> list[FoundPeer]:
        await trio.lowlevel.checkpoint()
        if not self._hub.dht or not self._links:
            return []
        holders = [p for p in self._hub.providers.get(author, []) if p != self._peer_id]
        return [self._found_peer(p) for p in holders[:limit]]

    async def find_peer(self, peer_id: str) -> FoundPeer | None:
        await trio.lowlevel.checkpoint()
        if not self._hub.dht or not self._links or peer_id not in self._hub.nodes:
            return None
        return self._found_peer(peer_id)

    async def sample_peers(self, limit: int) -> list[FoundPeer]:
        await trio.lowlevel.checkpoint()
        if not self._hub.dht or not self._links:
            return []
        others = sorted(p for p in self._hub.nodes if p != self._peer_id)
        return [self._found_peer(p) for p in others[:limit]]

    def protected_peers(self) -> frozenset[str]:
        return frozenset()

    def reachability(self) -> dict[str, Any]:
        return {"status": "unknown", "shown": "unknown", "relays": []}

    def discovery_stats(self) -> dict[str, int]:
        return {"dht_routing_table": len(self._hub.nodes) - 1 if self._hub.dht else 0}

    @staticmethod
    def _found_peer(peer_id: str) -> FoundPeer:
        return FoundPeer(peer_id, (f"/memory/p2p/{peer_id}",), FoundBy.DHT)

    async def open_stream(self, peer_id: str, protocol: str) -> ByteStream:
        await trio.lowlevel.checkpoint()
        remote = self._hub.nodes.get(peer_id)
        if remote is None or peer_id not in self._links or remote._nursery is None:
            raise ConnectError(f"not connected to {peer_id}")
        handler = remote._handlers.get(protocol)
        if handler is None:
            raise ConnectError(f"{peer_id} does not speak {protocol}")
        mine, theirs = trio.testing.memory_stream_pair()
        remote._nursery.start_soon(_serve_stream, handler, TrioStream(theirs), self._peer_id)
        return TrioStream(mine)


async def _serve_stream(handler: StreamHandler, stream: TrioStream, peer: str) -> None:
    try:
        await handler(stream, peer)
    except StreamClosedError as exc:
        log.debug("stream from %s ended: %s", peer, exc)
    finally:
        await stream.close()


@asynccontextmanager
async def open_memory_network(
    hub: MemoryHub, peer_id: str, validator: Validator
) -> AsyncIterator[MemoryNetwork]:
    """Join ``hub`` as ``peer_id``; leaving disconnects every peer."""
    if peer_id in hub.nodes:
        raise UserError(f"peer id {peer_id} is taken on this hub")
    network = MemoryNetwork(hub, peer_id, validator)
    async with trio.open_nursery() as nursery:
        network._nursery = nursery
        hub.nodes[peer_id] = network
        nursery.start_soon(network._process_inbox)
        try:
            yield network
        finally:
            for peer in list(network._links):
                network._cut(peer)
            del hub.nodes[peer_id]
            network._nursery = None
            nursery.cancel_scope.cancel()
