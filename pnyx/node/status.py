"""The running node's status, as ``pnyx status --json`` prints it (JSON-ready data).

Built from what ``Node`` exposes (its store's counts, its network, its counters, rate limits and
clock watch); the control socket adds the sync scheduler's and discovery's parts
(``pnyx.app.service.ControlApi``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import trio

from pnyx.crypto.keytext import encode_public_key

if TYPE_CHECKING:
    from pnyx.net.contracts import Network
    from pnyx.node.node import Node


async def node_status(node: Node) -> dict[str, Any]:
    """The node's part of ``pnyx status --json``. Raises ``StoreError`` (the store's counts)."""
    counts = await node.offload(node.store.counts)
    network = node.network
    return {
        "peer_id": network.peer_id,
        "public_key": encode_public_key(node.me),
        "listen_addrs": network.listen_addrs(),
        "reachability": network.reachability(),  # NAT reach
        "peers": peer_rows(network),
        "topic_peers": network.topic_peers(),
        "mesh_peers": network.mesh_peers(),
        "banned": network.banned(),
        "penalties": node.penalties(),
        "counts": {
            **counts,
            "following": len(node.followed_authors()) - 1,
            "horizon": len(node.wanted_authors() - node.followed_authors()),
            "peers": len(network.peers()),
            **asdict(node.stats),
            **asdict(node.reach.stats),  # reach: horizon and storage budget
            **asdict(node.limiter.counters),  # robustness: rate limits
            "event_subscriber_failures": node.events.failures(),
        },
        "clock": asdict(node.clock.estimate(trio.current_time())),  # robustness: clock skew
        "uptime_s": round((node.clock_ms() - node.started_ms) / 1000, 1),
    }


def peer_rows(network: Network) -> list[dict[str, Any]]:
    """The connected peers: id, direction and address of each."""
    return [
        {"peer_id": p.peer_id, "direction": p.direction.value, "address": p.address}
        for p in network.peers()
    ]
