"""Discovery with whole nodes (``open_node``) on the in-memory network and its stand-in DHT:
finding a feed's holder when the author is offline, surviving the loss of the bootstrap node,
dialling LAN / peer-exchange finds from trio, bounded answers. Virtual time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
import trio

from pnyx.app.config import NodeConfig
from pnyx.app.service import open_node
from pnyx.discovery.service import HOLDERS_PER_AUTHOR
from pnyx.net.contracts import FoundBy, FoundPeer
from pnyx.net.memnet import MemoryHub, MemoryNetwork, open_memory_network
from pnyx.node.node import Node
from pnyx.runtime import inline
from pnyx.store import Store
from tests.waiting import eventually

#: Virtual-time cap of each test, in seconds.
CAP_S = 300


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Member:
    name: str
    key: nacl.signing.SigningKey
    store: Store
    node: Node
    scope: trio.CancelScope
    stopped: trio.Event

    @property
    def me(self) -> bytes:
        return bytes(self.key.verify_key)

    @property
    def network(self) -> MemoryNetwork:
        network = self.node.network
        assert isinstance(network, MemoryNetwork)
        return network

    def peers(self) -> set[str]:
        return {p.peer_id for p in self.network.peers()}

    async def follow(self, other: Member) -> None:
        self.store.append_own(self.key, "follow", {"key": other.me}, now_ms())
        await self.node.refresh_interest()

    def post(self, text: str) -> None:
        self.store.append_own(self.key, "post", {"text": text}, now_ms())
        self.node.nudge()

    def texts(self, author: Member) -> list[str]:
        page = self.store.feed(author.me, limit=100)
        return sorted(s.message.text or "" for s in page.items if s.message.kind == "post")

    async def stop(self) -> None:
        self.scope.cancel()
        await self.stopped.wait()


class Net:
    """Nodes each running in their own task, so any one can stop while the others run."""

    def __init__(self, tmp_path: Path, nursery: trio.Nursery) -> None:
        self.hub = MemoryHub(dht=True)
        self.tmp_path = tmp_path
        self.nursery = nursery

    async def add(self, name: str, *, bootstrap: tuple[str, ...] = (), **config: Any) -> Member:
        member: Member = await self.nursery.start(self._run, name, bootstrap, config)
        return member

    async def _run(
        self,
        name: str,
        bootstrap: tuple[str, ...],
        config: dict[str, Any],
        *,
        task_status: Any = trio.TASK_STATUS_IGNORED,
    ) -> None:
        key = nacl.signing.SigningKey(name.encode().ljust(32, b"."))
        self.hub.authors[bytes(key.verify_key)] = name
        stopped = trio.Event()
        try:
            with trio.CancelScope() as scope, Store.open(self.tmp_path / f"{name}.db") as store:
                async with open_node(
                    NodeConfig(bootstrap=bootstrap, mdns=False, **config),
                    store=store,
                    me=bytes(key.verify_key),
                    network_factory=lambda v: open_memory_network(self.hub, name, v),
                    offload=inline,
                ) as node:
                    task_status.started(Member(name, key, store, node, scope, stopped))
                    await trio.sleep_forever()
        finally:
            stopped.set()


@asynccontextmanager
async def new_net(tmp_path: Path) -> AsyncIterator[Net]:
    async with trio.open_nursery() as nursery:
        yield Net(tmp_path, nursery)
        nursery.cancel_scope.cancel()


BOOT = ("/memory/p2p/boot",)


async def test_follower_finds_a_holder_through_the_dht_while_the_author_is_offline(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_net(tmp_path) as net:
            await net.add("boot", target_connections=1)
            author = await net.add("author", bootstrap=BOOT, target_connections=1)
            holder = await net.add("holder", bootstrap=BOOT, target_connections=1)
            await holder.follow(author)
            author.post("written while the holder listened")
            await eventually(lambda: holder.texts(author) != [], "the holder stores the post")
            await eventually(
                lambda: "holder" in net.hub.providers.get(author.me, []),
                "the holder announces the author's feed",
            )
            await author.stop()

            follower = await net.add("follower", bootstrap=BOOT, target_connections=1)
            await eventually(lambda: follower.peers() == {"boot"}, "the follower meets boot")
            await follower.follow(author)
            took = await eventually(lambda: "holder" in follower.peers(), "follower dials holder")
            assert took < 5
            await eventually(
                lambda: follower.texts(author) == ["written while the holder listened"],
                "sync on connect brings the author's post from the holder",
            )


async def test_posts_still_reach_every_follower_after_the_bootstrap_node_leaves(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_net(tmp_path) as net:
            boot = await net.add("boot")
            members = []
            for name in ("author", "f1", "f2", "f3", "f4"):
                member = await net.add(name, bootstrap=BOOT, target_connections=3)
                members.append(member)
            author, *followers = members
            for follower in followers:
                await follower.follow(author)
            await eventually(
                lambda: all(len(m.peers() - {"boot"}) >= 2 for m in members),
                "every node has two peers besides boot (from the DHT walk)",
            )
            await boot.stop()
            author.post("after boot left")
            await eventually(
                lambda: all(f.texts(author) == ["after boot left"] for f in followers),
                "the post reaches every follower",
                limit_s=30,
            )


async def test_lan_and_peer_exchange_finds_are_dialled_from_trio(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_net(tmp_path) as net:
            for name in ("a", "b", "c"):
                member = await net.add(name, target_connections=2)
                if name == "a":
                    a = member
            a.network.found_send.send_nowait(FoundPeer("b", ("/memory/p2p/b",), FoundBy.MDNS))
            a.network.found_send.send_nowait(FoundPeer("c", ("/memory/p2p/c",), FoundBy.PX))
            a.network.found_send.send_nowait(FoundPeer("a", ("/memory/p2p/a",), FoundBy.MDNS))
            await eventually(lambda: a.peers() == {"b", "c"}, "a dials both finds")


async def test_holders_dialled_per_lookup_are_bounded(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_net(tmp_path) as net:
            await net.add("boot", target_connections=0)
            holders = []
            for index in range(10):
                holder = await net.add(f"h{index}", target_connections=0)
                holders.append(holder)
            author_key = nacl.signing.SigningKey(b"x" * 32)
            author = bytes(author_key.verify_key)
            net.hub.providers[author] = [h.name for h in holders] * 2  # duplicates too
            follower = await net.add("follower", bootstrap=BOOT, target_connections=1)
            await eventually(lambda: follower.peers() == {"boot"}, "follower meets boot")
            follower.store.append_own(follower.key, "follow", {"key": author}, now_ms())
            await follower.node.refresh_interest()
            await eventually(lambda: len(follower.peers()) > 1, "follower dials holders")
            await trio.sleep(20)
            assert len(follower.peers() - {"boot"}) == HOLDERS_PER_AUTHOR
