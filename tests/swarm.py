"""A swarm of real nodes (a ``Node`` with a real store and a ``SyncScheduler``, wired as
``open_node`` does) on the in-memory network, for tests in virtual time (``autojump_clock``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing
import trio

from pnyx.catchup.scheduler import SyncScheduler
from pnyx.clock import wall_clock_ms
from pnyx.core.envelope import Message, decode, sign
from pnyx.ingest.ratelimit import RateLimits
from pnyx.net.memnet import MemoryHub, MemoryNetwork, open_memory_network
from pnyx.node.node import Node
from pnyx.node.republish import OnlineMark
from pnyx.runtime import inline
from pnyx.store import Store

now_ms = wall_clock_ms

#: Virtual-time cap of each test, in seconds.
CAP_S = 300


@dataclass
class Peer:
    name: str
    key: nacl.signing.SigningKey
    store: Store
    node: Node
    syncer: SyncScheduler
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    stopped: trio.Event = field(default_factory=trio.Event)

    @property
    def me(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def address(self) -> str:
        return f"/memory/p2p/{self.name}"

    @property
    def network(self) -> MemoryNetwork:
        network = self.node.network
        assert isinstance(network, MemoryNetwork)
        return network

    def post(self, text: str) -> Message:
        return self.store.append_own(self.key, "post", {"text": text}, now_ms())

    def follow(self, other: Peer) -> None:
        self.store.append_own(self.key, "follow", {"key": other.me}, now_ms())

    def texts(self, author: Peer) -> list[str]:
        items = self.store.feed(author.me, limit=1000).items
        return [s.message.text or "" for s in reversed(items) if s.message.kind == "post"]

    async def connect(self, other: Peer) -> None:
        await self.node.connect(other.address)

    async def stop(self) -> None:
        self.scope.cancel()
        await self.stopped.wait()


class Swarm:
    def __init__(self, tmp_path: Path, nursery: trio.Nursery) -> None:
        self.hub = MemoryHub()
        self.tmp_path = tmp_path
        self.nursery = nursery
        self.peers: list[Peer] = []

    async def add(
        self,
        name: str,
        *,
        key: nacl.signing.SigningKey | None = None,
        on_connect: bool = True,
        interval_s: float = 3600.0,
        idle_timeout: float = 30.0,
        store: Store | None = None,
        rate_limits: RateLimits | None = None,
        online_mark: OnlineMark | None = None,
    ) -> Peer:
        key = key or nacl.signing.SigningKey(name.encode().ljust(32, b"."))
        if store is None:
            store = Store.open(self.tmp_path / f"{name}.db")
        node = Node(
            store=store,
            me=bytes(key.verify_key),
            offload=inline,
            rate_limits=rate_limits,
            online_mark=online_mark,
        )
        syncer = SyncScheduler(
            node, on_connect=on_connect, interval_s=interval_s, idle_timeout=idle_timeout
        )
        peer = Peer(name, key, store, node, syncer)
        self.peers.append(peer)
        await self.nursery.start(self._run, peer)
        return peer

    def offline(self, name: str) -> Store:
        """A store for a node that is not running yet (write to it before ``add``)."""
        return Store.open(self.tmp_path / f"{name}.db")

    async def _run(self, peer: Peer, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            with peer.scope:
                async with (
                    open_memory_network(self.hub, peer.name, peer.node.validate) as network,
                    trio.open_nursery() as nursery,
                ):
                    await nursery.start(peer.node.run, network)
                    await nursery.start(peer.syncer.run)
                    task_status.started()
                    await trio.sleep_forever()
        finally:
            peer.stopped.set()


@asynccontextmanager
async def new_swarm(tmp_path: Path) -> AsyncIterator[Swarm]:
    """Nodes added to the swarm stop (and their stores close) when the block exits."""
    async with trio.open_nursery() as nursery:
        swarm = Swarm(tmp_path, nursery)
        try:
            yield swarm
        finally:
            nursery.cancel_scope.cancel()
    for peer in swarm.peers:
        peer.store.close()


def has_posts(reader: Peer, author: Peer, count: int) -> bool:
    return len(reader.texts(author)) == count


def key_of(name: str) -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(name.encode().ljust(32, b"."))


#: Age of posts written "long ago", in milliseconds (two days).
LONG_AGO_MS = 2 * 24 * 3600 * 1000


def write_posts(
    store: Store, key: nacl.signing.SigningKey, count: int, prefix: str, *, old: bool = False
) -> None:
    """Append ``count`` posts to ``key``'s feed in ``store`` (one transaction, no fsync each)."""
    ts = now_ms() - (LONG_AGO_MS if old else 0)
    author = bytes(key.verify_key)
    head = store.heads([author]).get(author)
    seq = head[1] if head else 0
    prev = decode(store.range(author, seq, seq)[0]).id if seq else None
    messages = []
    for i in range(count):
        seq += 1
        body = {"text": f"{prefix} {i}"}
        message = sign(key, seq=seq, prev=prev, ts=ts + i, kind="post", body=body)
        messages.append(message)
        prev = message.id
    assert len(store.ingest_verified(messages).accepted) == count


def write_follow(store: Store, key: nacl.signing.SigningKey, target: str) -> None:
    store.append_own(key, "follow", {"key": bytes(key_of(target).verify_key)}, now_ms())
