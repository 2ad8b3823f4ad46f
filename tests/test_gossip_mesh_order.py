"""Who stays in the gossip mesh when a wave of fresh identities arrives (issue 23, item 1).

``BoundedGossipSub`` answers a GRAFT into a full mesh (D_hi) with a PRUNE, prunes peers with a
negative score and then the newest arrivals first, and publishes the node's own frames to every
peer on the topic. The router is built without a host or pubsub service (only the tables these
rules read), so no socket is opened.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from libp2p.peer.id import ID
from libp2p.pubsub.pb import rpc_pb2

from pnyx.gossip.bounds import BoundedGossipSub
from pnyx.gossip.mesh import GOSSIP_PROTOCOLS, MESH_DEGREE, MESH_DEGREE_HIGH, MESH_DEGREE_LOW

TOPIC = "/pnyx/1/posts"
PROTOCOL: Any = GOSSIP_PROTOCOLS[0]


def peer(n: int) -> ID:
    return ID(b"\x00\x24\x08\x01\x12\x20" + n.to_bytes(32, "big"))


class Scores:
    def __init__(self, negative: set[ID]) -> None:
        self.negative = negative

    def score(self, peer_id: ID, topics: list[str]) -> float:
        return -5.0 if peer_id in self.negative else 0.0


def router(arrived: list[ID], negative: set[ID] | None = None) -> BoundedGossipSub:
    """A router whose peers arrived in the order given, all of them in the mesh."""
    gossipsub = BoundedGossipSub(
        protocols=list(GOSSIP_PROTOCOLS),
        degree=MESH_DEGREE,
        degree_low=MESH_DEGREE_LOW,
        degree_high=MESH_DEGREE_HIGH,
    )
    for p in arrived:
        gossipsub.add_peer(p, PROTOCOL)
    gossipsub.mesh[TOPIC] = set(arrived)
    gossipsub.scorer = Scores(negative or set())  # type: ignore[assignment]
    return gossipsub


def test_the_newest_arrivals_are_pruned_first() -> None:
    honest = [peer(1), peer(2)]
    wave = [peer(100 + n) for n in range(12)]
    gossipsub = router(honest + wave)
    pruned = gossipsub._select_peers_for_pruning(TOPIC, len(honest + wave) - MESH_DEGREE)
    assert set(pruned) == set(wave[-(len(honest + wave) - MESH_DEGREE) :])
    assert not set(pruned) & set(honest)


def test_a_negative_score_is_pruned_before_a_newcomer() -> None:
    old_bad, new_good = peer(1), peer(2)
    gossipsub = router([old_bad, new_good], negative={old_bad})
    assert gossipsub._select_peers_for_pruning(TOPIC, 1) == [old_bad]


async def test_a_graft_into_a_full_mesh_is_pruned() -> None:
    members = [peer(n) for n in range(MESH_DEGREE_HIGH)]
    gossipsub = router(members)
    pruned: list[ID] = []

    async def emit_prune(topic: str, to_peer: ID, do_px: bool, unsubscribe: bool) -> None:
        pruned.append(to_peer)

    gossipsub.emit_prune = emit_prune  # type: ignore[method-assign,assignment]
    newcomer = peer(999)
    gossipsub.add_peer(newcomer, PROTOCOL)
    await gossipsub.handle_graft(rpc_pb2.ControlGraft(topicID=TOPIC), newcomer)
    assert pruned == [newcomer] and newcomer not in gossipsub.mesh[TOPIC]


def test_own_frames_go_to_every_peer_on_the_topic_relayed_ones_to_the_mesh() -> None:
    me, mesh_peer, topic_only = peer(0), peer(1), peer(2)
    gossipsub = router([mesh_peer])
    gossipsub.add_peer(topic_only, PROTOCOL)
    gossipsub.scorer = None
    gossipsub.pubsub = SimpleNamespace(  # type: ignore[assignment]
        my_id=me, peer_topics={TOPIC: {mesh_peer, topic_only}}
    )
    own = set(gossipsub._get_peers_to_send([TOPIC], msg_forwarder=me, origin=me))
    assert own == {mesh_peer, topic_only}
    relayed = set(gossipsub._get_peers_to_send([TOPIC], msg_forwarder=peer(7), origin=peer(8)))
    assert relayed == {mesh_peer}
