"""What the node needs from a peer-to-peer network, with no libp2p in sight.

Two implementations satisfy ``Network``: ``pnyx.gossip.adapter`` (py-libp2p: TCP, Noise, yamux,
gossipsub; the only place that imports libp2p) and ``pnyx.net.memnet`` (an in-memory network for
fast tests, many nodes in one trio process). Node logic (``pnyx.node.node``) sees only this module.

Contract shared by both:

* Peers are named by text peer ids; addresses are text (multiaddrs for libp2p).
* There is one gossip topic. Every frame a peer sends is first given to the validator the network
  was opened with; only ``Verdict.ACCEPT`` frames are delivered on ``received`` and forwarded.
  Frames this node publishes itself are not validated again and not delivered back. While the
  validator runs, ``FRAME_ORIGIN`` holds the peer id that published the frame (if known).
* ``publish`` applies backpressure: it waits (bounded) while outbound queues are nearly full
  instead of letting frames be dropped silently.
* ``received`` and ``events`` are bounded channels; the node must consume them promptly.
* Streams of other protocols (sync) carry bytes through ``ByteStream``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Protocol, runtime_checkable

import trio

from pnyx.net.errors import ConnectError, PeerStreamError, StreamClosedError

__all__ = [
    "POSTS_TOPIC",
    "ByteStream",
    "FRAME_ORIGIN",
    "ConnectError",
    "Direction",
    "FoundBy",
    "FoundPeer",
    "Network",
    "PeerEvent",
    "PeerInfo",
    "Received",
    "ReportsFaults",
    "StreamClosedError",
    "StreamHandler",
    "Validator",
    "Verdict",
    "peer_id_of",
]

#: The one gossip topic every pnyx node joins (docs/architecture.md, "Topic layout").
POSTS_TOPIC = "/pnyx/1/posts"


class Verdict(Enum):
    """What a validator decided about a frame."""

    ACCEPT = "accept"
    """Valid: deliver it to the node and forward it to other peers."""
    REJECT = "reject"
    """Invalid by rules every honest peer applies: drop it; the sending peer loses standing."""
    IGNORE = "ignore"
    """Not acceptable here (depends on this node's clock or store): drop it, no penalty."""


#: The validator a network is opened with: ``(frame bytes, forwarding peer id) -> Verdict``.
#: It must never raise; networks treat an exception as REJECT and log it as a bug.
Validator = Callable[[bytes, str], Awaitable[Verdict]]

#: While a network awaits its validator, the peer id that published the frame (libp2p: the
#: gossip message's ``from``, whose signature pubsub checked before validation), or None where
#: the network cannot tell. Set and reset by the network around each validator call, so a
#: validator reads it without a change to the ``Validator`` signature (robustness: forks).
FRAME_ORIGIN: ContextVar[str | None] = ContextVar("pnyx_frame_origin", default=None)


class Direction(Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A connected peer: id, who dialled whom, and the address of the connection (if known)."""

    peer_id: str
    direction: Direction
    address: str | None = None


@dataclass(frozen=True, slots=True)
class PeerEvent:
    """A peer connected (``connected`` True) or its last connection closed."""

    peer: PeerInfo
    connected: bool


class FoundBy(StrEnum):
    """How a peer was found (discovery; docs/architecture.md, "Discovery")."""

    BOOTSTRAP = "bootstrap"
    PEERBOOK = "peerbook"
    MDNS = "mdns"
    DHT = "dht"
    PX = "px"
    INBOUND = "inbound"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class FoundPeer:
    """A peer learned by discovery: its id, where to dial it (multiaddrs ending in
    ``/p2p/<peer_id>``, best first) and how it was found."""

    peer_id: str
    addresses: tuple[str, ...]
    source: FoundBy


@dataclass(frozen=True, slots=True)
class Received:
    """A validated frame: its bytes and the peer id of the node that first published it."""

    data: bytes
    origin: str


class ByteStream(Protocol):
    """A reliable, ordered byte stream to one peer (a libp2p stream over yamux, or in memory)."""

    async def receive_some(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` at end of stream. Raises ``StreamClosedError``."""
        ...

    async def send_all(self, data: bytes) -> None:
        """Send every byte of ``data``. Raises ``StreamClosedError``."""
        ...

    async def send_eof(self) -> None:
        """Close the sending half; the peer reads ``b""`` after what was sent."""
        ...

    async def close(self) -> None:
        """Close both halves. Never raises for an already broken stream."""
        ...


#: Handler of incoming streams of one protocol: ``(stream, remote peer id)``. The stream is closed
#: when the handler returns. A ``RemoteError`` it raises is logged and ends only that stream.
StreamHandler = Callable[[ByteStream, str], Awaitable[None]]


@runtime_checkable
class ReportsFaults(Protocol):
    """A network that can tell which peer sent bytes its protocol handlers could not take
    (``pnyx.gossip.guard``); the node counts each as a penalty."""

    def report_faults_to(self, on_fault: Callable[[str, PeerStreamError], None]) -> None: ...


class Network(Protocol):
    """A started network (inside its async context manager)."""

    @property
    def peer_id(self) -> str: ...

    @property
    def received(self) -> trio.MemoryReceiveChannel[Received]:
        """Validated frames from other peers, in arrival order."""
        ...

    @property
    def events(self) -> trio.MemoryReceiveChannel[PeerEvent]:
        """Peers coming and going."""
        ...

    def listen_addrs(self) -> list[str]:
        """Addresses others can dial, each ending in this node's peer id."""
        ...

    def peers(self) -> list[PeerInfo]:
        """Connected peers."""
        ...

    def topic_peers(self) -> list[str]:
        """Peer ids known to be subscribed to the gossip topic (gossip reaches only these)."""
        ...

    def mesh_peers(self) -> list[str]:
        """Peer ids in this node's gossip mesh for the topic (full messages go to these; the
        mesh is rebuilt at each gossipsub heartbeat)."""
        ...

    async def connect(self, address: str) -> str:
        """Dial ``address`` (which names the peer id) and return the peer id.

        Raises ``UserError`` for an unusable address, ``ConnectError`` if the dial fails.
        """
        ...

    async def disconnect(self, peer_id: str) -> None:
        """Close every connection to the peer (bounded in time; never hangs on a stalled peer)."""
        ...

    async def ban(self, peer_id: str, seconds: float) -> None:
        """Disconnect the peer and refuse it (inbound, outbound and its gossip) for ``seconds``."""
        ...

    def banned(self) -> list[str]:
        """Peer ids refused right now."""
        ...

    async def publish(self, frame: bytes) -> None:
        """Send a frame to the topic, waiting (bounded) while outbound queues are nearly full."""
        ...

    def set_stream_handler(self, protocol: str, handler: StreamHandler) -> None: ...

    # --- discovery (pnyx.discovery.service; docs/architecture.md, "Discovery") ------------------

    @property
    def found(self) -> trio.MemoryReceiveChannel[FoundPeer]:
        """Peers the network learned by itself (mDNS on the LAN, gossipsub peer exchange)."""
        ...

    def peer_addresses(self, peer_id: str) -> list[str]:
        """Dialable addresses known for a peer (identify, DHT), each ending in ``/p2p/ID``."""
        ...

    def author_peer_id(self, author: bytes) -> str | None:
        """The peer id of the node whose node key is ``author``'s key, if there can be one."""
        ...

    async def provide(self, author: bytes) -> bool:
        """Announce in the DHT that this node holds ``author``'s feed. False when no peer took
        the announcement (or there is no DHT). Never raises for network failures."""
        ...

    async def find_providers(self, author: bytes, limit: int) -> list[FoundPeer]:
        """Other nodes that announced ``author``'s feed: de-duplicated, at most ``limit``."""
        ...

    async def find_peer(self, peer_id: str) -> FoundPeer | None:
        """Addresses of a peer by its id (routing table, peer store, then a DHT lookup)."""
        ...

    async def sample_peers(self, limit: int) -> list[FoundPeer]:
        """Peers met walking the DHT (a lookup of a random key), at most ``limit``."""
        ...

    def discovery_stats(self) -> dict[str, int]:
        """Counters of the network's discovery parts (routing table size, mDNS finds, ...)."""
        ...

    def protected_peers(self) -> frozenset[str]:
        """Peers whose connections carry relay service (reservations held with us, circuits
        through us, our own relays): never trimmed as strangers. Bounded by the relay limits."""
        ...

    def reachability(self) -> dict[str, Any]:
        """Whether others can dial this node (``pnyx.net.reachability``): ``status``
        ("reachable", "behind NAT", "unknown"), ``shown`` (the status with its relays, in
        words), ``relays`` (peer ids holding a reservation for this node) and counters."""
        ...

    async def open_stream(self, peer_id: str, protocol: str) -> ByteStream:
        """Open a stream of ``protocol`` to a connected (or dialable) peer.

        Raises ``ConnectError`` if the peer cannot be reached or does not speak the protocol.
        """
        ...


def peer_id_of(address: str) -> str | None:
    """The peer id an address names (the text after its last ``/p2p/``), or None."""
    _, sep, tail = address.rpartition("/p2p/")
    if not sep or not tail or "/" in tail:
        return None
    return tail
