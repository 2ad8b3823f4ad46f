"""The DHT part of the libp2p adapter in one process (hosts on 127.0.0.1): the feed key, address
filtering, announcing and finding holders, finding an author's node, walking, and the DHT off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import multiaddr
import nacl.signing
import pytest
import trio

from pnyx.gossip import dht as dht_module
from pnyx.gossip.adapter import Libp2pNetwork, open_libp2p_network
from pnyx.gossip.dht import announced_addrs, dialable, feed_key
from pnyx.net.contracts import FoundBy, Verdict

#: Real libp2p hosts on 127.0.0.1 sockets, in this process.
pytestmark = pytest.mark.network

LOCAL = "/ip4/127.0.0.1/tcp/0"
#: Real-time cap of each test, in seconds.
CAP_S = 30
PEER = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"


async def accept(data: bytes, forwarder: str) -> Verdict:
    return Verdict.ACCEPT


def seed(index: int) -> bytes:
    return bytes([index + 1]) * 32


def author_of(index: int) -> bytes:
    return bytes(nacl.signing.SigningKey(seed(index)).verify_key)


@asynccontextmanager
async def star(count: int, *, dht: bool = True) -> AsyncIterator[list[Libp2pNetwork]]:
    """``count`` hosts; every one but the first dials the first. Waits until the hub's routing
    table holds them all."""
    async with AsyncExitStack() as stack:
        networks = [
            await stack.enter_async_context(
                open_libp2p_network(seed=seed(i), listen=[LOCAL], validator=accept, dht=dht)
            )
            for i in range(count)
        ]
        hub = networks[0]
        for network in networks[1:]:
            await network.connect(hub.listen_addrs()[0])
        if dht:
            while hub.discovery_stats()["dht_routing_table"] < count - 1:
                await trio.sleep(0.02)
        yield networks


def test_feed_key_is_the_sha256_multihash_of_the_prefixed_author_key() -> None:
    key = feed_key(bytes(range(32)))
    assert key.hex() == "1220f7a3b6d615afc7e1f811aeb0dca76999ca87ba3dd2e02cee9b83e0e91ebaad95"
    assert feed_key(bytes(32)) != feed_key(bytes(31) + b"\x01")
    with pytest.raises(ValueError, match="32 bytes"):
        feed_key(b"short")


def test_only_dialable_tcp_addresses_are_kept_once_each() -> None:
    kept = dialable(
        [
            multiaddr.Multiaddr("/ip4/192.0.2.1/tcp/4717"),
            f"/ip4/192.0.2.1/tcp/4717/p2p/{PEER}",  # the same, with the peer id
            "/ip4/0.0.0.0/tcp/4717",
            "/ip6/::/tcp/4717",
            "/ip4/192.0.2.1/udp/4717/quic-v1",
            "/ip6/2001:db8::1/tcp/1",
        ],
        PEER,
    )
    assert kept == (f"/ip4/192.0.2.1/tcp/4717/p2p/{PEER}", f"/ip6/2001:db8::1/tcp/1/p2p/{PEER}")
    many = dialable([f"/ip4/192.0.2.{i}/tcp/1" for i in range(1, 30)], PEER)
    assert len(many) == dht_module.MAX_ADDRESSES_PER_PEER


def test_a_wildcard_listen_address_is_announced_as_real_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dht_module, "_local_ips", lambda: ["192.0.2.7"])
    announced = announced_addrs(
        [multiaddr.Multiaddr("/ip4/0.0.0.0/tcp/4717"), multiaddr.Multiaddr("/ip4/10.1.1.1/tcp/9")]
    )
    assert [str(a) for a in announced] == [
        "/ip4/192.0.2.7/tcp/4717",
        "/ip4/127.0.0.1/tcp/4717",
        "/ip4/10.1.1.1/tcp/9",
    ]


async def test_holders_are_found_even_by_a_node_that_holds_the_feed_itself() -> None:
    with trio.fail_after(CAP_S):
        async with star(4) as (_hub, a, c, d):
            author = author_of(1)  # a's own feed
            assert await a.provide(author)
            found = await c.find_providers(author, 8)
            assert [f.peer_id for f in found] == [a.peer_id]
            assert found[0].source is FoundBy.DHT
            assert found[0].addresses == tuple(a.listen_addrs())
            # c announces the same feed: py-libp2p's own lookup would now answer from c's cache
            # (c alone); ours still asks the network and finds a.
            assert await c.provide(author)
            found = await c.find_providers(author, 8)
            assert [f.peer_id for f in found] == [a.peer_id]
            both = await d.find_providers(author, 8)
            assert sorted(f.peer_id for f in both) == sorted([a.peer_id, c.peer_id])
            assert len(await d.find_providers(author, 1)) == 1
            assert await d.find_providers(author_of(9), 8) == []  # nobody holds it


async def test_an_authors_own_node_is_found_by_its_key_and_walks_meet_peers() -> None:
    with trio.fail_after(CAP_S):
        async with star(4) as (_hub, a, _c, d):
            target = d.author_peer_id(author_of(1))
            assert target == a.peer_id  # node_key = identity: the author key is the peer id
            peer = await d.find_peer(target)
            assert peer is not None and peer.addresses == tuple(a.listen_addrs())
            assert await d.find_peer("not-a-peer-id") is None
            met = await d.sample_peers(20)
            ids = [f.peer_id for f in met]
            assert len(ids) == len(set(ids)) >= 2 and d.peer_id not in ids
            assert all(f.addresses and f.source is FoundBy.DHT for f in met)
            assert len(await d.sample_peers(1)) == 1


async def test_with_the_dht_off_every_answer_is_empty() -> None:
    with trio.fail_after(CAP_S):
        async with star(2, dht=False) as (hub, a):
            assert not await a.provide(author_of(1))
            assert await a.find_providers(author_of(0), 8) == []
            assert await a.find_peer(hub.peer_id) is None
            assert await a.sample_peers(8) == []
            assert "dht_routing_table" not in a.discovery_stats()
            assert a.peer_addresses(hub.peer_id) == hub.listen_addrs()
