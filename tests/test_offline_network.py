"""Offline-first, end to end: real nodes and ``pnyx sync`` as separate OS processes on 127.0.0.1.

Catch-up from a third node while the author is away, a 6-node partition that heals, a gap in gossip
fetched by sync alone, and a large catch-up killed half way that resumes. Forks seen through sync
are in ``test_offline_cli.py``. Run alone with
``pytest -m network tests/test_offline_network.py -s`` (``-s`` prints the measured figures).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from pnyx.core.envelope import Message, decode, sign
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.net.errors import ConnectError
from pnyx.node.republish import ONLINE_MARK_FILE
from pnyx.store import Store
from tests.netharness import Cluster, NodeProcess, cli, node_env
from tests.waiting import wait_until

pytestmark = [pytest.mark.network]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


def configure(home: Path, **settings: Any) -> None:
    """Write the ``[node]`` table of ``home/config.toml`` (before the node starts)."""
    lines = ["[node]"]
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("\n".join(lines) + "\n")


def feed_ids(home: Path, author: bytes) -> set[bytes]:
    """Ids of the feed messages of ``author`` that ``home`` stores (read-only, while it runs)."""
    with Store.open(home / "pnyx.db", readonly=True) as store:
        return {decode(raw).id for raw in store.export([author])}


def post_texts(home: Path, author: str) -> list[str]:
    with Store.open(home / "pnyx.db", readonly=True) as store:
        items = store.feed(parse_public_key(author), limit=1000).items
    return [s.message.text or "" for s in reversed(items) if s.message.kind == "post"]


#: How long a gossip peer may still hand out a frame it relayed (py-libp2p gossipsub keeps
#: 5 heartbeats of 1 s in its message cache and answers IWANT for them), plus a margin, in s.
#: Tests that must show delivery by sync wait this long, so gossip cannot deliver it instead.
GOSSIP_MEMORY_S = 6.0


def outlive_gossip_cache(since: float) -> None:
    """Wait until GOSSIP_MEMORY_S have passed since ``since`` (a ``time.monotonic()``)."""
    time.sleep(max(0.0, since + GOSSIP_MEMORY_S - time.monotonic()))


def meshed(node: NodeProcess, count: int) -> bool:
    status = node.status()
    return len(status["topic_peers"]) >= count and len(status["peers"]) >= count


def link(node: NodeProcess, other: NodeProcess, timeout: float = 20) -> None:
    """Connect ``node`` to ``other``. A dial can lose a race with one the peer book or the DHT
    started at the same moment; then the connection exists anyway, or the next try makes it."""

    def linked() -> bool:
        if other.peer_id in {p["peer_id"] for p in node.status()["peers"]}:
            return True
        try:
            node.connect(other)
        except ConnectError:
            return False
        return True

    wait_until(linked, timeout=timeout, what=f"{node.name} connects to {other.name}")


def sync_stats(node: NodeProcess) -> dict[str, int]:
    stats: dict[str, int] = node.status()["sync"]
    return stats


def arrived_once(node: NodeProcess, count: int) -> dict[str, Any] | None:
    """``node``'s status once it counts ``count`` messages stored, by sync or by gossip."""
    status: dict[str, Any] = node.status()
    stored = status["sync"]["messages_fetched"] + status["counts"]["messages_stored"]
    return status if stored == count else None


def fetched_by_sync(node: NodeProcess, count: int) -> dict[str, int] | None:
    """``node``'s sync counters once they count ``count`` messages fetched."""
    stats = sync_stats(node)
    return stats if stats["messages_fetched"] == count else None


