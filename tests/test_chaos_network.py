"""Chaos: 8 node processes for a fixed time while their users post, with random kill -9, restarts
and partitions; after healing, every follower holds exactly every message of every author.

Every node follows every other one, listens on a fixed port (so restarts keep their addresses) and
bootstraps to two others (a ring plus a chord). Posts are written with ``pnyx post`` on a random
home whatever the state of its node (offline-first: a post to a dead or frozen node's home is
stored and published later). Chaos events, one every ``EVENT_SPACING_S`` on average:

* **kill**: SIGKILL a running node; it is restarted 1-3 s later;
* **restart**: SIGTERM, then start again at once;
* **partition**: freeze (SIGSTOP) a group of 2-3 nodes for 2-5 s. For the others the group is
  unreachable (connections stall, nothing is answered); the group misses all gossip meanwhile.
  (Real network partitions of processes on one loopback interface would need root-only firewall
  rules that could disturb the machine; freezing gives the same symptoms to the protocol.)

Healing thaws and restarts everything; then every node must converge within ``CONVERGE_S``: the
truth of an author is its own store (what ``pnyx post`` reported written is all in it), and every
other node must hold exactly those messages (no fewer, no more).

The default run uses ``SHORT_S``; ``pytest -m slow tests/test_chaos_network.py`` runs ``LONG_S``.
"""

from __future__ import annotations

import json
import random
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pnyx.core.envelope import message_id
from pnyx.core.limits import SIGNATURE_BYTES
from pnyx.crypto.keytext import parse_public_key
from pnyx.store import Store
from tests.netharness import Cluster, NodeProcess, cli
from tests.waiting import wait_until

#: Node processes, a count.
NODES = 8
#: Chaos time of the default run and of the slow run, in seconds.
SHORT_S, LONG_S = 20.0, 240.0
#: Mean time between two chaos events, in seconds.
EVENT_SPACING_S = 3.0
#: Mean time between two posts (on random homes), in seconds.
POST_SPACING_S = 0.25
#: Longest time for every follower to hold every message after healing, in seconds.
CONVERGE_S = 90.0
#: Periodic sync interval of the chaos nodes, in seconds (config.toml ``sync_interval_s``).
SYNC_INTERVAL_S = 3


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Member:
    name: str
    key: str
    listen: str
    proc: NodeProcess | None = None
    frozen_until: float | None = None
    restart_at: float | None = None


@dataclass
class Chaos:
    cluster: Cluster
    rng: random.Random
    members: list[Member]
    written: dict[str, set[bytes]] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    refused_posts: int = 0

    def note(self, event: str) -> None:
        self.events[event] = self.events.get(event, 0) + 1

    def start(self, member: Member, *, wait: bool = False) -> None:
        member.proc = self.cluster.spawn(member.name, "--listen", member.listen)
        member.restart_at = None
        if wait:
            member.proc.wait_ready()

    def running(self) -> list[Member]:
        return [m for m in self.members if m.proc is not None and m.frozen_until is None]

    def post(self) -> None:
        member = self.rng.choice(self.members)
        text = f"{member.name} says {time.monotonic():.3f}"
        code, out, err = cli(self.cluster.home(member.name), "post", text)
        if code == 0:
            self.written.setdefault(member.key, set()).add(bytes.fromhex(out.strip()))
        else:  # only a lock held by a frozen node may refuse a post, and it says so
            assert code == 3 and "locked" in err, err
            self.refused_posts += 1

    def event(self, now: float) -> None:
        kind = self.rng.choice(["kill", "kill", "restart", "partition"])
        candidates = self.running()
        if len(candidates) < 3:
            return
        if kind == "partition":
            for member in self.rng.sample(candidates, self.rng.randint(2, 3)):
                assert member.proc is not None
                member.proc.proc.send_signal(signal.SIGSTOP)
                member.frozen_until = now + self.rng.uniform(2, 5)
        else:
            member = self.rng.choice(candidates)
            assert member.proc is not None
            if kind == "kill":
                member.proc.proc.send_signal(signal.SIGKILL)
                member.proc.proc.wait(10)
                member.proc = None
                member.restart_at = now + self.rng.uniform(1, 3)
            else:  # (a SIGTERM before the node has set up its handlers would just kill it)
                member.proc.wait_ready()
                assert member.proc.stop() == 0, member.proc.logs()
                self.start(member)
        self.note(kind)

    def tick(self, now: float) -> None:
        for member in self.members:
            if member.frozen_until is not None and now >= member.frozen_until:
                assert member.proc is not None
                member.proc.proc.send_signal(signal.SIGCONT)
                member.frozen_until = None
            if member.proc is None and member.restart_at is not None and now >= member.restart_at:
                self.start(member)

    def heal(self) -> None:
        for member in self.members:
            if member.frozen_until is not None:
                assert member.proc is not None
                member.proc.proc.send_signal(signal.SIGCONT)
                member.frozen_until = None
            if member.proc is None:
                self.start(member)
        for member in self.members:
            assert member.proc is not None
            member.proc.wait_ready()


