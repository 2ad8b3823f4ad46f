"""Reach with real node processes (libp2p on 127.0.0.1): a reply from a 2-hop identity appears in
the thread on a node that does not follow its author.

Run alone with ``pytest -m network tests/test_reach_network.py``; every wait is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.crypto.keytext import parse_public_key
from pnyx.store import Store
from tests.netharness import Cluster
from tests.test_node_network import meshed, texts_by
from tests.waiting import wait_until

pytestmark = [pytest.mark.network, pytest.mark.timeout(90)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


def thread_texts(home: Path, root: str) -> list[str]:
    with Store.open(home / "pnyx.db") as store:
        return [s.message.text or "" for s in store.thread(bytes.fromhex(root))]


def test_a_reply_from_two_hops_appears_in_the_thread(cluster: Cluster) -> None:
    """A - B - C in a line (C dials B, B dials A). A follows B, B follows C, C follows A; A does
    not follow C. A learns B -> C from B's feed, so C joins A's horizon (hops = 2); C's reply to
    A's post reaches A (gossip through B, or sync from B) and shows in A's thread."""
    key_a, key_b, key_c = cluster.key("a"), cluster.key("b"), cluster.key("c")
    cluster.cli("a", "follow", key_b)
    cluster.cli("b", "follow", key_c)
    cluster.cli("c", "follow", key_a)
    a, b, c = cluster.start_many("a", "b", "c")
    b.connect(a)
    c.connect(b)
    for node, count in ((a, 1), (b, 2), (c, 1)):
        wait_until(meshed(node, count), timeout=15, what=f"{node.name} meshed")
    wait_until(
        lambda: a.status()["counts"]["horizon"] >= 1,
        timeout=20,
        what="c joins a's horizon once a holds b's follow of c",
    )
    question = "a question for two hops"
    root = cluster.cli("a", "post", question).strip()
    wait_until(
        lambda: texts_by(c.home, key_a) == ["a question for two hops"],
        timeout=15,
        what="c holds a's post (it follows a)",
    )
    replied = time.monotonic()
    cluster.cli("c", "post", "--reply-to", root, "c answers from two hops")
    wait_until(
        lambda: thread_texts(a.home, root) == [question, "c answers from two hops"],
        timeout=20,
        what="a's thread shows c's reply",
    )
    print(f"reply from 2 hops -> thread: {(time.monotonic() - replied) * 1000:.0f} ms")
    # `following` is about follows: a follows b only, and stores c's feed through the horizon
    assert cluster.cli("a", "following").split() == [key_b]
    assert a.status()["counts"]["following"] == 1
    with Store.open(a.home / "pnyx.db") as store:
        assert store.following(parse_public_key(key_a)) == [parse_public_key(key_b)]
