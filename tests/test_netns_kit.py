"""Smoke tests of tests/netns_kit.py: its NATs behave like a home NAT (outbound works and is
masqueraded, unsolicited inbound is dropped, replies come back through conntrack), and nothing is
left behind. Skipped, with the reason, where namespaces or iptables NAT are unavailable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.netns_kit import (
    Topology,
    namespaces,
    nat_topology,
    require_nat_support,
    topology_fixture,
)

pytestmark = [pytest.mark.network, pytest.mark.timeout(20)]

topo = topology_fixture(homes={"a": "masquerade", "b": "random"}, scope="module")

# One small socket tool, run with this venv's python inside a namespace. Every wait is bounded.
PROBE = r"""
import socket, sys
mode, args = sys.argv[1], sys.argv[2:]

def say(*words):
    print(*words, flush=True)

def outcome(exc):
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return f"errno {exc.errno}"

if mode == "tcp-serve":  # PORT COUNT WAIT: print each peer's address
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(args[0]))); s.listen(); s.settimeout(float(args[2]))
    say("ready")
    try:
        for _ in range(int(args[1])):
            c, peer = s.accept(); say("peer", *peer); c.close()
    except OSError as exc:
        say(outcome(exc))
elif mode == "tcp-connect":  # HOST PORT SRCPORT WAIT: ok, timeout, refused or errno N
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if int(args[2]):
        s.bind(("0.0.0.0", int(args[2])))
    s.settimeout(float(args[3]))
    try:
        s.connect((args[0], int(args[1]))); say("ok")
    except OSError as exc:
        say(outcome(exc))
elif mode == "udp-echo":  # PORT WAIT: answer one datagram, print its source
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(args[0]))); s.settimeout(float(args[1]))
    say("ready")
    try:
        data, peer = s.recvfrom(100); say("peer", *peer); s.sendto(b"pong", peer)
    except OSError as exc:
        say(outcome(exc))
elif mode == "udp-ask":  # HOST PORT SRCPORT WAIT: send, wait for the answer
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(args[2]))); s.settimeout(float(args[3]))
    s.sendto(b"ping", (args[0], int(args[1])))
    try:
        say("reply", s.recvfrom(100)[0].decode())
    except OSError as exc:
        say(outcome(exc))
elif mode == "udp-listen":  # PORT WAIT: got or timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(args[0]))); s.settimeout(float(args[1]))
    say("ready")
    try:
        s.recvfrom(100); say("got")
    except OSError as exc:
        say(outcome(exc))
elif mode == "udp-send":  # HOST PORT COUNT
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(int(args[2])):
        s.sendto(b"hello", (args[0], int(args[1])))
    say("sent")