def pnyx_sync(home: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``pnyx sync`` as its own process (it opens a libp2p host)."""
    command = [sys.executable, "-m", "pnyx", "--home", str(home), "sync", *argv]
    return subprocess.run(
        command, capture_output=True, text=True, env=node_env(), timeout=timeout, check=False
    )


# --- catch-up through a third node ------------------------------------------------------------


@pytest.mark.timeout(90)
def test_follower_catches_up_from_a_third_node_while_the_author_is_away(
    cluster: Cluster,
) -> None:
    """a writes while no node runs, then online; t (follows a) was online; a goes away; f was
    offline all along, comes back connected only to t, and gets every post of a's. Then x, a
    running node that did not follow a, follows a and gets a's history the same way."""
    author = cluster.key("a")
    for name in ("t", "f"):
        cluster.cli(name, "follow", author)
    cluster.cli("a", "post", "written while no node ran")
    a, t = cluster.start_many("a", "t")
    link(t, a)
    wait_until(lambda: meshed(a, 1) and meshed(t, 1), timeout=10, what="a and t meshed")
    cluster.cli("a", "post", "written online")
    expected = ["written while no node ran", "written online"]
    wait_until(lambda: post_texts(t.home, author) == expected, timeout=10, what="t has a's posts")
    assert a.stop() == 0
    outlive_gossip_cache(time.monotonic())  # f must get the posts by sync, not from t's cache

    f = cluster.start("f", "--bootstrap", t.address)
    started = time.monotonic()
    wait_until(lambda: post_texts(f.home, author) == expected, timeout=15, what="f catches up")
    caught_up = time.monotonic() - started
    print(f"\nfollower caught up from the third node {caught_up:.2f} s after start")
    # each post arrived once, by sync (a gossip peer's cache may still hand out one when the
    # machine is so slow that heartbeats lag, so the split is not asserted exactly)
    status = wait_until(partial(arrived_once, f, 2), timeout=5, what="f's counters settle")
    assert [p["peer_id"] for p in status["peers"]] == [t.peer_id]
    assert status["sync"]["triggers_connect"] >= 1
    assert status["sync"]["messages_fetched"] >= 1
    # the counters move while the session ingests; its "synced ..." line comes when it ends
    wait_until(lambda: "synced" in f.stdout(), timeout=10, what="f logs the finished session")
    assert sync_stats(t)["messages_served"] >= 2

    # `pnyx sync` on a home whose node runs goes through the node (same peer id, same store)
    code, out, err = cli(f.home, "sync", t.address)
    assert code == 0, err
    assert out.strip() == "fetched 0 new messages from 0 authors (0 already known, 0 rejected)"
    assert sync_stats(f)["triggers_request"] == 1

    # following someone fetches their history: x runs, follows a (away) and gets a's posts
    x = cluster.start("x", "--bootstrap", t.address)
    wait_until(lambda: meshed(x, 1), timeout=10, what="x connected")
    assert post_texts(x.home, author) == []
    cluster.cli("x", "follow", author)
    wait_until(lambda: post_texts(x.home, author) == expected, timeout=10, what="x gets history")
    assert sync_stats(x)["triggers_follow"] == 1


# --- a partition that heals -------------------------------------------------------------------

#: Nodes in the partition test, split into two halves of three.
PARTITION_NODES = 6
#: Posts each node writes while the network is split.
POSTS_WHILE_SPLIT = 3
#: Periodic sync interval of the partition test's nodes, in seconds.
PARTITION_SYNC_INTERVAL_S = 2
#: Longest the network may take to agree again after the heal, in seconds.
HEAL_LIMIT_S = 20.0


@pytest.mark.timeout(120)
def test_partition_heals_to_identical_feeds(cluster: Cluster) -> None:
    """Six nodes, each following the five others, run as two halves of three that cannot reach
    each other (they never met, so no peer book, DHT or redial can join them); every node posts;
    then one link joins the halves: within HEAL_LIMIT_S every node holds exactly the same
    messages of every author, those of the author itself."""
    names = [f"n{i}" for i in range(PARTITION_NODES)]
    keys = {name: cluster.key(name) for name in names}
    authors = {name: parse_public_key(keys[name]) for name in names}
    for name in names:
        configure(cluster.home(name), sync_interval_s=PARTITION_SYNC_INTERVAL_S)
        for other in names:
            if other != name:
                cluster.cli(name, "follow", keys[other])
    left, right = names[:3], names[3:]
    nodes = dict(zip(names, cluster.start_many(*names), strict=True))
    for group in (left, right):
        for i, name in enumerate(group):
            for other in group[i + 1 :]:
                link(nodes[name], nodes[other])
    for name in names:
        wait_until(partial(meshed, nodes[name], 2), timeout=15, what=f"{name} meshed")
    for name in names:
        for i in range(POSTS_WHILE_SPLIT):
            cluster.cli(name, "post", f"{name} while split {i}")

    def agreed(group: list[str], among: list[str]) -> bool:
        for author in among:
            expected = feed_ids(cluster.home(author), authors[author])
            if any(feed_ids(cluster.home(n), authors[author]) != expected for n in group):
                return False
        return True

    wait_until(lambda: agreed(left, left), timeout=15, what="the left half agrees")
    wait_until(lambda: agreed(right, right), timeout=15, what="the right half agrees")
    for name in left:  # really split: nothing of the right half on the left
        for author in right:
            assert feed_ids(cluster.home(name), authors[author]) == set()

    healed = time.monotonic()
    link(nodes[left[0]], nodes[right[0]])  # one link joins the halves
    wait_until(lambda: agreed(names, names), timeout=HEAL_LIMIT_S, what="the network agrees")
    print(f"\npartition of {PARTITION_NODES} nodes healed in {time.monotonic() - healed:.2f} s")
    follows = PARTITION_NODES - 1
    for name in names:
        for author in names:
            held = feed_ids(cluster.home(name), authors[author])
            assert len(held) == follows + POSTS_WHILE_SPLIT


# --- a gap in gossip --------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_gap_seen_in_gossip_is_fetched_by_sync(cluster: Cluster) -> None:
    """f syncs neither on connect nor periodically: it gets post 6 by gossip, sees 2..5
    missing and fetches them by itself within a few seconds.

    a writes 2..5 while its node is stopped, and its online mark is removed, so they are never
    gossiped (a node without a mark does not resend what was written before it started): no
    gossip cache can hand them to f, and only the gap trigger can fetch them."""
    author = cluster.key("a")
    cluster.cli("f", "follow", author)
    configure(cluster.home("f"), sync_on_connect=False, sync_interval_s=3600)
    a, relay, f = cluster.start_many("a", "r", "f")
    link(relay, a)
    link(f, a)
    wait_until(lambda: meshed(f, 1) and meshed(a, 2), timeout=10, what="a, r and f meshed")
    cluster.cli("a", "post", "post 1")
    wait_until(lambda: post_texts(f.home, author) == ["post 1"], timeout=10, what="post 1")
    assert a.stop() == 0
    (cluster.home("a") / ONLINE_MARK_FILE).unlink()  # as on a first start: no backlog resent
    for i in range(2, 6):
        cluster.cli("a", "post", f"post {i}")  # no node runs: stored, never gossiped
    a = cluster.start("a")
    link(a, relay)
    link(f, a)
    wait_until(lambda: meshed(f, 1) and meshed(a, 2), timeout=10, what="a meshed again")
    assert post_texts(f.home, author) == ["post 1"]
    posted = time.monotonic()
    cluster.cli("a", "post", "post 6")
    expected = [f"post {i}" for i in range(1, 7)]
    wait_until(lambda: post_texts(f.home, author) == expected, timeout=10, what="f fills the gap")
    print(f"\ngap of 4 filled {time.monotonic() - posted:.2f} s after the post that revealed it")
    stats = wait_until(partial(fetched_by_sync, f, 4), timeout=5, what="f's counters settle")
    assert stats["triggers_gap"] >= 1
    assert stats["triggers_connect"] == 0 and stats["triggers_periodic"] == 0


@pytest.mark.timeout(90)
def test_posts_written_while_the_node_was_stopped_are_gossiped_at_restart(
    cluster: Cluster,
) -> None:
    """f reaches a only through r (which follows nobody) and never syncs: posts a wrote while
    its node was stopped reach f by gossip once a is back, thanks to a's online mark."""
    author = cluster.key("a")
    cluster.cli("f", "follow", author)
    configure(cluster.home("f"), sync_on_connect=False, sync_interval_s=3600)
    a, relay, f = cluster.start_many("a", "r", "f")
    link(relay, a)
    link(f, relay)
    wait_until(lambda: meshed(f, 1) and meshed(a, 1), timeout=10, what="a, r and f meshed")
    cluster.cli("a", "post", "post 1")
    wait_until(lambda: post_texts(f.home, author) == ["post 1"], timeout=10, what="post 1")
    assert a.stop() == 0
    assert (cluster.home("a") / ONLINE_MARK_FILE).is_file()  # written as the node stopped
    for i in range(2, 5):
        cluster.cli("a", "post", f"post {i}")  # no node runs: stored only
    a = cluster.start("a")
    link(a, relay)
    expected = [f"post {i}" for i in range(1, 5)]
    wait_until(lambda: post_texts(f.home, author) == expected, timeout=20, what="f gets 2..4")
    assert sync_stats(f)["messages_fetched"] == 0  # by gossip, not by sync
    assert post_texts(relay.home, author) == []


# --- a large catch-up, interrupted ------------------------------------------------------------

#: Messages in the backlog of the interrupted catch-up.
BACKLOG = 20_000
#: The first `pnyx sync` is killed once the follower stores at least this many.
KILL_AFTER = 5_000


def backlog(key: nacl.signing.SigningKey, count: int) -> list[Message]:
    """``count`` chained posts by ``key``, signed now (about 20,000 per second)."""
    now = time.time_ns() // 1_000_000 - count
    messages: list[Message] = []
    prev = None
    for seq in range(1, count + 1):
        body = {"text": f"backlog post {seq}: " + "x" * 100}
        message = sign(key, seq=seq, prev=prev, ts=now + seq, kind="post", body=body)
        messages.append(message)
        prev = message.id
    return messages


def stored_of(home: Path, author: bytes) -> int:
    with Store.open(home / "pnyx.db", readonly=True) as store:
        head = store.heads([author]).get(author)
    return 0 if head is None else head[0]


@pytest.mark.timeout(150)
def test_interrupted_catch_up_resumes_where_it_stopped(cluster: Cluster) -> None:
    """20,000 messages by one author, held by a node; `pnyx sync` is killed (SIGKILL) part way;
    run again, it fetches exactly the rest, and nothing twice."""
    key = nacl.signing.SigningKey(b"b" * 32)
    author = bytes(key.verify_key)
    messages = backlog(key, BACKLOG)
    with Store.open(cluster.home("src") / "pnyx.db") as store:
        for i in range(0, BACKLOG, 2000):
            store.ingest_verified(messages[i : i + 2000])
    cluster.cli("f", "follow", encode_public_key(author))
    src = cluster.start("src")
    address = src.address

    command = [sys.executable, "-m", "pnyx", "--home", str(cluster.home("f")), "sync", address]
    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=node_env()
    )
    try:
        wait_until(
            lambda: first.poll() is not None or stored_of(cluster.home("f"), author) >= KILL_AFTER,
            timeout=60,
            what="the first sync stores some of the backlog",
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL, "the first sync ended before it was killed"
    before = stored_of(cluster.home("f"), author)
    assert KILL_AFTER <= before < BACKLOG

    second = pnyx_sync(cluster.home("f"), address, "--json", timeout=120)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["fetched"] == BACKLOG - before
    assert result["duplicates"] == 0 and result["rejected"] == 0
    assert result["complete"] is True and result["authors"] == 1
    assert stored_of(cluster.home("f"), author) == BACKLOG
    assert feed_ids(cluster.home("f"), author) == {m.id for m in messages}
    rate = result["fetched"] / result["elapsed_s"]
    print(
        f"\ncatch-up: {before} stored before the kill; the rerun fetched {result['fetched']} "
        f"in {result['elapsed_s']:.2f} s ({rate:,.0f} messages/s, "
        f"{result['bytes'] / result['elapsed_s'] / 1e6:.1f} MB/s)"
    )
