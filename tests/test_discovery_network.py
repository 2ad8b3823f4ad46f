"""Finding peers with real nodes (separate OS processes on 127.0.0.1, mDNS off).

* 7 nodes know only one bootstrap node; a follower started after the author went offline finds
  a holder of the author's feed through the DHT and gets its posts;
* the bootstrap node is killed: new posts still reach every follower;
* a node restarted with no bootstrap reconnects from its peer book; a bootstrap node that is down
  when a node starts is reached once it comes up (backoff, py-libp2p's dial cache cleared).

Run alone with ``pytest -m network tests/test_discovery_network.py -s`` (``-s`` prints the measured
figures).
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from pnyx.crypto.keytext import parse_public_key
from pnyx.gossip.identity import peer_id_of_public_key
from pnyx.store import Store
from tests.netharness import Cluster, NodeProcess
from tests.waiting import wait_until

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


def post_texts(home: Path, author: str) -> list[str]:
    with Store.open(home / "pnyx.db", readonly=True) as store:
        items = store.feed(parse_public_key(author), limit=1000).items
    return sorted(s.message.text or "" for s in items if s.message.kind == "post")


def discovery(node: NodeProcess) -> dict[str, Any]:
    result: dict[str, Any] = node.status()["discovery"]
    return result


def peer_ids(node: NodeProcess) -> set[str]:
    return {p["peer_id"] for p in node.status()["peers"]}


def test_follower_finds_a_holder_through_the_dht_while_the_author_is_offline(
    cluster: Cluster,
) -> None:
    author = cluster.key("author")
    for name in ("h1", "h2"):
        cluster.cli(name, "follow", author)
    cluster.cli("follower", "follow", author)
    boot = cluster.start("boot")
    nodes = [
        cluster.spawn(name, "--bootstrap", boot.address)
        for name in ("author", "h1", "h2", "x1", "x2")
    ]
    for node in nodes:
        node.wait_ready()
    a, h1, h2, *_ = nodes
    wait_until(lambda: len(a.status()["topic_peers"]) >= 1, timeout=20, what="author meshed")
    texts = [f"post {i} while holders listen" for i in range(3)]
    for text in texts:
        cluster.cli("author", "post", text)
    for holder in (h1, h2):
        wait_until(
            partial(lambda h: post_texts(h.home, author) == sorted(texts), holder),
            timeout=20,
            what=f"{holder.name} stores the author's posts",
        )
        wait_until(
            partial(lambda h: discovery(h)["feeds_announced"] >= 2, holder),
            timeout=20,
            what=f"{holder.name} announces its own feed and the author's",
        )
    author_node = a.peer_id
    assert a.stop() == 0

    follower = cluster.start("follower", "--bootstrap", boot.address, "--target-connections", "1")
    started = time.monotonic()
    holders = {h1.peer_id, h2.peer_id}
    wait_until(
        lambda: holders & set(discovery(follower)["last_holders"]),
        timeout=30,
        what="the follower's DHT lookup names a holder",
    )
    found = time.monotonic() - started
    wait_until(
        lambda: post_texts(follower.home, author) == sorted(texts),
        timeout=30,
        what="the follower gets the author's posts from a holder",
    )
    got = time.monotonic() - started
    status = discovery(follower)
    print(
        f"\nfollower: DHT lookup named a holder {found:.2f} s after start (the lookup itself "
        f"took {status['last_lookup_ms']} ms), posts stored {got:.2f} s after start"
    )
    assert set(status["last_holders"]) <= holders | {author_node}  # never boot, x1 or x2
    rows = {r["peer_id"]: r for r in follower_peers(cluster)}
    assert holders & set(rows)  # connected to a holder (dialled by it or by the follower)
    assert rows[boot.peer_id]["found_by"] == "bootstrap"


def follower_peers(cluster: Cluster) -> list[dict[str, Any]]:
    import json

    out = cluster.cli("follower", "peers", "--json")
    return [json.loads(line) for line in out.splitlines()]


LAST_POST = "after the bootstrap node died"


def test_posts_reach_every_follower_after_the_bootstrap_node_is_killed(cluster: Cluster) -> None:
    author = cluster.key("author")
    names = ("f1", "f2", "f3", "f4")
    for name in names:
        cluster.cli(name, "follow", author)
    boot = cluster.start("boot")
    nodes = [cluster.spawn(name, "--bootstrap", boot.address) for name in ("author", *names)]
    for node in nodes:
        node.wait_ready()
    followers = nodes[1:]
    started = time.monotonic()
    for node in nodes:
        wait_until(
            partial(lambda n: len(peer_ids(n) - {boot.peer_id}) >= 2, node),
            timeout=30,
            what=f"{node.name} has two peers besides the bootstrap node",
        )
    meshed_s = time.monotonic() - started
    boot.proc.send_signal(signal.SIGKILL)
    boot.proc.wait(10)
    cluster.cli("author", "post", LAST_POST)
    posted = time.monotonic()
    for follower in followers:
        wait_until(
            partial(lambda f: post_texts(f.home, author) == [LAST_POST], follower),
            timeout=20,
            what=f"{follower.name} gets the post",
        )
    print(
        f"\nall nodes had 2+ peers besides boot {meshed_s:.2f} s after start; "
        f"the post reached 4 followers {time.monotonic() - posted:.2f} s after boot died"
    )


def test_restart_without_bootstrap_reconnects_from_the_peer_book(cluster: Cluster) -> None:
    boot = cluster.start("boot")
    node = cluster.start("n", "--bootstrap", boot.address)
    wait_until(lambda: boot.peer_id in peer_ids(node), timeout=20, what="n reaches boot")
    wait_until(
        lambda: discovery(node)["peerbook"] >= 1 and (node.home / "peers.db").exists(),
        timeout=10,
        what="n writes its peer book",
    )
    assert node.stop() == 0
    again = cluster.start("n")  # no --bootstrap, none in config.toml
    started = time.monotonic()
    wait_until(lambda: boot.peer_id in peer_ids(again), timeout=20, what="n reconnects")
    print(f"\nreconnected from the peer book {time.monotonic() - started:.2f} s after start")
    rows = {r["peer_id"]: r for r in peers_of(cluster, "n")}
    assert rows[boot.peer_id]["found_by"] == "peerbook"


def peers_of(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in cluster.cli(name, "peers", "--json").splitlines()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_bootstrap_node_that_is_down_at_start_is_reached_once_up(cluster: Cluster) -> None:
    port = free_port()
    boot_id = peer_id_of_public_key(parse_public_key(cluster.key("boot")))
    address = f"/ip4/127.0.0.1/tcp/{port}/p2p/{boot_id}"
    node = cluster.start("n", "--bootstrap", address)
    wait_until(lambda: discovery(node)["dial_failures"] >= 2, timeout=20, what="two failed dials")
    launched = time.monotonic()
    boot = cluster.start("boot", "--listen", f"/ip4/127.0.0.1/tcp/{port}")
    wait_until(lambda: boot_id in peer_ids(node), timeout=30, what="n reaches boot once up")
    took = time.monotonic() - launched
    print(f"\nbootstrap node reached {took:.2f} s after its process was launched (dial backoff)")
    assert took < 30  # py-libp2p alone would refuse the peer for 60 s after a failed dial
    assert boot.stop() == 0
