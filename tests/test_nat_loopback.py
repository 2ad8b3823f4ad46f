"""NAT reach on loopback (real py-libp2p hosts on 127.0.0.1): dial-back says "reachable", a relay
holds a reservation within its limits, and a peer connects through the ``/p2p-circuit`` address
and gossips over it. The namespace tests (tests/test_nat_netns.py) cover real NATs."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import pytest
import trio
from libp2p.peer.id import ID

from pnyx.gossip.adapter import Libp2pNetwork, open_libp2p_network
from pnyx.net.relaying import RESERVATION_REFRESH_MARGIN_S, RelayLimits
from tests.libp2p_kit import CAP_S, LOCAL, accept_unless_bad

pytestmark = pytest.mark.network


async def _open(stack: AsyncExitStack, n: int, **kwargs: object) -> Libp2pNetwork:
    return await stack.enter_async_context(
        open_libp2p_network(
            seed=bytes([n]) * 32,
            listen=[LOCAL],
            validator=accept_unless_bad,
            **kwargs,  # type: ignore[arg-type]
        )
    )


async def _until(check: object, seconds: float = 20.0) -> None:
    with trio.fail_after(seconds):
        while not check():  # type: ignore[operator]
            await trio.sleep(0.05)


async def test_dialback_finds_a_loopback_node_reachable() -> None:
    with trio.fail_after(CAP_S):
        async with AsyncExitStack() as stack:
            a = await _open(stack, 1)
            b = await _open(stack, 2)
            await b.connect(a.listen_addrs()[0])
            await _until(lambda: b.reachability()["status"] == "reachable")
            assert a._nat is not None and a._nat.dialback.answered >= 1
            assert "dialled back" in b.reachability()["why"]


async def test_a_circuit_through_a_relay_carries_gossip() -> None:
    with trio.fail_after(CAP_S * 2):
        async with AsyncExitStack() as stack:
            relay = await _open(stack, 1, relay="on")
            home = await _open(stack, 2, relay="off")
            friend = await _open(stack, 3, relay="off")
            await home.connect(relay.listen_addrs()[0])
            assert home._nat is not None and relay._nat is not None
            assert await home._nat._reserve(ID.from_base58(relay.peer_id))
            circuits = [str(a) for a in home._nat.circuit_addrs()]
            assert circuits and all("/p2p-circuit" in c for c in circuits)
            assert any("/p2p-circuit" in a for a in home.listen_addrs())
            address = f"{circuits[0]}/p2p/{home.peer_id}"
            assert await friend.connect(address) == home.peer_id
            assert relay._nat.relay.stats()["relay_reservations"] == 1
            await _until(lambda: home.peer_id in friend.topic_peers())
            await friend.publish(b"over the relay")
            with trio.fail_after(10):
                got = await home.received.receive()
            assert got.data == b"over the relay"


async def test_a_reservation_is_renewed_before_it_expires() -> None:
    with trio.fail_after(CAP_S):
        async with AsyncExitStack() as stack:
            relay = await _open(
                stack, 1, relay="on", relay_limits=RelayLimits(reservation_ttl_s=60)
            )
            home = await _open(stack, 2, relay="off")
            await home.connect(relay.listen_addrs()[0])
            assert home._nat is not None
            relay_id = ID.from_base58(relay.peer_id)
            assert await home._nat._reserve(relay_id)
            first = home._nat.reservations[relay_id][0]
            assert first - time.time() < RESERVATION_REFRESH_MARGIN_S  # so it is due at once
            await trio.sleep(1.1)  # expiries are whole Unix seconds
            await home._nat._keep_reservations()
            assert home._nat.reservations[relay_id][0] > first


async def test_a_relay_refuses_reservations_over_its_limit_per_address() -> None:
    with trio.fail_after(CAP_S * 2):
        async with AsyncExitStack() as stack:
            limits = RelayLimits(max_reservations_per_ip=2)
            relay = await _open(stack, 1, relay="on", relay_limits=limits)
            relay_id = ID.from_base58(relay.peer_id)
            granted = 0
            for n in range(4):  # four identities from one address (127.0.0.1)
                client = await _open(stack, 10 + n, relay="off")
                await client.connect(relay.listen_addrs()[0])
                assert client._nat is not None
                granted += bool(await client._nat._reserve(relay_id))
            assert granted == 2
            assert relay.reachability()["relay_refused_reservations"] == 2
