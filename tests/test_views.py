"""Typed views: ``NodeStatus`` reads a real node's status reply back and writes exactly the same
JSON (values and key order), refuses a malformed reply with ``PnyxError``; ``MessageView`` gives
the ``--json`` object of a message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import trio

from pnyx.control.client import request
from pnyx.core.kinds.fields import key_text
from pnyx.errors import PnyxError
from pnyx.home import Home
from pnyx.net.memnet import MemoryHub
from pnyx.store import Profile
from pnyx.views import MessageView, NodeStatus, PeerRow
from tests.conftest import Cli
from tests.store_helpers import Feed, key
from tests.test_node_control import CAP_S, home_node


async def _real_status(tmp_path: Path) -> dict[str, Any]:
    """The status reply of node a, connected to b, on the in-memory network."""
    hub = MemoryHub()
    home = Home(tmp_path / "a")
    with trio.fail_after(CAP_S):
        async with home_node(home, hub, "a"), home_node(Home(tmp_path / "b"), hub, "b"):
            await trio.to_thread.run_sync(lambda: request(home, "connect", addr="/memory/p2p/b"))
            status: dict[str, Any] = await trio.to_thread.run_sync(request, home, "status")
    return status


async def test_node_status_round_trips_a_real_status(tmp_path: Path) -> None:
    reply = await _real_status(tmp_path)
    status = NodeStatus.from_json(reply)
    assert status.to_json() == reply
    assert json.dumps(status.to_json()) == json.dumps(reply)  # the same order, key by key
    assert status.peer_id == "a" and status.listen_addrs == ("/memory/p2p/a",)
    assert status.peers == (PeerRow("b", "outbound", "/memory/p2p/b", "manual"),)  # connect
    assert status.inbound == 0 and status.counts["peers"] == 1
    assert status.clock.ahead_ms is None
    assert status.sync is not None and status.sync.own_republished == 0
    assert status.sync.counters["sessions"] == reply["sync"]["sessions"]
    assert status.discovery is not None and status.discovery.dht is True
    assert status.discovery.peerbook == reply["discovery"]["peerbook"]
    assert status.discovery.dht_routing_table == reply["discovery"]["dht_routing_table"]


async def test_node_status_without_sync_dialer_or_dht_round_trips(tmp_path: Path) -> None:
    reply = await _real_status(tmp_path)
    del reply["sync"]
    found = reply["discovery"]
    for name in ("target_connections", "peerbook", "dialling", "connected_by"):
        del found[name]
    del found["dht_routing_table"]
    found["dht"] = False
    status = NodeStatus.from_json(reply)
    assert status.sync is None and status.discovery is not None
    assert status.discovery.peerbook is None and status.discovery.dht_routing_table is None
    assert json.dumps(status.to_json()) == json.dumps(reply)


def test_network_counters_keep_their_place_after_feeds_announced() -> None:
    """libp2p's network writes mDNS counters after the DHT's (pnyx.gossip.finding)."""
    found = {
        "dials": 3,
        "dht": True,
        "last_holders": ["p"],
        "feeds_announced": 2,
        "dht_routing_table": 7,
        "mdns_found": 1,
        "mdns_ignored": 0,
    }
    reply = {
        "peer_id": "a",
        "public_key": "pnyx1x",
        "listen_addrs": [],
        "peers": [],
        "topic_peers": [],
        "mesh_peers": [],
        "banned": ["z"],
        "penalties": {"z": 9},
        "counts": {"messages": 1},
        "clock": {"ahead_ms": 5, "authors": 3, "future_authors": 0},
        "uptime_s": 1,
        "discovery": found,
    }
    status = NodeStatus.from_json(reply)
    assert status.discovery is not None
    assert status.discovery.network_counters == {
        "dht_routing_table": 7,
        "mdns_found": 1,
        "mdns_ignored": 0,
    }
    assert status.discovery.last_holders == ("p",) and status.banned == ("z",)
    assert json.dumps(status.to_json()) == json.dumps(reply)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("peer_id",), 3),
        (("counts", "messages"), "many"),
        (("counts", "messages"), True),
        (("uptime_s",), True),
        (("peers",), {"b": 1}),
        (("clock",), None),
        (("discovery", "dht"), "yes"),
        (("discovery", "last_holders"), [1]),
        (("sync", "own_republished"), None),
    ],
)
async def test_a_malformed_status_reply_is_refused_naming_the_field(
    tmp_path: Path, path: tuple[str, ...], value: object
) -> None:
    reply = await _real_status(tmp_path)
    bad = copy.deepcopy(reply)
    target = bad
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    with pytest.raises(PnyxError, match="status reply is malformed"):
        NodeStatus.from_json(bad)


def test_a_status_reply_that_is_not_an_object_is_refused() -> None:
    replies: list[object] = [None, [], "status", {1: 2}]
    for reply in replies:
        with pytest.raises(PnyxError, match="status reply is malformed"):
            NodeStatus.from_json(reply)


def test_message_view_is_the_json_object_of_a_message() -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    post = alice.post("hello")
    reply = bob.post("hi alice", reply_to=post)
    profile = Profile(bob.author, "Bob", None, 1)
    assert MessageView.of(reply, profile).to_json() == {
        "id": reply.id.hex(),
        "author": key_text(bob.author),
        "seq": 1,
        "ts": reply.ts,
        "kind": "post",
        "text": "hi alice",
        "forked": False,
        "name": "Bob",
        "root": post.id.hex(),
        "parent": post.id.hex(),
    }
    like = bob.add("reaction", {"id": post.id, "author": post.author, "reaction": "+"})
    view = MessageView.of(like, Profile(bob.author, "", "bio", 2))
    assert view.name is None  # an empty name is no name
    assert list(view.to_json()) == [
        "id",
        "author",
        "seq",
        "ts",
        "kind",
        "text",
        "forked",
        "target",
        "target_author",
        "reaction",
    ]
    assert view.to_json()["text"] is None


async def test_pnyx_status_renders_from_the_typed_model(tmp_path: Path, cli: Cli) -> None:
    hub = MemoryHub()
    home = Home(cli.home)
    with trio.fail_after(CAP_S):
        async with home_node(home, hub, "a"), home_node(Home(tmp_path / "b"), hub, "b"):
            await trio.to_thread.run_sync(lambda: request(home, "connect", addr="/memory/p2p/b"))
            as_json = await trio.to_thread.run_sync(cli, "status", "--json")
            result = await trio.to_thread.run_sync(cli, "status")
    assert result.code == 0 and as_json.code == 0, result.err + as_json.err
    reply = json.loads(as_json.out)
    assert NodeStatus.from_json(reply).to_json() == reply
    lines = result.out.splitlines()
    assert "peers:     1 connected (0 inbound, 1 outbound)" in lines
    found = reply["discovery"]
    assert (
        f"discovery: {found['peerbook']} peers known, {found['dht_routing_table']} in the DHT "
        f"routing table, {found['feeds_announced']} feeds announced"
    ) in lines
    assert lines[-1].startswith("uptime:    ")
