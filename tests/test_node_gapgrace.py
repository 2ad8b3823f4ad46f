"""The sync scheduler's gap trigger waits ``GAP_GRACE_S`` before fetching a gap seen in gossip:
frames that took different paths arrive out of order and fill their own gaps, and fetching those
by sync would verify and store every message twice. A gap that stays put is fetched.

In-memory network, virtual time (the harness of ``tests/test_syncing_scheduler.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from pnyx.catchup.gaps import GAP_CHECK_S, GAP_GRACE_S
from pnyx.core.envelope import Message, sign
from pnyx.core.frame import encode_frame
from pnyx.net.contracts import Verdict
from pnyx.net.memnet import MemoryNetwork, open_memory_network
from tests.swarm import (
    CAP_S,
    Peer,
    Swarm,
    key_of,
    new_swarm,
    now_ms,
    write_follow,
)
from tests.waiting import eventually


def chain(name: str, count: int) -> list[Message]:
    """``count`` chained posts by ``name``'s key, signed now (not stored anywhere)."""
    key, ts = key_of(name), now_ms()
    messages: list[Message] = []
    for seq in range(1, count + 1):
        prev = messages[-1].id if messages else None
        body = {"text": f"{name} {seq}"}
        messages.append(sign(key, seq=seq, prev=prev, ts=ts, kind="post", body=body))
    return messages


def held(reader: Peer, posts: list[Message]) -> list[int]:
    """The seqs of ``posts``' author that ``reader`` stores."""
    items = reader.store.feed(posts[0].author, limit=100).items
    return sorted(s.message.seq for s in items)


async def accept_all(data: bytes, forwarder: str) -> Verdict:
    return Verdict.ACCEPT


@asynccontextmanager
async def relay(swarm: Swarm, reader: Peer) -> AsyncIterator[MemoryNetwork]:
    """A bare network connected to ``reader`` that publishes whatever frames the test gives it
    (standing in for the different gossip paths) and serves no sync."""
    async with open_memory_network(swarm.hub, "relay", accept_all) as network:
        await network.connect(reader.address)
        yield network


async def follower(swarm: Swarm) -> Peer:
    with swarm.offline("b") as store:
        write_follow(store, key_of("b"), "a")
    return await swarm.add("b", on_connect=False)


async def test_gap_filled_by_gossip_within_the_grace_is_not_fetched(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    posts = chain("a", 4)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            b = await follower(swarm)
            async with relay(swarm, b) as network:
                await network.publish(encode_frame([posts[0].raw]))
                await network.publish(encode_frame([posts[2].raw, posts[3].raw]))  # 2 missing
                await eventually(lambda: len(held(b, posts)) == 3, "b stores 1, 3 and 4")
                await trio.sleep(GAP_GRACE_S - GAP_CHECK_S)  # after a look or two, within it
                await network.publish(encode_frame([posts[1].raw]))  # the slower path
                await eventually(lambda: len(held(b, posts)) == 4, "b stores 2")
                await trio.sleep(GAP_GRACE_S + 4 * GAP_CHECK_S)
            assert b.syncer.stats.triggers_gap == 0
            assert b.syncer.stats.sessions == 0


async def test_gap_that_stays_is_fetched_after_the_grace(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    posts = chain("a", 3)
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            b = await follower(swarm)
            async with relay(swarm, b) as network:
                await network.publish(encode_frame([posts[0].raw]))
                await network.publish(encode_frame([posts[2].raw]))  # 2 never comes
                await eventually(lambda: len(held(b, posts)) == 2, "b stores 1 and 3")
                seen_gap = trio.current_time()
                await eventually(lambda: b.syncer.stats.triggers_gap == 1, "b asks for 2")
                waited = trio.current_time() - seen_gap
            assert GAP_GRACE_S <= waited <= GAP_GRACE_S + 3 * GAP_CHECK_S
