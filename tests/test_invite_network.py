"""Two real nodes on 127.0.0.1: B accepts A's invite, connects, and A's next post reaches B."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pnyx.crypto.invite import parse_invite
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
        assert a.stop() == 0 and b.stop() == 0
