"""Any bytes on any protocol a node serves: the node stays up, keeps gossiping, the sender pays.

A real node process ``b`` (DHT on, so it serves kad too) gossips with an honest node ``a`` (which
follows b). Hostile libp2p peers (``tests/hostile.py``) ask b which protocols it serves (its
identify answer lists its host's multiselect handlers, so a protocol added later is covered too)
and open a stream of each one, writing garbage: bytes that are not a protobuf RPC, a length prefix
followed by fewer bytes, a 4 GiB length prefix, a valid RPC cut short, a signed message whose key
does not deserialize. A hostile peer that b bans is replaced by a fresh identity, so every payload
reaches every protocol. Afterwards b must still run, b's next post must reach a, and the peers that
sent what b's handlers could not parse must have been penalised (docs/security.md, section 3).

On py-libp2p 0.8.1 without ``pnyx.gossip.guard`` the first payload on ``/meshsub/1.1.0`` stops b.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial

import pytest
import trio

from pnyx.core.varint import encode_uvarint
from pnyx.net.contracts import POSTS_TOPIC
from pnyx.net.errors import ConnectError, StreamClosedError
from pnyx.sync.limits import PROTOCOL_ID as SYNC_PROTOCOL_ID
from tests.hostile import HostilePeer, read_until_closed
from tests.hostile_line import meshed, texts_by
from tests.netharness import Cluster, NodeProcess
from tests.waiting import wait_until

pytestmark = [pytest.mark.network, pytest.mark.timeout(240)]

MESHSUB = ("/meshsub/1.1.0", "/meshsub/1.0.0")
#: What every node serves, at least: pnyx's own protocols and py-libp2p's defaults.
EXPECTED_PROTOCOLS = {
    "/ipfs/id/1.0.0",
    "/ipfs/id/push/1.0.0",
    "/ipfs/ping/1.0.0",
    "/ipfs/kad/1.0.0",
    SYNC_PROTOCOL_ID,
    *MESHSUB,
}
#: Longest a test waits for b to answer or close one hostile stream, in seconds.
STREAM_WAIT_S = 1.0
#: Longest b's post may take to reach a after the attack, in seconds.
HONEST_DELIVERY_S = 15.0


def rpc_bytes(**fields: object) -> bytes:
    """A serialized pubsub RPC (py-libp2p's protobuf classes)."""
    from libp2p.pubsub.pb import rpc_pb2

    return bytes(rpc_pb2.RPC(**fields).SerializeToString())  # type: ignore[arg-type]


def valid_rpc() -> bytes:
    from libp2p.pubsub.pb import rpc_pb2

    return rpc_bytes(
        subscriptions=[rpc_pb2.RPC.SubOpts(subscribe=True, topicid=POSTS_TOPIC)],
        publish=[rpc_pb2.Message(data=b"x" * 40, topicIDs=[POSTS_TOPIC], seqno=b"\x00" * 8)],
    )


def prefixed(body: bytes) -> bytes:
    return encode_uvarint(len(body)) + body


def bad_key_message() -> bytes:
    """A signed message from a non-identity peer id whose ``key`` does not deserialize: py-libp2p
    raises in pubsub's message task (not in the stream handler)."""
    from libp2p.pubsub.pb import rpc_pb2

    message = rpc_pb2.Message(
        from_id=b"\x12\x20" + b"\x07" * 32,
        data=b"x",
        seqno=b"\x00" * 8,
        topicIDs=[POSTS_TOPIC],
        signature=b"s" * 64,
        key=b"not a key",
    )
    return prefixed(rpc_bytes(publish=[message]))


#: The short set: one payload of each kind the issue names.
SHORT_PAYLOADS = {
    "3 bytes that are not an RPC": b"\x03\xff\xff\xff",
    "length prefix then fewer bytes": encode_uvarint(100) + b"\x08" * 10,
    "4 GiB length prefix": encode_uvarint(2**32) + b"\x00",
    "valid RPC cut short": prefixed(valid_rpc()[: len(valid_rpc()) // 2]),
    "message with a bad key": bad_key_message(),
}
#: Short payloads that b's meshsub handler cannot parse (each must cost the sender a penalty);
#: the others look like a peer that went away mid-message, which is not counted.
MESHSUB_FAULTS = 3


def random_payload(rng: random.Random) -> bytes:
    """Random bytes, a valid RPC with bytes flipped or cut at a random place, or a random
    length prefix with a random tail."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 2000))
    body = bytearray(valid_rpc())
    if kind == 1:
        for _ in range(rng.randrange(1, 6)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        return prefixed(bytes(body))
    if kind == 2:
        return prefixed(bytes(body[: rng.randrange(1, len(body))]))
    return encode_uvarint(rng.randrange(2**40)) + rng.randbytes(rng.randrange(64))


@dataclass
class Pair:
    cluster: Cluster
    a: NodeProcess
    b: NodeProcess
    posts: int = 0

    def gossip_still_flows(self, what: str) -> float:
        """b posts; wait until a stores it; returns the delay in seconds."""
        self.posts += 1
        text = f"b still gossips after {what} ({self.posts})"
        started = time.monotonic()
        self.cluster.cli("b", "post", text)
        author = self.cluster.key("b")
        wait_until(
            lambda: text in texts_by(self.a.home, author),
            timeout=HONEST_DELIVERY_S,
            what=f"b's post reaches a after {what}",
        )
        return time.monotonic() - started


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with Cluster(tmp_path_factory.mktemp("streams")) as cluster:
        cluster.cli("a", "follow", cluster.key("b"))
        for name, dht in (("a", "false"), ("b", "true")):
            (cluster.home(name) / "config.toml").write_text(
                f"[node]\ntarget_connections = 0\ndht = {dht}\n"
            )
        a, b = cluster.start_many("a", "b")
        a.connect(b)
        for node in (a, b):
            wait_until(partial(meshed, node, 1), timeout=15, what=f"{node.name} meshed")
        state = Pair(cluster, a, b)
        state.gossip_still_flows("start")
        yield state


@dataclass
class Attackers:
    """Hostile peers against one node: a fresh identity whenever the last one was banned."""

    address: str
    stack: AsyncExitStack
    tag: int = 0
    """Part of every seed, so that attackers running side by side use different identities."""
    target: str = ""
    used: dict[str, list[str]] = field(default_factory=dict)
    _current: HostilePeer | None = None
    _seeds: int = 0

    async def peer(self, protocol: str) -> HostilePeer:
        if self._current is None or not self._current.connected_to(self.target):
            self._seeds += 1
            seed = b"S" + bytes([self.tag]) + self._seeds.to_bytes(4, "big") + bytes(26)
            self._current = await self.stack.enter_async_context(HostilePeer.open(seed))
            self.target = await self._current.join(self.address)
            # py-libp2p's host leaves its connections open when it stops: b would keep a peer
            # that never reads again (which slows b's gossip, a separate matter).
            self.stack.push_async_callback(self._current.network.disconnect, self.target)
        ids = self.used.setdefault(protocol, [])
        if self._current.peer_id not in ids:
            ids.append(self._current.peer_id)
        return self._current

    async def send(self, protocol: str, payload: bytes) -> None:
        """Write ``payload`` on a new ``protocol`` stream, close our side, read what b answers
        (bounded). A peer banned meanwhile is replaced and the payload sent again."""
        for _ in range(3):
            hostile = await self.peer(protocol)
            try:
                stream = await hostile.raw_stream(self.target, protocol)
            except ConnectError:
                await trio.sleep(0.2)  # b is banning this identity: the next one sends it
                self._current = None
                continue
            try:
                await stream.send_all(payload)
                await stream.send_eof()
            except StreamClosedError:
                pass  # b reset the stream before we finished: it has seen enough
            await read_until_closed(stream, STREAM_WAIT_S)
            await stream.close()
            return
        raise AssertionError(f"could not deliver a payload on {protocol}")


def attack(pair: Pair, payloads: list[bytes]) -> tuple[list[str], dict[str, list[str]]]:
    """Every payload on every protocol b announces (one attacker per protocol, side by side);
    returns the protocols and, for each, the hostile peer ids that sent on it."""

    used: dict[str, list[str]] = {}

    async def one_protocol(address: str, protocol: str, tag: int) -> None:
        async with AsyncExitStack() as stack:  # each task its own: nurseries must nest
            attackers = Attackers(address, stack, tag=tag)
            for payload in payloads:
                await attackers.send(protocol, payload)
            used.update(attackers.used)

    async def session() -> tuple[list[str], dict[str, list[str]]]:
        address = await trio.to_thread.run_sync(lambda: pair.b.address)
        async with AsyncExitStack() as stack:
            scout = Attackers(address, stack)
            first = await scout.peer("identify")
            protocols = await first.protocols_of(scout.target)
        async with trio.open_nursery() as nursery:
            for tag, protocol in enumerate(protocols, start=1):
                nursery.start_soon(one_protocol, address, protocol, tag)
        return protocols, used

    return trio.run(session)


def penalties_by_protocol(pair: Pair, used: dict[str, list[str]]) -> dict[str, int]:
    penalties = pair.b.status()["penalties"]
    return {p: sum(penalties.get(i, 0) for i in ids) for p, ids in used.items()}


def test_garbage_on_every_protocol_leaves_the_node_up_and_costs_the_sender(pair: Pair) -> None:
    """The short set on every protocol b serves: b stays up, gossips on, and penalises (then
    bans) the senders of what it cannot parse."""
    started = time.monotonic()
    protocols, used = attack(pair, list(SHORT_PAYLOADS.values()))
    took = time.monotonic() - started
    assert set(protocols) >= EXPECTED_PROTOCOLS, protocols
    assert set(used) == set(protocols)
    assert pair.b.proc.poll() is None, pair.b.logs()
    delay = pair.gossip_still_flows("garbage on every protocol")
    penalties = penalties_by_protocol(pair, used)
    for protocol in MESHSUB:
        assert penalties[protocol] >= MESHSUB_FAULTS, (protocol, penalties)
    assert penalties[SYNC_PROTOCOL_ID] >= 1, penalties
    banned = set(pair.b.status()["banned"])
    assert banned & set(used["/meshsub/1.1.0"]), (banned, used)
    assert "bad-stream on /meshsub/1.1.0: DecodeError" in pair.b.stdout()
    print(
        f"{len(SHORT_PAYLOADS)} payloads x {len(protocols)} protocols in {took:.1f} s; "
        f"penalties {penalties}; b's next post reached a in {delay * 1000:.0f} ms"
    )


@pytest.mark.slow
def test_random_bytes_on_every_protocol_never_stop_the_node(pair: Pair) -> None:
    """40 random payloads (random bytes, flipped or cut RPCs, random length prefixes) on every
    protocol b serves: b stays up and gossips on; meshsub garbage is penalised."""
    rng = random.Random(11)
    payloads = [random_payload(rng) for _ in range(40)]
    started = time.monotonic()
    protocols, used = attack(pair, payloads)
    took = time.monotonic() - started
    assert set(protocols) >= EXPECTED_PROTOCOLS, protocols
    assert pair.b.proc.poll() is None, pair.b.logs()
    delay = pair.gossip_still_flows("random bytes on every protocol")
    penalties = penalties_by_protocol(pair, used)
    for protocol in MESHSUB:
        assert penalties[protocol] >= 1, (protocol, penalties)
    print(
        f"{len(payloads)} random payloads x {len(protocols)} protocols in {took:.1f} s; "
        f"penalties {penalties}; b's next post reached a in {delay * 1000:.0f} ms"
    )
