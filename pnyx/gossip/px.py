"""Gossipsub peer exchange (PX) handed to pnyx's dialer instead of dialled inside gossipsub.

What py-libp2p 0.8.1 does (read in ``libp2p/pubsub/gossipsub.py``): with ``do_px`` a PRUNE carries
up to ``px_peers_count`` other peers of the topic (their signed peer records when the peer store
has them). A node sends such a PRUNE only when it leaves the topic, when it is GRAFTed on a topic
it does not join, or when opportunistic grafting replaces its worst mesh peer; the mesh
maintenance of the heartbeat (too many peers) prunes *without* PX. pnyx nodes stay on their one
topic, so PX is rare: it mostly helps a node whose neighbour shuts down cleanly. A receiver with
a score below ``accept_px_threshold`` ignores PX (py-libp2p's default accepts every peer).

py-libp2p would dial every PX peer at once from inside the gossipsub task. ``PxGossipSub`` instead
checks each record (signature, peer id), stores its addresses in the peer store and reports the
peer through ``on_px`` (a non-blocking callback), so the dialer decides, bounded like every other
dial.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio
from libp2p.peer.envelope import consume_envelope
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStoreError
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pb import rpc_pb2

from pnyx.gossip.dht import dialable
from pnyx.net.contracts import FoundBy, FoundPeer

log = logging.getLogger(__name__)

#: Seconds a PX peer record's addresses stay in the peer store.
PX_RECORD_TTL_S = 7200
#: Envelope domain of signed peer records.
PEER_RECORD_DOMAIN = "libp2p-peer-record"


class PxGossipSub(GossipSub):
    """``GossipSub`` whose peer exchange reports peers instead of dialling them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_px: Callable[[FoundPeer], None] | None = None
        self.px_received = 0
        """PX peers received (a count)."""

    async def _do_px(self, px_peers: list[rpc_pb2.PeerInfo]) -> None:
        for peer in px_peers[: self.px_peers_count]:
            self.px_received += 1
            found = self._parse(peer)
            if found is not None and self.on_px is not None:
                self.on_px(found)
        await trio.lowlevel.checkpoint()

    def _parse(self, peer: rpc_pb2.PeerInfo) -> FoundPeer | None:
        if self.pubsub is None:
            return None
        store = self.pubsub.host.get_peerstore()
        try:
            peer_id = ID(peer.peerID)
            if peer.HasField("signedPeerRecord") and peer.signedPeerRecord:
                envelope, record = consume_envelope(peer.signedPeerRecord, PEER_RECORD_DOMAIN)
                if record.peer_id != peer_id:
                    raise ValueError("the signed record names another peer")
                store.consume_peer_record(envelope, PX_RECORD_TTL_S)
                addrs = list(record.addrs)
            else:
                addrs = list(store.addrs(peer_id))
        except PeerStoreError:
            return None  # no record and no address known: nothing to dial
        except Exception as exc:  # noqa: BLE001 - bad record (protobuf, crypto, multiaddr)
            log.debug("ignoring a bad PX record: %r", exc)
            return None
        addresses = dialable(addrs, peer_id.to_base58())
        return FoundPeer(peer_id.to_base58(), addresses, FoundBy.PX) if addresses else None
