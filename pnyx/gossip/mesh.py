"""The gossipsub router and pubsub pnyx runs, configured (py-libp2p 0.8.1).

Defaults that break a microblog are replaced (heartbeat 120 s, spam protection at 10 messages/s:
LIBP2P-NOTES.md); only ``/meshsub/1.1.0`` and ``/meshsub/1.0.0`` are offered (1.2 costs about 2.5x
the throughput); every validation runs in pnyx's ``DedupPubsub`` (``pnyx.gossip.pubsub``) with the
router's state bounded (``pnyx.gossip.bounds``).
"""

from __future__ import annotations

from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.pubsub.score import ScoreParams, TopicScoreParams

from pnyx.gossip.bounds import BoundedGossipSub
from pnyx.gossip.pubsub import DedupPubsub, MessageIds

#: Gossipsub protocol ids offered, most preferred first.
GOSSIP_PROTOCOLS = ("/meshsub/1.1.0", "/meshsub/1.0.0")
#: Gossipsub mesh degree D, D_lo, D_hi (the spec's defaults), peer counts.
MESH_DEGREE, MESH_DEGREE_LOW, MESH_DEGREE_HIGH = 6, 4, 12
#: Gossipsub heartbeat, in seconds (py-libp2p defaults to 120).
HEARTBEAT_INTERVAL_S = 1
#: How long a frame id is remembered as seen, in seconds (Farcaster found 2 minutes too short).
SEEN_TTL_S = 300
#: Longest a validator may take before the frame counts as rejected, in seconds.
VALIDATION_TIMEOUT_S = 10.0
#: Gossipsub scoring: each invalid frame costs 1 point, decaying 2 % per heartbeat; a peer at or
#: below -10 has its frames ignored and gets no gossip, below -20 it is graylisted.
SCORE_PARAMS = ScoreParams(
    p4_invalid_messages=TopicScoreParams(weight=1.0, cap=100.0, decay=0.98),
    publish_threshold=-10.0,
    gossip_threshold=-10.0,
    graylist_threshold=-20.0,
)


def new_pubsub(host: IHost) -> tuple[BoundedGossipSub, DedupPubsub]:
    """The router and the pubsub of ``host``, not started (run both as services)."""
    gossipsub = BoundedGossipSub(  # discovery: PX goes to the dialer; robustness: bounded
        protocols=[TProtocol(p) for p in GOSSIP_PROTOCOLS],
        degree=MESH_DEGREE,
        degree_low=MESH_DEGREE_LOW,
        degree_high=MESH_DEGREE_HIGH,
        heartbeat_interval=HEARTBEAT_INTERVAL_S,
        spam_protection_enabled=False,
        score_params=SCORE_PARAMS,
        do_px=True,  # discovery
    )
    pubsub = DedupPubsub(  # one validation per frame, however many peers relay it
        host,
        gossipsub,
        strict_signing=True,
        msg_id_constructor=MessageIds(),
        seen_ttl=SEEN_TTL_S,
        validation_timeout=VALIDATION_TIMEOUT_S,
    )
    return gossipsub, pubsub
