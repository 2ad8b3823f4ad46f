"""``pnyx.gossip.guard`` without sockets: what the wrapper of inbound streams does with each kind
of error, the strict identify-push handler, and ``dialable`` on addresses that do not parse.

The same defences against a real node process: ``tests/test_hostile_streams.py``.
"""

from __future__ import annotations

from typing import Any

import multiaddr
import pytest
import trio
from google.protobuf.message import DecodeError
from libp2p.identity.identify.pb.identify_pb2 import Identify
from libp2p.io.exceptions import MessageTooLarge
from libp2p.network.stream.exceptions import StreamReset
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStore

from pnyx.core.varint import encode_uvarint
from pnyx.gossip.dht import dialable
from pnyx.gossip.guard import BROKEN, StreamGuard, strict_identify_push
from pnyx.net.errors import PeerStreamError

PEER = ID(b"\x00\x24\x08\x01\x12\x20" + bytes(range(32)))  # an identity-multihash peer id
GOOD_ADDR = multiaddr.Multiaddr("/ip4/10.0.0.1/tcp/4001")
GARBAGE_ADDR = b'\n"\x12 ' + b"\x07" * 32  # what a hostile identify-push carried


class FakeStream:
    """Just enough of an ``INetStream`` for the guard and the identify-push handler."""

    def __init__(self, data: bytes = b"", protocol: str = "/test/1.0.0") -> None:
        self.muxed_conn = self
        self.peer_id = PEER
        self._data = data
        self._protocol = protocol
        self.was_reset = False
        self.closed = False

    def get_protocol(self) -> str:
        return self._protocol

    async def read(self, n: int = -1) -> bytes:
        await trio.lowlevel.checkpoint()
        size = len(self._data) if n < 0 else n
        chunk, self._data = self._data[:size], self._data[size:]
        return chunk

    async def reset(self) -> None:
        self.was_reset = True

    async def close(self) -> None:
        self.closed = True


def guarded(raises: BaseException) -> tuple[StreamGuard, Any, list[tuple[str, PeerStreamError]]]:
    faults: list[tuple[str, PeerStreamError]] = []
    guard = StreamGuard()
    guard.on_fault = lambda peer, fault: faults.append((peer, fault))

    async def handler(stream: Any) -> None:
        await trio.lowlevel.checkpoint()
        raise raises

    return guard, guard.wrap(handler), faults


async def test_a_parse_error_resets_the_stream_and_is_reported_against_the_peer() -> None:
    guard, serve, faults = guarded(DecodeError("Error parsing message with type 'pubsub.pb.RPC'"))
    stream = FakeStream(protocol="/meshsub/1.1.0")
    await serve(stream)  # does not raise
    assert stream.was_reset
    assert guard.faults == {"/meshsub/1.1.0": 1}
    ((peer, fault),) = faults
    assert peer == PEER.to_base58()
    assert fault.protocol == "/meshsub/1.1.0"
    assert str(fault).startswith("bad-stream on /meshsub/1.1.0: DecodeError")


async def test_a_broken_stream_is_not_the_peers_fault() -> None:
    guard, serve, faults = guarded(StreamReset("reset by peer"))
    stream = FakeStream()
    await serve(stream)
    assert guard.broken == 1 and not guard.faults and not faults
    assert not stream.was_reset


async def test_a_group_with_a_parse_error_counts_once() -> None:
    group = ExceptionGroup("handler", [ValueError("bad"), StreamReset("gone")])
    guard, serve, faults = guarded(group)
    await serve(FakeStream())
    assert len(faults) == 1 and guard.broken == 1


async def test_cancellation_passes_through_the_guard() -> None:
    guard = StreamGuard()
    reported: list[str] = []
    guard.on_fault = lambda peer, fault: reported.append(peer)

    async def handler(stream: Any) -> None:
        await trio.sleep_forever()

    with trio.move_on_after(0.01) as scope:
        await guard.wrap(handler)(FakeStream())  # type: ignore[arg-type]
    assert scope.cancelled_caught and not reported and guard.broken == 0


async def test_a_failing_fault_handler_does_not_undo_the_containment() -> None:
    guard, serve, _ = guarded(KeyError("x"))

    def broken_callback(peer: str, fault: PeerStreamError) -> None:
        raise RuntimeError("bug")

    guard.on_fault = broken_callback
    await serve(FakeStream())
    assert guard.faults["/test/1.0.0"] == 1


class FakeHost:
    def __init__(self) -> None:
        self.store = PeerStore()

    def get_peerstore(self) -> PeerStore:
        return self.store


def push(*addrs: bytes) -> bytes:
    body = Identify(listen_addrs=list(addrs), protocols=["/meshsub/1.1.0"]).SerializeToString()
    return encode_uvarint(len(body)) + body


async def test_strict_identify_push_stores_only_addresses_that_parse() -> None:
    host = FakeHost()
    stream = FakeStream(push(GARBAGE_ADDR, GOOD_ADDR.to_bytes()))
    await strict_identify_push(host)(stream)  # type: ignore[arg-type]
    assert host.store.addrs(PEER) == [GOOD_ADDR]
    assert stream.closed


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x02\x0a\xff", DecodeError),  # a listen address announcing 255 bytes, then none
        (b"\x03\xff\xff\xff", DecodeError),
        (encode_uvarint(2**32), MessageTooLarge),
    ],
    ids=["cut protobuf", "not a protobuf", "4 GiB prefix"],
)
async def test_strict_identify_push_raises_a_fault_instead_of_storing_garbage(
    data: bytes, error: type[Exception]
) -> None:
    host = FakeHost()
    with pytest.raises(error) as caught:
        await strict_identify_push(host)(FakeStream(data))  # type: ignore[arg-type]
    assert not isinstance(caught.value, BROKEN)  # so the guard counts it against the peer
    assert PEER not in host.store.peer_ids()


def test_dialable_skips_addresses_that_do_not_parse() -> None:
    garbage = multiaddr.Multiaddr(GARBAGE_ADDR)  # multiaddr parses lazily: this does not raise
    assert dialable([garbage, GOOD_ADDR], "12D3KooWPeer") == (
        "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWPeer",
    )


@pytest.mark.network  # real libp2p hosts on 127.0.0.1
async def test_a_banned_peer_leaves_the_gossip_mesh() -> None:
    """py-libp2p's blacklist left a banned peer in the router's mesh for good (a dozen garbage
    senders banned in a row then crowded the honest peer out of the mesh): now it is removed."""
    from pnyx.net.contracts import POSTS_TOPIC
    from tests.libp2p_kit import CAP_S, hosts, line

    with trio.fail_after(CAP_S):
        async with hosts(2) as (a, b):
            await line([a, b])
            banned = ID.from_base58(b.peer_id)
            pubsub: Any = a._pubsub
            while banned not in pubsub.router.mesh.get(POSTS_TOPIC, set()):
                await trio.sleep(0.01)  # grafted at a heartbeat (1 s)
            await a.ban(b.peer_id, 60)
            while banned in pubsub.router.mesh[POSTS_TOPIC] or banned in pubsub.peer_queues:
                await trio.sleep(0.01)
