"""Issue 17 across real NATs: relays, reservations, invites, hole punching (network namespaces).

The topology (``tests.netns_kit``): two relays on a public-looking segment, two home routers that
MASQUERADE their LAN and drop unsolicited inbound, a home node behind each. Skips with a one-line
reason without root, iptables or the kernel's NAT support.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nat_nodes import NatCluster, NatNode, address, elapsed
from tests.netns_kit import Topology, nat_topology, require_nat_support
from tests.waiting import wait_until

pytestmark = pytest.mark.network


@pytest.fixture
def port_preserving() -> Iterator[Topology]:
    require_nat_support()
    with nat_topology(relays=2, homes={"a": "masquerade", "b": "masquerade"}) as topo:
        yield topo


@pytest.fixture
def port_randomising() -> Iterator[Topology]:
    require_nat_support()
    with nat_topology(relays=2, homes={"a": "random", "b": "random"}) as topo:
        yield topo


def _start_square(topo: Topology, cluster: NatCluster) -> tuple[list[NatNode], NatNode, NatNode]:
    relays = [
        cluster.start(f"relay{i}", topo.relay_ns[i], topo.relay_addr[i], "--relay", "on")
        for i in range(2)
    ]
    boot = [
        arg for i, r in enumerate(relays) for arg in ("--bootstrap", address(r, topo.relay_addr[i]))
    ]
    a = cluster.start("a", topo.home_ns["a"], topo.home_addr["a"], *boot)
    b = cluster.start("b", topo.home_ns["b"], topo.home_addr["b"], *boot)
    return relays, a, b


def _behind_nat_with_relays(node: NatNode) -> dict[str, object] | None:
    reach = node.reach()
    if reach.get("status") == "behind NAT" and len(reach.get("relays", [])) >= 2:
        return reach
    return None


def _accept_and_post(a: NatNode, b: NatNode) -> tuple[float, str]:
    invite = a.cli("invite").split()[0]
    assert invite.startswith("pnyxinv1"), invite
    started = time.monotonic()
    out = b.cli("accept", "--yes", invite)
    assert "connected via" in out and "/p2p-circuit" in out, out
    a.cli("post", "hello from behind a NAT")

    def arrived() -> bool:
        return "hello from behind a NAT" in b.cli("timeline")

    wait_until(arrived, timeout=20, what="b has a's post")
    return elapsed(started), out


def _direct_to(b: NatNode, peer_id: str) -> bool:
    rows = [r for r in b.peer_rows() if r["peer_id"] == peer_id]
    return any(r.get("address") and "p2p-circuit" not in r["address"] for r in rows)


def test_home_nodes_meet_through_a_relay_then_go_direct(
    port_preserving: Topology, tmp_path: Path
) -> None:
    topo = port_preserving
    with NatCluster(topo, tmp_path) as cluster:
        relays, a, b = _start_square(topo, cluster)
        for relay in relays:
            wait_until(
                lambda r=relay: r.reach().get("status") == "reachable",
                timeout=30,
                what=f"{relay.name} reachable",
            )
        for home in (a, b):
            wait_until(
                lambda h=home: _behind_nat_with_relays(h),
                timeout=40,
                what=f"{home.name} behind NAT with 2 relays",
            )
        assert any("/p2p-circuit" in x for x in a.status()["listen_addrs"])
        took, _ = _accept_and_post(a, b)
        print(f"accept -> first post (relayed): {took} s")
        a_id = a.status()["peer_id"]
        started = time.monotonic()
        wait_until(lambda: _direct_to(b, a_id), timeout=30, what="b's connection to a goes direct")
        print(f"relayed -> direct (hole punch): {elapsed(started)} s")
        a.cli("post", "and now directly")
        wait_until(lambda: "and now directly" in b.cli("timeline"), timeout=10, what="direct post")


def test_a_port_randomising_nat_keeps_the_relay(port_randomising: Topology, tmp_path: Path) -> None:
    topo = port_randomising
    with NatCluster(topo, tmp_path) as cluster:
        _, a, b = _start_square(topo, cluster)
        for home in (a, b):
            wait_until(
                lambda h=home: _behind_nat_with_relays(h),
                timeout=40,
                what=f"{home.name} behind NAT with 2 relays",
            )
        took, _ = _accept_and_post(a, b)
        print(f"accept -> first post (relayed, random ports): {took} s")
