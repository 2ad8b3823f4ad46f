"""mDNS: the TXT record, the interfaces chosen from listen addresses, and the hop from zeroconf's
thread into trio (with a fake backend: tests never bind UDP port 5353).

A real zeroconf run on 127.0.0.1 is opt-in (``PNYX_TEST_MDNS=1``): zeroconf's receiving socket
binds the wildcard address on UDP 5353 even when its multicast membership is limited to loopback.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import ClassVar

import pytest
import trio
from zeroconf import InterfaceChoice, IPVersion

from pnyx.gossip.mdns import (
    MAX_MDNS_ADDRESSES,
    Interfaces,
    MdnsStats,
    mdns_interfaces,
    open_mdns,
    parse_txt,
    txt_record,
)
from pnyx.net.contracts import FoundBy, FoundPeer

ME = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"
OTHER = "12D3KooWRndVhVZPCiQwHBBBdg769GyrPUW13zxwqQyf9r3ANaba"
CAP_S = 20


def test_txt_record_round_trip() -> None:
    addresses = [f"/ip4/192.0.2.1/tcp/4717/p2p/{OTHER}", f"/ip6/2001:db8::1/tcp/4717/p2p/{OTHER}"]
    found = parse_txt(txt_record(addresses), ME)
    assert found == FoundPeer(OTHER, tuple(addresses), FoundBy.MDNS)
    many = [f"/ip4/192.0.2.{i}/tcp/1/p2p/{OTHER}" for i in range(1, 20)]
    parsed = parse_txt(txt_record(many), ME)
    assert parsed is not None and len(parsed.addresses) == MAX_MDNS_ADDRESSES


def test_txt_records_that_are_ours_mixed_or_junk_are_ignored() -> None:
    assert parse_txt(txt_record([f"/ip4/192.0.2.1/tcp/1/p2p/{ME}"]), ME) is None
    mixed = [f"/ip4/192.0.2.1/tcp/1/p2p/{OTHER}", f"/ip4/192.0.2.2/tcp/1/p2p/{ME}"]
    assert parse_txt(txt_record(mixed), ME) is None
    junk = bytes([8]) + b"dnsaddr=" + bytes([12]) + b"dnsaddr=/zz/" + bytes([3]) + b"a=b"
    assert parse_txt(junk, ME) is None
    assert parse_txt(b"\xff\x00", ME) is None  # a length running past the end
    assert parse_txt(b"", ME) is None


def test_interfaces_are_those_of_the_listen_addresses() -> None:
    assert mdns_interfaces(["/ip4/127.0.0.1/tcp/0"]) == (["127.0.0.1"], IPVersion.V4Only)
    assert mdns_interfaces(["/ip4/192.0.2.5/tcp/1", "/ip6/::1/tcp/1"]) == (
        ["192.0.2.5", "::1"],
        IPVersion.All,
    )
    assert mdns_interfaces(["/ip4/0.0.0.0/tcp/4717"]) == (InterfaceChoice.All, IPVersion.V4Only)
    assert mdns_interfaces(["/ip6/::/tcp/4717"]) == (InterfaceChoice.All, IPVersion.V6Only)


class FakeBackend:
    """Stands in for zeroconf: ``start`` hands finds over from a thread of its own."""

    instances: ClassVar[list[FakeBackend]] = []

    def __init__(
        self,
        peer_id: str,
        addresses: Sequence[str],
        interfaces: Interfaces,
        version: IPVersion,
        hand_over: Callable[[FoundPeer | None], None],
    ) -> None:
        self.args = (peer_id, list(addresses), interfaces, version)
        self.hand_over = hand_over
        self.stopped = False
        FakeBackend.instances.append(self)

    def start(self) -> None:
        def browse() -> None:
            self.hand_over(FoundPeer(OTHER, (f"/ip4/192.0.2.1/tcp/1/p2p/{OTHER}",), FoundBy.MDNS))
            self.hand_over(None)  # a record that did not parse

        thread = threading.Thread(target=browse)
        thread.start()
        thread.join()

    def stop(self) -> None:
        self.stopped = True


def test_finds_hop_from_the_library_thread_into_trio_and_stop_after_the_run() -> None:
    delivered: list[tuple[FoundPeer, int]] = []
    trio_thread = threading.get_ident()
    FakeBackend.instances.clear()
    stats_seen: list[MdnsStats] = []

    async def main() -> None:
        with trio.fail_after(CAP_S):
            async with open_mdns(
                ME,
                ["/ip4/0.0.0.0/tcp/4717"],
                [f"/ip4/192.0.2.9/tcp/4717/p2p/{ME}", f"/ip4/127.0.0.1/tcp/4717/p2p/{ME}"],
                lambda found: delivered.append((found, threading.get_ident())),
                backend=FakeBackend,
            ) as stats:
                stats_seen.append(stats)
                while stats.found + stats.ignored < 2:
                    await trio.sleep(0.01)

    trio.run(main)
    (backend,) = FakeBackend.instances
    assert backend.stopped
    # every interface: loopback is not announced on the LAN
    assert backend.args == (
        ME,
        [f"/ip4/192.0.2.9/tcp/4717/p2p/{ME}"],
        InterfaceChoice.All,
        IPVersion.V4Only,
    )
    assert [(f.peer_id, thread) for f, thread in delivered] == [(OTHER, trio_thread)]
    stats = stats_seen[0]
    assert (stats.found, stats.ignored, stats.dropped) == (1, 1, 0)
    backend.hand_over(None)  # zeroconf calling back after trio.run ended: counted, no crash
    assert stats.dropped == 1


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("PNYX_TEST_MDNS") != "1",
    reason="binds UDP *:5353 (multicast membership on 127.0.0.1 only); set PNYX_TEST_MDNS=1",
)
async def test_two_nodes_find_each_other_with_real_zeroconf_on_loopback() -> None:
    finds: dict[str, list[FoundPeer]] = {ME: [], OTHER: []}
    with trio.fail_after(CAP_S):
        async with (
            open_mdns(
                ME,
                ["/ip4/127.0.0.1/tcp/0"],
                [f"/ip4/127.0.0.1/tcp/1111/p2p/{ME}"],
                finds[ME].append,
            ),
            open_mdns(
                OTHER,
                ["/ip4/127.0.0.1/tcp/0"],
                [f"/ip4/127.0.0.1/tcp/2222/p2p/{OTHER}"],
                finds[OTHER].append,
            ),
        ):
            started = trio.current_time()
            while not (finds[ME] and finds[OTHER]):
                await trio.sleep(0.05)
            print(f"mDNS discovery on loopback took {trio.current_time() - started:.2f} s")
    assert finds[ME][0].addresses == (f"/ip4/127.0.0.1/tcp/2222/p2p/{OTHER}",)
    assert finds[OTHER][0].addresses == (f"/ip4/127.0.0.1/tcp/1111/p2p/{ME}",)
