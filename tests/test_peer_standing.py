"""Who matters to a node (``pnyx.catchup.standing.PeerStanding``), without a network: valued
peers, strangers, and which strangers' connections are trimmed over the mark (issue 23)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pnyx.catchup.standing import (
    STRANGER_CONNECTIONS_HIGH,
    STRANGER_CONNECTIONS_LOW,
    PeerStanding,
)
from pnyx.events import NodeEvents
from pnyx.net.contracts import Direction, PeerEvent, PeerInfo


@dataclass
class FakeNetwork:
    connected: list[PeerInfo] = field(default_factory=list)
    protected: frozenset[str] = frozenset()

    def protected_peers(self) -> frozenset[str]:
        return self.protected

    def peers(self) -> list[PeerInfo]:
        return list(self.connected)

    def author_peer_id(self, author: bytes) -> str | None:
        return "node-of-" + author.hex()[:6]


@dataclass
class FakeNode:
    network: FakeNetwork = field(default_factory=FakeNetwork)
    events: NodeEvents = field(default_factory=NodeEvents)
    wanted: frozenset[bytes] = frozenset()

    def wanted_authors(self) -> frozenset[bytes]:
        return self.wanted


def connect(node: FakeNode, peer: str, direction: Direction = Direction.INBOUND) -> None:
    info = PeerInfo(peer, direction, f"/ip4/10.0.0.1/tcp/{len(node.network.connected) + 1}")
    node.network.connected.append(info)
    node.events.peers.publish(PeerEvent(info, True))


def standing_of(node: FakeNode) -> PeerStanding:
    host: Any = node
    return PeerStanding(host)


def test_dialled_followed_and_strangers() -> None:
    friend = b"\x01" * 32
    node = FakeNode(wanted=frozenset({friend}))
    standing = standing_of(node)
    connect(node, "dialled", Direction.OUTBOUND)
    connect(node, "node-of-010101")
    connect(node, "stranger")
    assert standing("dialled") == (True, "/ip4/10.0.0.1/tcp/1")
    assert standing("node-of-010101")[0] is True
    assert standing("stranger") == (False, "/ip4/10.0.0.1/tcp/3")


def test_only_the_newest_strangers_over_the_mark_are_trimmed() -> None:
    friend = b"\x02" * 32
    node = FakeNode(wanted=frozenset({friend}))
    standing = standing_of(node)
    connect(node, "node-of-020202")  # valued: never trimmed
    connect(node, "dialled", Direction.OUTBOUND)
    for n in range(STRANGER_CONNECTIONS_HIGH):
        connect(node, f"s{n:02}")
    assert standing.strangers_to_trim() == []  # at the mark, not over it
    for n in range(STRANGER_CONNECTIONS_HIGH, STRANGER_CONNECTIONS_HIGH + 5):
        connect(node, f"s{n:02}")
    trimmed = standing.strangers_to_trim()
    strangers = STRANGER_CONNECTIONS_HIGH + 5
    assert len(trimmed) == strangers - STRANGER_CONNECTIONS_LOW
    newest_first = [f"s{n:02}" for n in range(strangers - 1, -1, -1)]
    assert trimmed == newest_first[: len(trimmed)]
    assert "node-of-020202" not in trimmed and "dialled" not in trimmed


def test_peers_the_relay_serves_are_never_trimmed() -> None:
    node = FakeNode()
    standing = standing_of(node)
    for n in range(STRANGER_CONNECTIONS_HIGH + 4):
        connect(node, f"s{n:02}")
    newest = f"s{STRANGER_CONNECTIONS_HIGH + 3:02}"
    assert newest in standing.strangers_to_trim()
    node.network.protected = frozenset({newest})  # it holds a reservation on our relay
    trimmed = standing.strangers_to_trim()
    assert (
        newest not in trimmed
        and len(trimmed) == STRANGER_CONNECTIONS_HIGH + 3 - STRANGER_CONNECTIONS_LOW
    )