"""

WAIT = "1.0"  # what "dropped" means: no answer within a second (a refusal would be immediate)


def probe_argv(*args: object) -> list[str]:
    return [sys.executable, "-c", PROBE, *map(str, args)]


def probe(t: Topology, ns: str, *args: object) -> str:
    """Run the probe to completion in ``ns``; its stdout, stripped."""
    return t.run(ns, probe_argv(*args), timeout=10, check=True).stdout.strip()


def serve(t: Topology, ns: str, *args: object) -> subprocess.Popen[str]:
    """Start a probe server in ``ns`` and wait until it is listening."""
    proc = t.popen(ns, probe_argv(*args), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def finish(proc: subprocess.Popen[str]) -> list[str]:
    """Wait for a probe server; its remaining output lines."""
    out, _ = proc.communicate(timeout=10)
    return out.split("\n")[:-1]


def stop(proc: subprocess.Popen[str]) -> list[str]:
    """Stop a probe server that should have seen nothing; its remaining output lines."""
    proc.terminate()
    return finish(proc)


def test_home_reaches_relay_masqueraded_with_port_kept(topo: Topology) -> None:
    server = serve(topo, topo.relay_ns[0], "tcp-serve", 7000, 1, 5)
    assert probe(topo, topo.home_ns["a"], "tcp-connect", topo.relay_addr[0], 7000, 40001, 5) == "ok"
    # The relay sees the router's public address, and "masquerade" kept the home's port.
    assert finish(server) == [f"peer {topo.router_wan_addr['a']} 40001"]


def test_relay_cannot_reach_home_unsolicited(topo: Topology) -> None:
    home = serve(topo, topo.home_ns["a"], "tcp-serve", 7001, 1, 10)
    wan = topo.router_wan_addr["a"]
    assert probe(topo, topo.relay_ns[0], "tcp-connect", wan, 7001, 0, WAIT) == "timeout"
    # No route to the private side at all: ENETUNREACH at once.
    assert probe(topo, topo.relay_ns[0], "tcp-connect", topo.home_addr["a"], 7001, 0, WAIT) == (
        "errno 101"
    )
    assert stop(home) == []  # it never saw a connection


def test_homes_cannot_reach_each_other_unsolicited(topo: Topology) -> None:
    servers = {h: serve(topo, topo.home_ns[h], "tcp-serve", 7002, 1, 10) for h in ("a", "b")}
    clients = {
        src: topo.popen(
            topo.home_ns[src],
            probe_argv("tcp-connect", topo.router_wan_addr[dst], 7002, 0, WAIT),
            stdout=subprocess.PIPE,
            text=True,
        )
        for src, dst in (("a", "b"), ("b", "a"))
    }
    assert {src: finish(proc) for src, proc in clients.items()} == {
        "a": ["timeout"],
        "b": ["timeout"],
    }
    assert {h: stop(proc) for h, proc in servers.items()} == {"a": [], "b": []}


def test_udp_answer_comes_back_unsolicited_udp_does_not(topo: Topology) -> None:
    echo = serve(topo, topo.relay_ns[0], "udp-echo", 7003, 5)
    assert probe(topo, topo.home_ns["a"], "udp-ask", topo.relay_addr[0], 7003, 40002, 5) == (
        "reply pong"
    )
    assert finish(echo) == [f"peer {topo.router_wan_addr['a']} 40002"]

    listener = serve(topo, topo.home_ns["a"], "udp-listen", 40003, WAIT)
    wan = topo.router_wan_addr["a"]
    assert probe(topo, topo.relay_ns[0], "udp-send", wan, 40003, 3) == "sent"
    assert finish(listener) == ["timeout"]


def test_random_nat_changes_the_source_port(topo: Topology) -> None:
    server = serve(topo, topo.relay_ns[0], "tcp-serve", 7004, 3, 5)
    bound = [41001, 41002, 41003]
    for port in bound:
        assert probe(topo, topo.home_ns["b"], "tcp-connect", topo.relay_addr[0], 7004, port, 5) == (
            "ok"
        )
    seen = [line.split() for line in finish(server)]
    assert [ip for _, ip, _ in seen] == [topo.router_wan_addr["b"]] * 3
    # --random-fully picks a random port for each new mapping, so one could by chance equal the
    # bound one; all three equal would be a 1 in ~10^14 fluke.
    assert any(int(port) != want for (_, _, port), want in zip(seen, bound, strict=True))


def test_relay_down_and_kill_processes(topo: Topology) -> None:
    relay, addr = topo.relay_ns[1], topo.relay_addr[1]
    server = serve(topo, relay, "tcp-serve", 7005, 2, 10)
    topo.relay_down(1)
    try:
        assert probe(topo, topo.home_ns["a"], "tcp-connect", addr, 7005, 0, WAIT) == "timeout"
    finally:
        topo.relay_up(1)
    assert probe(topo, topo.home_ns["a"], "tcp-connect", addr, 7005, 0, 5) == "ok"
    topo.kill_processes(relay)
    assert server.wait(timeout=5) == -9


def test_teardown_leaves_nothing_even_on_error() -> None:
    require_nat_support()
    with (
        pytest.raises(RuntimeError, match="boom"),
        nat_topology(relays=1, homes={"a": "masquerade"}) as t,
    ):
        prefix = t.prefix
        assert all(ns in namespaces() for ns in t.all_ns())
        sleeper = t.popen(t.home_ns["a"], ["sleep", "60"])
        raise RuntimeError("boom")
    assert [ns for ns in namespaces() if ns.startswith(prefix)] == []
    assert sleeper.poll() is not None


@pytest.mark.parametrize(
    "homes", [{"A": "masquerade"}, {"toolongname": "masquerade"}, {"a": "symmetric"}]
)
def test_bad_arguments_are_refused_before_building(homes: dict[str, str]) -> None:
    with pytest.raises(ValueError), nat_topology(homes=homes):
        pass
