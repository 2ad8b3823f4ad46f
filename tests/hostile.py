"""Hostile peers for robustness tests: in memory (memnet) and as a real libp2p peer.

In memory (one trio process, virtual time)::

    async with new_swarm(tmp_path) as swarm:
        a = await swarm.add("a"); b = await swarm.add("b", limits=RateLimits(peer_burst=20))
        mallory = await swarm.hostile("mallory", b)      # a MemoryNetwork that accepts anything
        await mallory.publish(frame)

Real libp2p (TCP, Noise, yamux, gossipsub; py-libp2p in the test process, talking to node
processes started by ``tests.netharness``)::

    async with HostilePeer.open(seed) as mallory:
        target = await mallory.join(b.address)           # connected and subscribed both ways
        await mallory.publish(frame)                     # any bytes, even over the frame limit
        stream = await mallory.sync_stream(target)       # raw bytes on /pnyx/sync/1.0.0

The hostile peer validates nothing it receives and signs its gossip with its own libp2p key, as any
peer would: what makes it hostile is only what it sends. libp2p is imported lazily, so memnet tests
do not pay for it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.signing
import trio

from pnyx.app.config import NodeConfig
from pnyx.app.service import open_node
from pnyx.clock import wall_clock_ms
from pnyx.core import canonical
from pnyx.core.envelope import Message, sign
from pnyx.core.frame import decode_frame, validate_frame
from pnyx.core.limits import PROTOCOL_VERSION, SIGNATURE_DOMAIN
from pnyx.ingest.framecheck import check_frame
from pnyx.ingest.ratelimit import RateLimits
from pnyx.net.contracts import ByteStream, Verdict
from pnyx.net.memnet import MemoryHub, MemoryNetwork, open_memory_network
from pnyx.node.node import Node
from pnyx.runtime import Offload, inline
from pnyx.store import Store

if TYPE_CHECKING:
    from pnyx.gossip.adapter import Libp2pNetwork

#: Longest wait for a libp2p connection and topic subscription to be seen both ways, in seconds.
JOIN_TIMEOUT_S = 15.0
#: Polling interval of the in-memory relays below, in seconds.
POLL_S = 0.05


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def key(n: int) -> nacl.signing.SigningKey:
    """A deterministic signing key for small integers (a "fresh key" per n)."""
    return nacl.signing.SigningKey(n.to_bytes(32, "big"))


def chain(
    signer: nacl.signing.SigningKey,
    count: int,
    *,
    kind: str = "post",
    ts: int | None = None,
    text: str = "post",
) -> list[Message]:
    """``count`` messages of one author's feed, seq 1..count, correctly chained."""
    messages: list[Message] = []
    prev: bytes | None = None
    for seq in range(1, count + 1):
        body: dict[str, Any] = {"text": f"{text} {seq}"} if kind == "post" else {"n": seq}
        message = sign(
            signer, seq=seq, prev=prev, ts=now_ms() if ts is None else ts, kind=kind, body=body
        )
        prev = message.id
        messages.append(message)
    return messages


def signed_anyway(
    signer: nacl.signing.SigningKey,
    *,
    seq: int = 1,
    prev: bytes | None = None,
    ts: int,
    kind: str = "post",
    body: dict[str, Any] | None = None,
) -> bytes:
    """An envelope signed over whatever fields are given, even ones ``sign`` would refuse (a
    timestamp before 2020, say): what a hostile author can always produce."""
    author = bytes(signer.verify_key)
    payload = canonical.pack([PROTOCOL_VERSION, author, seq, prev, ts, kind, body or {"text": "x"}])
    return bytes(signer.sign(SIGNATURE_DOMAIN + payload).signature) + payload


# --- in memory ----------------------------------------------------------------------------------


