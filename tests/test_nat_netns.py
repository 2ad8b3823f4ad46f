"""Issue 17 across real NATs: relays, reservations, invites, hole punching (network namespaces).

The topology (``tests.netns_kit``): two relays on a public-looking segment, two home routers that
MASQUERADE their LAN and drop unsolicited inbound, a home node behind each. Skips with a one-line
reason without root, iptables or the kernel's NAT support.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.net.relaying import RelayLimits
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


def _wait_reachable(node: NatNode) -> None:
    def reachable() -> bool:
        return bool(node.reach().get("status") == "reachable")

    wait_until(reachable, timeout=30, what=f"{node.name} reachable")


def _wait_behind_nat(node: NatNode) -> None:
    def behind() -> dict[str, object] | None:
        return _behind_nat_with_relays(node)

    wait_until(behind, timeout=40, what=f"{node.name} behind NAT with 2 relays")


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
            _wait_reachable(relay)
        for home in (a, b):
            _wait_behind_nat(home)
        assert any("/p2p-circuit" in x for x in a.status()["listen_addrs"])
        assert a.reach()["dht_client"] and not relays[0].reach()["dht_client"]  # issue 23 item 3
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
            _wait_behind_nat(home)
        a.cli("post", "written before the invite")  # reaches b by sync, over the relay
        took, _ = _accept_and_post(a, b)
        print(f"accept -> first post (relayed, random ports): {took} s")
        wait_until(
            lambda: "written before the invite" in b.cli("timeline"), timeout=20, what="sync"
        )
        a_id = a.status()["peer_id"]
        assert _relay_of(b, a_id) is not None  # still relayed: the punch cannot pass this NAT


def _relay_of(b: NatNode, peer_id: str) -> str | None:
    """The relay peer id b's connection to ``peer_id`` goes through, if relayed."""
    for row in b.peer_rows():
        address = row.get("address") or ""
        if row["peer_id"] == peer_id and "p2p-circuit" in address:
            return address.split("/p2p-circuit")[0].rsplit("/p2p/", 1)[1]
    return None


def test_when_the_relay_dies_the_homes_move_to_the_other(
    port_randomising: Topology, tmp_path: Path
) -> None:
    topo = port_randomising
    with NatCluster(topo, tmp_path) as cluster:
        relays, a, b = _start_square(topo, cluster)
        for home in (a, b):
            _wait_behind_nat(home)
        _accept_and_post(a, b)
        a_id = a.status()["peer_id"]
        used = wait_until(lambda: _relay_of(b, a_id), timeout=10, what="b reaches a relayed")
        index = [r.status()["peer_id"] for r in relays].index(used)
        topo.kill_processes(topo.relay_ns[index])
        started = time.monotonic()

        def through_the_other() -> bool:
            other = _relay_of(b, a_id)
            return other is not None and other != used

        wait_until(through_the_other, timeout=30, what="b reaches a through the other relay")
        print(f"relay killed -> relayed through the other: {elapsed(started)} s")
        a.cli("post", "after the relay died")
        wait_until(
            lambda: "after the relay died" in b.cli("timeline"), timeout=10, what="post arrives"
        )


def test_a_hostile_client_stays_inside_the_relays_limits(
    port_preserving: Topology, tmp_path: Path
) -> None:
    topo = port_preserving
    with NatCluster(topo, tmp_path) as cluster:
        relays, a, b = _start_square(topo, cluster)
        wait_until(lambda: _behind_nat_with_relays(b), timeout=40, what="b holds 2 reservations")
        relay = relays[0]
        relay_id, b_id = relay.status()["peer_id"], b.status()["peer_id"]
        argv = [sys.executable, "-m", "tests.nat_hostile", address(relay, topo.relay_addr[0])]
        hostile = topo.popen(
            topo.relay_ns[1],
            [*argv, b_id, "12", "12"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=str(Path(__file__).resolve().parents[1]),
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        try:
            assert hostile.stdout is not None
            line = hostile.stdout.readline()
            result = json.loads(line)
            limits = RelayLimits()
            assert result["reservations_granted"] == limits.max_reservations_per_ip
            assert result["circuits_open"] >= 1
            counters = relay.reach()
            # at no moment did the one machine hold more than its share of b's circuits
            assert counters["relay_circuits_peak"] <= limits.max_circuits_per_ip_to_peer
            assert counters["relay_refused_reservations"] >= 12 - limits.max_reservations_per_ip
            assert counters["relay_refused_circuits"] >= 12 - result["circuits_open"]
            # the honest: b keeps its reservation, a reaches b through this very relay
            assert relay_id in b.reach()["relays"]
            circuit = f"{address(relay, topo.relay_addr[0])}/p2p-circuit/p2p/{b_id}"
            assert b_id in a.cli("connect", circuit)
        finally:
            hostile.kill()
            hostile.wait()


def test_a_home_finds_a_relay_through_the_dht(port_preserving: Topology, tmp_path: Path) -> None:
    """The home knows one public node, which is no relay; the relay is found in the DHT."""
    topo = port_preserving
    with NatCluster(topo, tmp_path) as cluster:
        friend = cluster.start("friend", topo.relay_ns[1], topo.relay_addr[1], "--relay", "off")
        boot = ["--bootstrap", address(friend, topo.relay_addr[1])]
        relay = cluster.start("relay", topo.relay_ns[0], topo.relay_addr[0], "--relay", "on", *boot)
        a = cluster.start("a", topo.home_ns["a"], topo.home_addr["a"], *boot)
        relay_id = relay.status()["peer_id"]

        def reserved() -> bool:
            return relay_id in a.reach().get("relays", [])

        wait_until(reserved, timeout=60, what="a holds a reservation on the relay found in the DHT")
        assert any(relay_id in x and "/p2p-circuit" in x for x in a.status()["listen_addrs"])
