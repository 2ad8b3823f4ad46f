"""Gossipsub peer exchange in the adapter: PX peers are checked and reported, never dialled
inside gossipsub (hosts on 127.0.0.1, one process)."""

from __future__ import annotations

import pytest
import trio
from libp2p.peer.id import ID
from libp2p.peer.peerstore import env_to_send_in_RPC
from libp2p.pubsub.pb import rpc_pb2
from nacl.signing import SigningKey

from pnyx.gossip.adapter import open_libp2p_network
from pnyx.gossip.identity import peer_id_of_public_key
from pnyx.net.contracts import FoundBy, FoundPeer, Verdict

#: Real libp2p hosts on 127.0.0.1 sockets, in this process.
pytestmark = pytest.mark.network

LOCAL = "/ip4/127.0.0.1/tcp/0"
CAP_S = 30


async def accept(data: bytes, forwarder: str) -> Verdict:
    return Verdict.ACCEPT


async def test_px_peers_are_checked_reported_and_not_dialled() -> None:
    with trio.fail_after(CAP_S):
        async with (
            open_libp2p_network(seed=b"\x01" * 32, listen=[LOCAL], validator=accept) as a,
            open_libp2p_network(seed=b"\x02" * 32, listen=[LOCAL], validator=accept) as b,
            open_libp2p_network(seed=b"\x03" * 32, listen=[LOCAL], validator=accept) as c,
        ):
            await b.connect(a.listen_addrs()[0])
            record, _ = env_to_send_in_RPC(c._host)  # c's signed peer record, as a PRUNE holds
            c_id = ID.from_base58(c.peer_id).to_bytes()
            a_id = ID.from_base58(a.peer_id).to_bytes()
            stranger = ID.from_base58(
                peer_id_of_public_key(bytes(SigningKey(b"\x09" * 32).verify_key))
            )
            px = b._px
            assert px is not None and px.do_px
            await px._do_px(
                [
                    rpc_pb2.PeerInfo(peerID=c_id, signedPeerRecord=record),
                    rpc_pb2.PeerInfo(peerID=a_id, signedPeerRecord=record),  # names c, not a
                    rpc_pb2.PeerInfo(peerID=c_id, signedPeerRecord=b"junk"),
                    rpc_pb2.PeerInfo(peerID=stranger.to_bytes()),  # no record, no address
                ]
            )
            found = b.found.receive_nowait()
            assert found == FoundPeer(c.peer_id, tuple(c.listen_addrs()), FoundBy.PX)
            with pytest.raises(trio.WouldBlock):
                b.found.receive_nowait()
            assert c.peer_id not in {p.peer_id for p in b.peers()}  # the dialer decides
            assert b.discovery_stats()["px_received"] == 4