@dataclass
class Peer:
    """One in-memory node with a real SQLite store."""

    key: nacl.signing.SigningKey
    store: Store
    node: Node

    @property
    def me(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def network(self) -> MemoryNetwork:
        network = self.node.network
        assert isinstance(network, MemoryNetwork)
        return network

    def post(self, text: str, *, at_ms: int | None = None) -> Message:
        return self.store.append_own(
            self.key, "post", {"text": text}, now_ms() if at_ms is None else at_ms
        )

    def follow(self, other: Peer) -> None:
        self.store.append_own(self.key, "follow", {"key": other.me}, now_ms())

    def texts(self, author: Peer) -> list[str]:
        items = self.store.feed(author.me, limit=1000).items
        return [s.message.text or "" for s in items if s.message.kind == "post"]


class CountingOffload:
    """``inline`` that counts the envelopes one node sends to signature verification."""

    def __init__(self) -> None:
        self.verified = 0

    async def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        if fn is validate_frame:
            self.verified += len(decode_frame(args[0]))
        elif fn is check_frame:  # the node's validator: (store, frame, now_ms, interest)
            self.verified += len(decode_frame(args[1]))
        return await inline(fn, *args)


class Swarm:
    """In-memory nodes (``open_node`` exactly as ``pnyx run`` does, memnet in place of libp2p)."""

    def __init__(self, tmp_path: Path, stack: AsyncExitStack) -> None:
        self.hub = MemoryHub()
        self.tmp_path = tmp_path
        self.stack = stack

    async def add(
        self,
        name: str,
        limits: RateLimits | None = None,
        offload: Offload = inline,
        *,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> Peer:
        signer = nacl.signing.SigningKey(name.encode().ljust(32, b"."))
        store = self.stack.enter_context(Store.open(self.tmp_path / f"{name}.db"))
        config = NodeConfig(rate_limits=limits or RateLimits())
        node = await self.stack.enter_async_context(
            open_node(
                config,
                store=store,
                me=bytes(signer.verify_key),
                network_factory=lambda v: open_memory_network(self.hub, name, v),
                offload=offload,
                clock_ms=clock_ms,
            )
        )
        return Peer(signer, store, node)

    async def hostile(self, name: str, target: Peer) -> MemoryNetwork:
        """A memnet peer that accepts everything, connected to ``target``."""

        async def accept_all(data: bytes, source: str) -> Verdict:
            return Verdict.ACCEPT

        network = await self.stack.enter_async_context(
            open_memory_network(self.hub, name, accept_all)
        )
        await network.connect(target.network.listen_addrs()[0])
        return network


@asynccontextmanager
async def new_swarm(tmp_path: Path) -> AsyncIterator[Swarm]:
    """Nodes added to the swarm stop when the block exits."""
    async with AsyncExitStack() as stack:
        yield Swarm(tmp_path, stack)


# --- real libp2p ----------------------------------------------------------------------------------


class HostilePeer:
    """A real libp2p peer driven by a test (see the module docstring)."""

    def __init__(self, network: Libp2pNetwork) -> None:
        self.network = network

    @classmethod
    @asynccontextmanager
    async def open(cls, seed: bytes) -> AsyncIterator[HostilePeer]:
        """Start the peer on 127.0.0.1 with the Ed25519 ``seed`` (32 bytes) as its identity."""
        from pnyx.gossip.adapter import open_libp2p_network

        async def accept_everything(data: bytes, forwarder: str) -> Verdict:
            return Verdict.ACCEPT

        async with open_libp2p_network(
            seed=seed, listen=["/ip4/127.0.0.1/tcp/0"], validator=accept_everything
        ) as network:
            yield cls(network)

    @property
    def peer_id(self) -> str:
        return self.network.peer_id

    async def join(self, address: str) -> str:
        """Connect to the node at ``address`` and wait until each side knows the other is on the
        gossip topic; returns the node's peer id."""
        target = await self.network.connect(address)
        with trio.fail_after(JOIN_TIMEOUT_S):
            while target not in self.network.topic_peers():
                await trio.sleep(POLL_S)
        return target

    def connected_to(self, peer: str) -> bool:
        return peer in {p.peer_id for p in self.network.peers()}

    async def publish(self, data: bytes) -> None:
        """Publish any bytes on the pnyx topic, past the adapter's own frame-size check."""
        from pnyx.net.contracts import POSTS_TOPIC

        await self.network._pubsub.publish(POSTS_TOPIC, data)

    async def publish_all(self, frames: Sequence[bytes], *, pause_s: float = 0.0) -> None:
        """Publish frames one after another (py-libp2p drops what its 32-RPC queues cannot take,
        so a flood is paced by ``pause_s`` or by the adapter's backpressure)."""
        for frame in frames:
            await self.network.publish(frame) if len(frame) <= 256 * 1024 else await self.publish(
                frame
            )
            if pause_s:
                await trio.sleep(pause_s)

    async def raw_stream(self, peer: str, protocol: str) -> ByteStream:
        """A raw stream of any ``protocol`` to ``peer``: send whatever bytes the test wants."""
        return await self.network.open_stream(peer, protocol)

    async def protocols_of(self, peer: str) -> list[str]:
        """The protocol ids ``peer``'s host serves (its multiselect handlers, as its identify
        answer lists them), waiting up to ``JOIN_TIMEOUT_S`` for identify to finish."""
        from libp2p.peer.id import ID
        from libp2p.peer.peerstore import PeerStoreError

        store = self.network._host.get_peerstore()
        with trio.fail_after(JOIN_TIMEOUT_S):
            while True:
                try:
                    protocols = list(store.get_protocols(ID.from_base58(peer)))
                except PeerStoreError:
                    protocols = []
                if protocols:
                    return protocols
                await trio.sleep(POLL_S)

    async def sync_stream(self, peer: str) -> ByteStream:
        """A raw stream of the sync protocol to ``peer``: send whatever bytes the test wants."""
        from pnyx.sync.limits import PROTOCOL_ID

        return await self.network.open_stream(peer, PROTOCOL_ID)


async def read_until_closed(stream: ByteStream, limit_s: float) -> tuple[bytes, bool]:
    """Everything the peer sends until it closes (True) or ``limit_s`` passes (False)."""
    from pnyx.net.errors import StreamClosedError

    received = bytearray()
    with trio.move_on_after(limit_s):
        try:
            while data := await stream.receive_some(65536):
                received += data
        except StreamClosedError:
            pass
        return bytes(received), True
    return bytes(received), False
