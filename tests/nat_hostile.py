"""A hostile relay client, run as a process inside a namespace by tests/test_nat_netns.py.

``python -m tests.nat_hostile RELAY_ADDR TARGET_PEER_ID IDENTITIES CIRCUITS`` makes IDENTITIES
fresh identities, all from this machine's one IP address, each ask RELAY for a reservation, then
opens CIRCUITS raw circuits at once to TARGET through the relay, spread over the identities, holding
each open (never finishing the handshake), and prints one JSON object: how many reservations and
circuits the relay granted.
"""

from __future__ import annotations

import json
import sys
from contextlib import AsyncExitStack
from typing import Any

import trio
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from multiaddr import Multiaddr

from pnyx.gossip.adapter import Libp2pNetwork, open_libp2p_network
from pnyx.net.contracts import Verdict


async def _ignore(data: bytes, forwarder: str) -> Verdict:
    return Verdict.IGNORE


async def main(relay_addr: str, target: str, identities: int, circuits: int) -> dict[str, Any]:
    relay = info_from_p2p_addr(Multiaddr(relay_addr))
    granted = 0
    held: list[Any] = []
    async with AsyncExitStack() as stack:
        nets: list[Libp2pNetwork] = []
        for n in range(identities):
            net = await stack.enter_async_context(
                open_libp2p_network(
                    seed=bytes([200, n]) * 16,
                    listen=["/ip4/0.0.0.0/tcp/0"],
                    validator=_ignore,
                    relay="off",
                )
            )
            nets.append(net)
            await net.connect(relay_addr)
            assert net._nat is not None
            if await net._nat._reserve(relay.peer_id):
                granted += 1
        dest = PeerInfo(ID.from_base58(target), [])
        opened: list[int] = []

        async def one(n: int) -> None:
            nat = nets[n % len(nets)]._nat
            assert nat is not None
            try:
                with trio.fail_after(5):
                    held.append(await nat.transport.dial_peer_info(dest, relay_info=relay))
                opened.append(n)
            except Exception:  # noqa: BLE001 - refused by the relay: what we count
                return

        async with trio.open_nursery() as nursery:  # all at once: the limits are on concurrency
            for n in range(circuits):
                nursery.start_soon(one, n)
        circuits_open = len(opened)
        result = {"reservations_granted": granted, "circuits_open": circuits_open}
        print(json.dumps(result), flush=True)
        await trio.sleep(float("inf"))  # hold everything until the test kills us
    return result


if __name__ == "__main__":
    trio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
