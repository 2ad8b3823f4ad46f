"""Two real nodes on 127.0.0.1: B accepts A's invite, connects, and A's next post reaches B; an
invite whose node is gone still follows, and says it may be stale."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from pnyx.crypto.invite import Invite, encode_invite, parse_invite, peer_id_of_key
from pnyx.crypto.keytext import parse_public_key
from pnyx.store import Store
from tests.netharness import Cluster
from tests.waiting import wait_until

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]


def post_texts(home: Path, author: str) -> list[str]:
    with Store.open(home / "pnyx.db", readonly=True) as store:
        items = store.feed(parse_public_key(author), limit=100).items
    return sorted(s.message.text or "" for s in items if s.message.kind == "post")


def test_accepting_an_invite_connects_and_brings_the_next_post(tmp_path: Path) -> None:
    with Cluster(tmp_path) as cluster:
        a, b = cluster.start_many("a", "b")
        author = cluster.key("a")
        record = json.loads(cluster.cli("a", "invite", "--name", "A", "--json"))
        assert record["node_running"] is True and record["address_kind"] == "loopback"
        invite = parse_invite(record["invite"])
        assert invite.addresses and all(x.endswith(f"/p2p/{a.peer_id}") for x in invite.addresses)
        started = time.monotonic()
        accepted = json.loads(cluster.cli("b", "accept", record["invite"], "--yes", "--json"))
        assert accepted["followed"] is True and accepted["node_running"] is True
        assert accepted["connected"] in invite.addresses
        assert a.peer_id in {p["peer_id"] for p in b.status()["peers"]}
        wait_until(
            lambda: b.peer_id in a.status()["topic_peers"],
            timeout=20,
            what="a sees b on the topic",
        )
        cluster.cli("a", "post", "hello from a, after the invite")
        wait_until(
            lambda: post_texts(b.home, author) == ["hello from a, after the invite"],
            timeout=30,
            what="b stores a's post",
        )
        print(f"\naccept -> a's post stored at b: {time.monotonic() - started:.2f} s")
        stale = _stale_invite(cluster)
        result = cluster.cli("b", "accept", stale, "--yes")
        assert "no address answered: the invite may be stale" in result
        assert "following" in result
        assert a.stop() == 0 and b.stop() == 0


def _stale_invite(cluster: Cluster) -> str:
    """An invite of a third user whose node is gone: its port was freed before the invite."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = parse_public_key(cluster.key("c"))
    address = f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id_of_key(key)}"
    return encode_invite(Invite(key, None, (address,)))
