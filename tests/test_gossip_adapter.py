"""The libp2p adapter in one process: identity, gossip with validation, streams, dial traps, bans.

Hosts listen on 127.0.0.1 with kernel-chosen ports; every test is capped with ``trio.fail_after``.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack

import nacl.signing
import pytest
import trio

from pnyx.errors import UserError
from pnyx.gossip.adapter import Libp2pNetwork, open_libp2p_network
from pnyx.gossip.identity import peer_id_of_public_key
from pnyx.net.contracts import ByteStream, ConnectError, Received, Verdict
from tests.libp2p_kit import CAP_S, LOCAL, accept_unless_bad, hosts, line

#: Real libp2p hosts on 127.0.0.1 sockets, in this process.
pytestmark = pytest.mark.network


async def next_frame(network: Libp2pNetwork) -> Received:
    return await network.received.receive()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_peer_id_is_derived_from_the_users_key() -> None:
    key = nacl.signing.SigningKey(b"\x01" * 32)
    with trio.fail_after(CAP_S):
        async with hosts(1) as (network,):
            assert network.peer_id == peer_id_of_public_key(bytes(key.verify_key))
            assert network.peer_id.startswith("12D3KooW")
            (address,) = network.listen_addrs()
            assert address.startswith("/ip4/127.0.0.1/tcp/")
            assert address.endswith(f"/p2p/{network.peer_id}")


async def test_gossip_crosses_a_relay_and_invalid_frames_stop_at_the_first_hop() -> None:
    with trio.fail_after(CAP_S):
        async with hosts(3) as (a, b, c):
            await line([a, b, c])
            await a.publish(b"bad frame")
            await a.publish(b"good frame")
            got_b, got_c = await next_frame(b), await next_frame(c)
            assert (got_b.data, got_c.data) == (b"good frame", b"good frame")
            assert got_c.origin == a.peer_id
            with trio.move_on_after(0.3):
                extra = await next_frame(c)
                raise AssertionError(f"unexpected frame {extra}")
            assert [p.peer_id for p in b.peers()] == sorted([a.peer_id, c.peer_id])
            assert {p.direction.value for p in b.peers()} == {"inbound", "outbound"}


async def echo(stream: ByteStream, peer: str) -> None:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    await stream.send_all(peer.encode() + b":" + data)


async def test_streams_of_another_protocol() -> None:
    with trio.fail_after(CAP_S):
        async with hosts(2) as (a, b):
            a.set_stream_handler("/pnyx/test-echo/1", echo)
            await b.connect(a.listen_addrs()[0])
            stream = await b.open_stream(a.peer_id, "/pnyx/test-echo/1")
            payload = bytes(range(256)) * 1000
            await stream.send_all(payload)
            await stream.send_eof()
            received = b""
            while chunk := await stream.receive_some(65536):
                received += chunk
            await stream.close()
            assert received == b.peer_id.encode() + b":" + payload
            with pytest.raises(ConnectError):
                await b.open_stream(a.peer_id, "/pnyx/nobody-speaks-this/1")


async def test_dial_errors_and_the_negative_cache() -> None:
    port = free_port()
    with trio.fail_after(CAP_S):
        async with hosts(1) as (a,):
            with pytest.raises(UserError, match="not a usable address"):
                await a.connect("/ip4/127.0.0.1/tcp/1")
            with pytest.raises(UserError, match="own"):
                await a.connect(a.listen_addrs()[0])
            later_id = peer_id_of_public_key(
                bytes(nacl.signing.SigningKey(b"\x09" * 32).verify_key)
            )
            address = f"/ip4/127.0.0.1/tcp/{port}/p2p/{later_id}"
            with pytest.raises(ConnectError):
                await a.connect(address)  # nobody listens yet: libp2p now caches the failure
            async with open_libp2p_network(
                seed=b"\x09" * 32,
                listen=[f"/ip4/127.0.0.1/tcp/{port}"],
                validator=accept_unless_bad,
            ):
                assert await a.connect(address) == later_id  # unblock_peer cleared the cache


async def test_ban_disconnects_and_refuses() -> None:
    with trio.fail_after(CAP_S):
        async with hosts(2) as (a, b):
            await line([a, b])
            await a.ban(b.peer_id, 60)
            assert a.banned() == [b.peer_id]
            while a.peers():
                await trio.sleep(0.01)
            with pytest.raises(ConnectError, match="banned"):
                await a.connect(b.listen_addrs()[0])
            await b.publish(b"from a banned peer")
            with trio.move_on_after(0.3):
                frame = await next_frame(a)
                raise AssertionError(f"a accepted {frame}")


async def test_listen_errors_are_user_errors() -> None:
    with trio.fail_after(CAP_S):
        async with hosts(1) as (a,):
            taken = a.listen_addrs()[0].split("/p2p/")[0]
            with pytest.raises(UserError, match="cannot listen"):
                async with hosts(1, listen=taken):
                    pass
        with pytest.raises(UserError, match="cannot listen"):
            async with hosts(1, listen="/ip4/192.0.2.1/tcp/0"):
                pass
        with pytest.raises(UserError, match="not a multiaddr"):
            async with hosts(1, listen="tcp:4717"):
                pass
        with pytest.raises(UserError, match="listen addresses must be"):
            async with hosts(1, listen="/ip4/127.0.0.1/udp/4717"):
                pass


async def test_publishing_flat_out_loses_nothing() -> None:
    """py-libp2p drops RPCs beyond 32 queued per peer without a word; ``publish`` waits instead."""
    count = 600
    with trio.fail_after(CAP_S):
        async with hosts(2) as (a, b):
            await line([a, b])
            received: list[bytes] = []

            async def consume() -> None:
                while len(received) < count:
                    received.append((await next_frame(b)).data)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume)
                for index in range(count):
                    await a.publish(b"frame %d" % index)
            assert sorted(received) == sorted(b"frame %d" % i for i in range(count))


async def test_a_frame_relayed_by_two_peers_at_once_is_validated_once() -> None:
    """py-libp2p marks a frame seen only after validation: a copy from a second peer that arrives
    meanwhile was validated (and delivered, and forwarded) again. ``DedupPubsub`` makes it wait
    for the first copy and then drops it as seen."""
    frame = b"relayed twice"
    calls: list[str] = []

    async def slow_on_frame(data: bytes, forwarder: str) -> Verdict:
        if data == frame:
            calls.append(forwarder)
            await trio.sleep(0.5)  # long enough for c's copy to arrive meanwhile
        return Verdict.ACCEPT

    with trio.fail_after(CAP_S):
        async with AsyncExitStack() as stack:
            a, b, c = [
                await stack.enter_async_context(
                    open_libp2p_network(seed=bytes([i + 1]) * 32, listen=[LOCAL], validator=v)
                )
                for i, v in enumerate([accept_unless_bad, slow_on_frame, accept_unless_bad])
            ]
            await b.connect(a.listen_addrs()[0])
            await c.connect(a.listen_addrs()[0])
            await c.connect(b.listen_addrs()[0])
            for network, others in ((a, (b, c)), (b, (a, c)), (c, (a, b))):
                wanted = {o.peer_id for o in others}
                while {str(p) for p in _mesh(network)} != wanted:
                    await trio.sleep(0.05)
            await a.publish(frame)
            assert (await next_frame(b)).data == frame
            assert (await next_frame(c)).data == frame
            await a.publish(b"after")
            assert (await next_frame(b)).data == b"after"  # not the frame a second time
            assert calls == [a.peer_id]
            assert b._pubsub.duplicates_waited >= 1  # type: ignore[attr-defined]


def _mesh(network: Libp2pNetwork) -> set[object]:
    """The gossipsub mesh peers of the topic (adapter internals, for this test only)."""
    router = network._pubsub.router
    return set(router.mesh.get(network._topic, set()))
