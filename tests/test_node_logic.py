"""Node logic on the in-memory network: many nodes in one trio process, virtual time.

Each node has a real store (SQLite in tmp_path) and runs ``open_node`` exactly as ``pnyx run`` does,
with ``pnyx.net.memnet`` in place of libp2p.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest
import trio

from pnyx.app.config import NodeConfig
from pnyx.app.service import open_node
from pnyx.core.envelope import Message, sign
from pnyx.core.frame import encode_frame
from pnyx.core.limits import MAX_FUTURE_SKEW_MS
from pnyx.net.contracts import Verdict
from pnyx.net.memnet import MemoryHub, MemoryNetwork, open_memory_network
from pnyx.node.node import INVALID_FRAMES_BEFORE_BAN, Node
from pnyx.runtime import inline
from pnyx.store import Store
from tests.waiting import eventually

#: Virtual-time cap of each test, in seconds. Nodes run blocking work inline (``offload=inline``):
#: under ``autojump_clock`` a worker thread's real wait would let the clock jump to any deadline.
CAP_S = 120


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Peer:
    name: str
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

    def post(self, text: str) -> Message:
        return self.store.append_own(self.key, "post", {"text": text}, now_ms())

    def follow(self, other: Peer) -> None:
        self.store.append_own(self.key, "follow", {"key": other.me}, now_ms())

    def texts(self, author: Peer) -> list[str]:
        return [
            s.message.text or ""
            for s in self.store.feed(author.me, limit=1000).items
            if s.message.kind == "post"
        ]


class Swarm:
    def __init__(self, tmp_path: Path, stack: AsyncExitStack) -> None:
        self.hub = MemoryHub()
        self.tmp_path = tmp_path
        self.stack = stack

    async def add(self, name: str, *, batch_ms: int = 20) -> Peer:
        key = nacl.signing.SigningKey(name.encode().ljust(32, b"."))
        store = self.stack.enter_context(Store.open(self.tmp_path / f"{name}.db"))
        config = NodeConfig(publish_batch_ms=batch_ms)
        node = await self.stack.enter_async_context(
            open_node(
                config,
                store=store,
                me=bytes(key.verify_key),
                network_factory=lambda v: open_memory_network(self.hub, name, v),
                offload=inline,
            )
        )
        return Peer(name, key, store, node)

    async def line(self, *names: str) -> list[Peer]:
        peers = [await self.add(name) for name in names]
        for left, right in itertools.pairwise(peers):
            await right.node.connect(left.network.listen_addrs()[0])
        return peers


@asynccontextmanager
async def new_swarm(tmp_path: Path) -> AsyncIterator[Swarm]:
    """Nodes added to the swarm stop when the block exits (in the test's own task)."""
    async with AsyncExitStack() as stack:
        yield Swarm(tmp_path, stack)


async def test_post_reaches_follower_through_nodes_that_do_not_follow(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a, b, c, d = await swarm.line("a", "b", "c", "d")
            d.follow(a)
            await d.node.refresh_interest()
            a.post("hello, four hops")
            a.node.nudge()
            await eventually(lambda: d.texts(a) == ["hello, four hops"], "d stores a's post")
            # The relays forwarded the frame without storing it.
            assert b.texts(a) == [] and c.texts(a) == []
            assert b.node.stats.frames_received == 1 and c.node.stats.messages_not_wanted == 1
            assert a.node.stats.frames_published == 1


async def test_heavy_posting_is_batched_into_few_frames(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a, b = await swarm.line("a", "b")
            b.follow(a)
            await b.node.refresh_interest()
            for i in range(300):
                a.post(f"post {i}")
            a.node.nudge()
            await eventually(lambda: len(b.texts(a)) == 300, "b stores all 300 posts")
            assert a.node.stats.messages_published == 300
            assert a.node.stats.frames_published <= 3
            assert b.node.stats.messages_stored == 300


async def test_publisher_notices_writes_by_another_store_connection(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a, b = await swarm.line("a", "b")
            b.follow(a)
            await b.node.refresh_interest()
            with Store.open(tmp_path / "a.db") as other:  # as `pnyx post` from another terminal
                other.append_own(a.key, "post", {"text": "from the CLI"}, now_ms())
            started = trio.current_time()
            await eventually(lambda: b.texts(a) == ["from the CLI"], "b gets the CLI's post")
            # b may have fetched it by sync first (b's follow triggers one); a publishes it anyway
            await eventually(lambda: a.node.stats.messages_published == 1, "a publishes it")
            assert trio.current_time() - started < 5  # found by polling, no nudge needed


async def test_interest_follows_the_follow_list(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a, b = await swarm.line("a", "b")
            a.post("before the follow")
            a.node.nudge()
            await eventually(lambda: b.node.stats.frames_received == 1, "b relays the frame")
            assert b.texts(a) == []
            b.follow(a)  # noticed by b's publisher, which refreshes the interest set
            await eventually(lambda: a.me in b.node.wanted_authors(), "b wants a")
            a.post("after the follow")
            a.node.nudge()
            # the follow also fetched a's history by sync (pnyx.catchup.scheduler)
            await eventually(
                lambda: b.texts(a) == ["after the follow", "before the follow"],
                "b stores the new post and the one before the follow",
            )


async def hostile(swarm: Swarm, name: str, target: Peer) -> MemoryNetwork:
    async def accept_all(data: bytes, source: str) -> Verdict:
        return Verdict.ACCEPT

    network = await swarm.stack.enter_async_context(
        open_memory_network(swarm.hub, name, accept_all)
    )
    await network.connect(target.network.listen_addrs()[0])
    return network


def penalty_is(peer: Peer, offender: str, count: int) -> Callable[[], bool]:
    return lambda: peer.node.penalties().get(offender) == count


def forged_frame(key: nacl.signing.SigningKey, text: str) -> bytes:
    message = sign(key, seq=1, prev=None, ts=now_ms(), kind="post", body={"text": text})
    raw = bytearray(message.raw)
    raw[0] ^= 0x01
    return encode_frame([bytes(raw)])


async def test_forged_frame_is_dropped_and_its_sender_banned(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            b, c = await swarm.line("b", "c")
            mallory = await hostile(swarm, "mallory", b)
            victim = nacl.signing.SigningKey(b"v" * 32)
            c.store.append_own(c.key, "follow", {"key": bytes(victim.verify_key)}, now_ms())
            await c.node.refresh_interest()
            for i in range(INVALID_FRAMES_BEFORE_BAN):
                await mallory.publish(forged_frame(victim, f"forged {i}"))
                await eventually(penalty_is(b, "mallory", i + 1), f"penalty {i + 1}")
            await eventually(lambda: "mallory" in b.network.banned(), "mallory banned")
            assert "mallory" not in {p.peer_id for p in b.network.peers()}
            assert b.node.stats.frames_rejected == INVALID_FRAMES_BEFORE_BAN
            assert c.node.stats.frames_received == 0  # b forwarded none of them
            assert c.store.feed(bytes(victim.verify_key)).items == []
            with pytest.raises(Exception, match="refused"):
                await mallory.connect(b.network.listen_addrs()[0])


async def test_future_frame_is_dropped_without_penalty(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            b, c = await swarm.line("b", "c")
            mallory = await hostile(swarm, "mallory", b)
            key = nacl.signing.SigningKey(b"f" * 32)
            late = sign(
                key,
                seq=1,
                prev=None,
                ts=now_ms() + MAX_FUTURE_SKEW_MS + 60_000,
                kind="post",
                body={"text": "from the future"},
            )
            await mallory.publish(encode_frame([late.raw]))
            await eventually(lambda: b.node.stats.frames_ignored == 1, "b drops the frame")
            assert b.node.penalties() == {}
            assert c.node.stats.frames_received == 0


async def test_fork_of_a_stored_chain_is_kept_as_evidence_not_forwarded(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a, b, c = await swarm.line("a", "b", "c")
            b.follow(a)
            c.follow(a)
            await b.node.refresh_interest()
            await c.node.refresh_interest()
            first = a.post("the real first post")
            a.node.nudge()
            await eventually(lambda: len(c.texts(a)) == 1, "c stores the first post")
            mallory = await hostile(swarm, "mallory", b)
            fork = sign(
                a.key, seq=1, prev=None, ts=first.ts, kind="post", body={"text": "equivocation"}
            )
            await mallory.publish(encode_frame([fork.raw]))
            await eventually(lambda: b.store.is_forked(a.me), "b records the fork")
            assert b.node.stats.frames_ignored == 1 and b.node.penalties() == {}
            assert c.node.stats.frames_received == 1  # only the real post
            assert b.texts(a) == ["the real first post"]
