"""DHT provider records are no memory bomb (issue 23, item 3), against a real node process.

The report: one identity sent 10 ``ADD_PROVIDER`` messages of 4 MiB (419,000 addresses each) in
about 12 s; the node grew by 420 MiB and kept it (records live 48 h). Here a hostile libp2p peer
(tests/hostile.py) does the same to node b, then sends the largest messages b still reads, each
with thousands of addresses, under several keys, and tries ``PUT_VALUE``. What must hold: b grows
by at most ``MAX_GROWTH_BYTES``, keeps at most ``MAX_PROVIDER_ADDRESSES`` addresses of a record,
stores no value, and an honest provider record (a peer announcing itself with one address) is
still stored and answered to ``GET_PROVIDERS``.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
import trio
from libp2p.kad_dht.pb.kademlia_pb2 import Message

from pnyx.errors import RemoteError
from pnyx.gossip.dht_bounds import MAX_INBOUND_DHT_MESSAGE_BYTES, MAX_PROVIDER_ADDRESSES
from pnyx.net.contracts import ByteStream
from tests.hostile import HostilePeer
from tests.netharness import Cluster

pytestmark = [pytest.mark.network, pytest.mark.timeout(240)]

KAD = "/ipfs/kad/1.0.0"
#: Most b's memory may grow through the whole attack, in bytes (the issue's bound).
MAX_GROWTH_BYTES = 64 * 1024 * 1024
#: Addresses in one message of the report's attack (about 4 MiB).
BOMB_ADDRESSES = 419_000
#: Messages of the report's attack (py-libp2p's per-peer rate limit is 10 per 10 s).
BOMB_MESSAGES = 10
#: Longest wait for one DHT answer, in seconds.
ANSWER_S = 10.0


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def address(n: int) -> bytes:
    """A binary /ip4/10.x.y.z/tcp/N multiaddr, distinct for each n."""
    return bytes([4, 10, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF, 6]) + (
        4001 + n % 60000
    ).to_bytes(2, "big")


def add_provider(key: bytes, peer_id: bytes, addresses: list[bytes]) -> bytes:
    message = Message(type=Message.MessageType.ADD_PROVIDER, key=key)
    message.providerPeers.add(id=peer_id, addrs=addresses)
    return message.SerializeToString()


async def send(peer: HostilePeer, target: str, body: bytes) -> bytes:
    """One message on a fresh DHT stream; returns the answer's bytes (empty if b hung up)."""
    stream: ByteStream = await peer.raw_stream(target, KAD)
    answer = bytearray()
    with trio.move_on_after(ANSWER_S):
        try:
            await stream.send_all(varint(len(body)) + body)
            while data := await stream.receive_some(65536):
                answer += data
                if len(answer) > 1 and answer[0] <= len(answer) - 1:
                    break
        except RemoteError:
            pass
    await stream.close()
    return bytes(answer)


def providers_in(answer: bytes) -> list[tuple[bytes, int]]:
    """(peer id, address count) of each provider in a GET_PROVIDERS answer."""
    length, shift, at = 0, 0, 0
    while True:
        byte = answer[at]
        length |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            break
    message = Message()
    message.ParseFromString(answer[at : at + length])
    return [(p.id, len(p.addrs)) for p in message.providerPeers]


def test_provider_record_bombs_are_refused_and_honest_records_still_work(tmp_path: Path) -> None:
    with Cluster(tmp_path) as cluster:
        (cluster.home("b") / "config.toml").write_text("[node]\ntarget_connections = 0\n")
        b = cluster.start("b")
        rss = psutil.Process(b.proc.pid).memory_info().rss

        async def attack() -> list[tuple[bytes, int]]:
            async with HostilePeer.open(b"d" * 32) as bomber:
                target = await bomber.network.connect(b.address)
                assert KAD in await bomber.protocols_of(target)
                me = bomber.network._host.get_id().to_bytes()
                bomb = [address(n) for n in range(BOMB_ADDRESSES)]
                for n in range(BOMB_MESSAGES):  # the report's attack: refused from the prefix
                    body = add_provider(b"bomb-%d" % n, me, bomb)
                    assert len(body) > 4_000_000
                    await send(bomber, target, body)
                await trio.sleep(10)  # past py-libp2p's rate-limit window
                per_message = (MAX_INBOUND_DHT_MESSAGE_BYTES - 64) // 11
                under = [address(n) for n in range(per_message)]
                for n in range(BOMB_MESSAGES):  # the largest messages b still reads
                    await send(bomber, target, add_provider(b"under-%d" % n, me, under))
                value = Message(type=Message.MessageType.PUT_VALUE, key=b"/x/1")
                value.record.key, value.record.value = b"/x/1", b"v" * 60_000
                await send(bomber, target, value.SerializeToString())
                asked = Message(type=Message.MessageType.GET_PROVIDERS, key=b"under-0")
                stored_under = providers_in(await send(bomber, target, asked.SerializeToString()))
            async with HostilePeer.open(b"h" * 32) as honest:
                target = await honest.network.connect(b.address)
                me = honest.network._host.get_id().to_bytes()
                await send(honest, target, add_provider(b"honest", me, [address(7)]))
                asked = Message(type=Message.MessageType.GET_PROVIDERS, key=b"honest")
                found = providers_in(await send(honest, target, asked.SerializeToString()))
            assert (me, 1) in found, found
            return stored_under

        stored_under = trio.run(attack)
        growth = psutil.Process(b.proc.pid).memory_info().rss - rss
        print(f"b grew by {growth / 2**20:.1f} MiB; a record kept {stored_under} addresses")
        assert b.proc.poll() is None
        assert all(count <= MAX_PROVIDER_ADDRESSES for _, count in stored_under), stored_under
        assert growth < MAX_GROWTH_BYTES


def test_a_client_mode_node_serves_no_dht(tmp_path: Path) -> None:
    """``dht_mode = "client"``: the node does not offer the kad protocol at all."""
    with Cluster(tmp_path) as cluster:
        (cluster.home("b") / "config.toml").write_text(
            '[node]\ntarget_connections = 0\ndht_mode = "client"\n'
        )
        b = cluster.start("b")
        assert "DHT on (client mode)" in b.stdout()

        async def protocols() -> list[str]:
            async with HostilePeer.open(b"c" * 32) as peer:
                target = await peer.network.connect(b.address)
                return await peer.protocols_of(target)

        offered = trio.run(protocols)
        assert KAD not in offered and "/meshsub/1.1.0" in offered
