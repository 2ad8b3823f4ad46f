"""The dialer's trio loop on the in-memory network (virtual time): bootstrap, backoff, the target
number of connections, replacing lost peers, reconnecting from the peer book, how peers were
found."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trio

from pnyx.discovery.dialer import Dialer
from pnyx.discovery.dialpolicy import BACKOFF_BASE_S
from pnyx.discovery.peerbook import PeerBook, PeerRecord
from pnyx.net.contracts import ConnectError, FoundBy, FoundPeer, Verdict
from pnyx.net.memnet import MemoryHub, MemoryNetwork, open_memory_network
from pnyx.runtime import inline
from tests.waiting import eventually

#: Virtual-time cap of each test, in seconds.
CAP_S = 300


async def accept(data: bytes, forwarder: str) -> Verdict:
    return Verdict.ACCEPT


def addr(name: str) -> str:
    return f"/memory/p2p/{name}"


async def pump_events(network: MemoryNetwork, dialer: Dialer) -> None:
    async for event in network.events:
        dialer.peer_event(event)


@asynccontextmanager
async def node(hub: MemoryHub, name: str) -> AsyncIterator[MemoryNetwork]:
    """A bare network that drains its own events (a peer that runs no dialer)."""
    async with open_memory_network(hub, name, accept) as network, trio.open_nursery() as nursery:
        nursery.start_soon(_drain, network)
        yield network
        nursery.cancel_scope.cancel()


async def _drain(network: MemoryNetwork) -> None:
    async for _ in network.events:
        pass


@asynccontextmanager
async def dialing(
    hub: MemoryHub,
    name: str,
    book: PeerBook,
    *,
    target: int = 8,
    bootstrap: tuple[str, ...] = (),
) -> AsyncIterator[tuple[MemoryNetwork, Dialer]]:
    async with open_memory_network(hub, name, accept) as network, trio.open_nursery() as nursery:
        dialer = Dialer(network, book, offload=inline, target=target, bootstrap=bootstrap)
        nursery.start_soon(pump_events, network, dialer)
        await nursery.start(dialer.run)
        yield network, dialer
        nursery.cancel_scope.cancel()


def connected(network: MemoryNetwork) -> set[str]:
    return {p.peer_id for p in network.peers()}


async def test_bootstrap_peer_is_dialled_at_start_and_remembered(
    autojump_clock: trio.abc.Clock,
) -> None:
    hub = MemoryHub()
    with trio.fail_after(CAP_S), PeerBook.open(None) as book:
        async with node(hub, "b"), dialing(hub, "a", book, bootstrap=(addr("b"),)) as (a, d):
            await eventually(lambda: connected(a) == {"b"}, "a connects to its bootstrap peer")
            assert d.found_by("b") == "bootstrap"
            await eventually(lambda: book.count() == 1, "the peer book is written")
            (record,) = book.load()
            assert record.pinned and record.source == "bootstrap"
            assert record.addresses == (addr("b"),) and record.last_success_ms is not None
            assert d.peer_rows() == [
                {
                    "peer_id": "b",
                    "direction": "outbound",
                    "address": addr("b"),
                    "found_by": "bootstrap",
                    "state": "connected",
                }
            ]


async def test_unreachable_bootstrap_is_retried_with_backoff_until_it_comes_up(
    autojump_clock: trio.abc.Clock,
) -> None:
    hub = MemoryHub()
    with trio.fail_after(CAP_S), PeerBook.open(None) as book:
        async with dialing(hub, "a", book, bootstrap=(addr("b"),)) as (a, d):
            started = trio.current_time()
            await eventually(lambda: d.stats.dial_failures >= 4, "four failed dials")
            # dials at 0, 1, 3, 7 s (waits of 1, 2, 4 s): the fourth failure comes after 7 s
            assert trio.current_time() - started >= 7 * BACKOFF_BASE_S
            assert d.stats.dial_failures == 4
            (row,) = d.peer_rows(everyone=True)
            assert row["state"].startswith("retry in") and "4 failed dials" in row["state"]
            async with node(hub, "b"):
                up = trio.current_time()
                await eventually(lambda: connected(a) == {"b"}, "a reaches b once it is up")
                assert trio.current_time() - up <= 8 * BACKOFF_BASE_S + 1
                assert book.load()[0].failures == 0


async def test_keeps_the_target_and_replaces_a_peer_that_goes_away(
    autojump_clock: trio.abc.Clock,
) -> None:
    hub = MemoryHub()
    with trio.fail_after(CAP_S), PeerBook.open(None) as book:
        book.save_many(
            PeerRecord(f"p{i}", (addr(f"p{i}"),), "dht", False, 0, 0, last_success_ms=1)
            for i in range(5)
        )
        async with AsyncExitStack() as stack:
            for i in range(5):
                await stack.enter_async_context(node(hub, f"p{i}"))
            async with dialing(hub, "a", book, target=3) as (a, d):
                await eventually(lambda: len(connected(a)) == 3, "a holds three connections")
                await trio.sleep(5)
                assert len(connected(a)) == 3  # no more than the target
                assert {d.found_by(p) for p in connected(a)} == {"peerbook"}
                gone = sorted(connected(a))[0]
                await hub.nodes[gone].disconnect("a")
                hub.nodes[gone]._banned["a"] = trio.current_time() + 1000  # and refuses a
                await eventually(
                    lambda: len(connected(a)) == 3 and gone not in connected(a),
                    "a replaces the lost peer",
                    limit_s=5,
                )


async def test_restarted_node_reconnects_from_its_peer_book(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    hub = MemoryHub()
    path = tmp_path / "peers.db"
    with trio.fail_after(CAP_S):
        async with node(hub, "b"):
            with PeerBook.open(path) as book:
                async with dialing(hub, "a", book, bootstrap=(addr("b"),)) as (a, _):
                    await eventually(lambda: connected(a) == {"b"}, "first run connects")
                    await trio.sleep(2)  # the tick writes the book
            with PeerBook.open(path) as book:
                async with dialing(hub, "a", book) as (a, d):  # no bootstrap this time
                    started = trio.current_time()
                    await eventually(lambda: connected(a) == {"b"}, "a reconnects from its book")
                    assert trio.current_time() - started < 2
                    assert d.found_by("b") == "peerbook"
                    await trio.sleep(2)
                    (record,) = book.load()
                    assert record.source == "bootstrap" and not record.pinned  # not configured


async def test_found_by_inbound_manual_and_requests(autojump_clock: trio.abc.Clock) -> None:
    hub = MemoryHub()
    with trio.fail_after(CAP_S), PeerBook.open(None) as book:
        async with (
            node(hub, "b"),
            node(hub, "c"),
            node(hub, "d"),
            dialing(hub, "a", book, target=2) as (a, d),
        ):
            await hub.nodes["b"].connect(addr("a"))
            assert await d.connect(addr("c")) == "c"
            await eventually(lambda: d.found_by("b") == "inbound", "b is seen as inbound")
            assert d.found_by("c") == "manual"
            with pytest.raises(ConnectError):
                await d.connect(addr("nobody"))
            # at the target: an ordinary find is only remembered, a wanted holder is dialled
            d.request(FoundPeer("d", (addr("d"),), FoundBy.MDNS))
            await trio.sleep(3)
            assert "d" not in connected(a)
            d.request(FoundPeer("d", (addr("d"),), FoundBy.DHT), force=True)
            await eventually(lambda: "d" in connected(a), "a dials the holder it was asked to")
            assert d.found_by("d") == "dht"
            rows = {r["peer_id"]: r for r in d.peer_rows(everyone=True)}
            assert rows["nobody"]["state"] == "due (1 failed dial)"  # not needed: at target
            assert rows["nobody"]["found_by"] == "manual"
            assert {rows[p]["state"] for p in "bcd"} == {"connected"}
            status = d.status()
            assert status["connected_by"] == {"inbound": 1, "manual": 1, "dht": 1}
            assert status["peerbook"] == 4


async def test_bootstrap_list_naming_itself_or_nobody_is_skipped(
    autojump_clock: trio.abc.Clock,
) -> None:
    hub = MemoryHub()
    with trio.fail_after(CAP_S), PeerBook.open(None) as book:
        bootstrap = (addr("a"), "/memory/no-peer-id")
        async with dialing(hub, "a", book, bootstrap=bootstrap) as (_, d):
            await trio.sleep(3)
            assert d.stats.dials == 0 and d.peer_rows(everyone=True) == []