def feeds(home: Path, authors: list[str]) -> dict[str, set[bytes]]:
    """Ids of every message of each author held in ``home``'s store."""
    with Store.open(home / "pnyx.db", readonly=True) as store:
        return {
            author: {
                message_id(raw[SIGNATURE_BYTES:])
                for raw in store.export([parse_public_key(author)])
            }
            for author in authors
        }


def converged(chaos: Chaos) -> Callable[[], bool]:
    authors = [m.key for m in chaos.members]
    homes = {m.key: chaos.cluster.home(m.name) for m in chaos.members}

    def check() -> bool:
        truth = {author: feeds(homes[author], [author])[author] for author in authors}
        return all(feeds(home, authors) == truth for home in homes.values())

    return check


def run_chaos(tmp_path: Path, duration_s: float, seed: int) -> Chaos:
    rng = random.Random(seed)
    with Cluster(tmp_path) as cluster:
        names = [f"n{i}" for i in range(NODES)]
        keys = {name: cluster.key(name) for name in names}
        from pnyx.gossip.identity import peer_id_of_public_key

        ports = free_ports(NODES)
        addresses = {
            name: f"/ip4/127.0.0.1/tcp/{port}/p2p/"
            f"{peer_id_of_public_key(parse_public_key(keys[name]))}"
            for name, port in zip(names, ports, strict=True)
        }
        for index, name in enumerate(names):
            peers = [names[(index + 1) % NODES], names[(index + 3) % NODES]]
            (cluster.home(name) / "config.toml").write_text(
                "[node]\n"
                f"bootstrap = {json.dumps([addresses[p] for p in peers])}\n"
                f"sync_interval_s = {SYNC_INTERVAL_S}\n"
            )
            for other in names:
                if other != name:
                    cluster.cli(name, "follow", keys[other])
        members = [
            Member(name, keys[name], f"/ip4/127.0.0.1/tcp/{port}")
            for name, port in zip(names, ports, strict=True)
        ]
        chaos = Chaos(cluster, rng, members)
        for member in members:
            chaos.start(member)
        for member in members:
            assert member.proc is not None
            member.proc.wait_ready()
        started = time.monotonic()
        next_event = started + rng.expovariate(1 / EVENT_SPACING_S)
        while (now := time.monotonic()) < started + duration_s:
            chaos.tick(now)
            if now >= next_event:
                chaos.event(now)
                next_event = now + rng.expovariate(1 / EVENT_SPACING_S)
            chaos.post()
            time.sleep(rng.expovariate(1 / POST_SPACING_S))
        chaos.heal()
        healed = time.monotonic()
        wait_until(converged(chaos), timeout=CONVERGE_S, what="every node holds every message")
        total = sum(len(ids) for ids in chaos.written.values())
        print(
            f"chaos {duration_s:g} s: {total} posts written ({chaos.refused_posts} refused by a "
            f"frozen node's lock), events {chaos.events}; converged "
            f"{time.monotonic() - healed:.1f} s after healing"
        )
        for member in members:
            held = feeds(cluster.home(member.name), [member.key])[member.key]
            assert chaos.written.get(member.key, set()) <= held  # every reported post is there
        for member in members:
            assert member.proc is not None
            assert member.proc.stop() == 0, member.proc.logs()
            assert "Traceback" not in member.proc.stderr()
    return chaos


@pytest.mark.network
@pytest.mark.timeout(240)
def test_chaos_short(tmp_path: Path) -> None:
    chaos = run_chaos(tmp_path, SHORT_S, seed=1)
    assert sum(chaos.events.values()) >= 4
    assert sum(len(ids) for ids in chaos.written.values()) >= 40


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_chaos_long(tmp_path: Path) -> None:
    chaos = run_chaos(tmp_path, LONG_S, seed=2)
    assert chaos.events.get("kill", 0) >= 20 and chaos.events.get("partition", 0) >= 5
