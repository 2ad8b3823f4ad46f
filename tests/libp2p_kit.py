"""In-process py-libp2p hosts on 127.0.0.1 for the adapter's tests (mark them ``network``)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import trio

from pnyx.gossip.adapter import Libp2pNetwork, open_libp2p_network
from pnyx.net.contracts import Verdict

LOCAL = "/ip4/127.0.0.1/tcp/0"
#: Real-time cap of each test, in seconds.
CAP_S = 30


async def accept_unless_bad(data: bytes, forwarder: str) -> Verdict:
    return Verdict.REJECT if data.startswith(b"bad") else Verdict.ACCEPT


@asynccontextmanager
async def hosts(count: int, listen: str = LOCAL) -> AsyncIterator[list[Libp2pNetwork]]:
    async with AsyncExitStack() as stack:
        networks = [
            await stack.enter_async_context(
                open_libp2p_network(
                    seed=bytes([i + 1]) * 32, listen=[listen], validator=accept_unless_bad
                )
            )
            for i in range(count)
        ]
        yield networks


async def line(networks: list[Libp2pNetwork]) -> None:
    """Connect each network to the previous one and wait until gossip subscriptions are known."""
    for left, right in itertools.pairwise(networks):
        await right.connect(left.listen_addrs()[0])
    for index, network in enumerate(networks):
        want = 1 if index in (0, len(networks) - 1) else 2
        while len(network.topic_peers()) < want:
            await trio.sleep(0.01)
