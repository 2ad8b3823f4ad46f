"""Gossip the user's own messages again when the running node gets a peer after being alone.

A post written while the running node had no peer was published to nobody. Followers connected to
this node get it by catch-up sync on connect (``pnyx.node.syncing``), but a follower reachable only
through relays that do not follow the user would not. So when the number of connected peers goes
from zero to one or more, the node publishes again its own messages written while it had none
(since the last peer left, or since start, until the new peer came), at most
``MAX_REPUBLISH_MESSAGES`` of the latest, once a gossip peer is known. Receivers that hold them
already count them as duplicates.

Messages written while no node ran are not gossiped again: whether they ever went out cannot be
known, and resending a day of posts at every start would cost every relay. Followers get them by
sync when they connect to this node (the DHT points them to it) or to any node that holds them.

Best effort: a failure is logged and the next reconnection tries again; sync remains the
guarantee.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from pnyx.core.envelope import Message, decode
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import StoreError
from pnyx.node.gossipframe import pack_frames
from pnyx.node.network import PeerEvent
from pnyx.node.runtime import wall_clock_ms

if TYPE_CHECKING:
    from pnyx.node.node import Node
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: Most own messages gossiped again on one reconnection (the latest ones), a count.
MAX_REPUBLISH_MESSAGES = 256
#: Longest wait for a peer subscribed to the gossip topic after the first connection, in seconds.
TOPIC_WAIT_S = 10.0
#: Pause after a gossip peer appears, so that the gossip mesh includes it (one heartbeat), in s.
MESH_SETTLE_S = 1.0
#: How often the topic peers are looked at while waiting, in seconds.
TOPIC_POLL_S = 0.1


class OwnRepublisher:
    """See the module docstring. Build before the node runs; run ``run`` in a nursery."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.republished = 0
        """Own messages gossiped again since start, a count."""
        self._peers: set[str] = set()
        self._offline_since_ms = node.started_ms
        self._trigger = trio.Event()
        node.on_peer_event.append(self._peer_event)

    def _peer_event(self, event: PeerEvent) -> None:
        peer = event.peer.peer_id
        if event.connected:
            alone = not self._peers
            self._peers.add(peer)
            if alone:
                self._trigger.set()
        elif peer in self._peers:
            self._peers.discard(peer)
            if not self._peers:
                self._offline_since_ms = wall_clock_ms()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await self._trigger.wait()
            self._trigger = trio.Event()
            since, until = self._offline_since_ms, wall_clock_ms()
            if not await self._wait_for_gossip_peer():
                continue
            try:  # messages written from now on are the publish loop's
                own = await self.node.offload(
                    latest_own, self.node.store, self.node.me, since, until
                )
            except StoreError as exc:
                log.warning("cannot read own messages to gossip them again: %s", exc)
                continue
            for frame in pack_frames(m.raw for m in own):
                await self.node.network.publish(frame)
            if own:
                self.republished += len(own)
                log.info("gossiped %d of your messages written while offline", len(own))

    async def _wait_for_gossip_peer(self) -> bool:
        network = self.node.network
        with trio.move_on_after(TOPIC_WAIT_S):
            while not network.topic_peers():
                await trio.sleep(TOPIC_POLL_S)
            await trio.sleep(MESH_SETTLE_S)
            return bool(self._peers)
        return False


def latest_own(store: Store, me: bytes, since_ms: int, until_ms: int) -> list[Message]:
    """The user's latest messages (at most ``MAX_REPUBLISH_MESSAGES``) with ``since_ms`` <= ts <
    ``until_ms``, in seq order (blocking: a store read). Raises ``StoreError``."""
    head = store.heads([me]).get(me)
    if head is None:
        return []
    highest = head[1]
    first = max(1, highest - MAX_REPUBLISH_MESSAGES + 1)
    own: list[Message] = []
    for raw in store.range(me, first, highest, limit=MAX_REPUBLISH_MESSAGES):
        try:
            message = decode(raw)
        except InvalidMessage as exc:
            log.warning("an own message in the store cannot be decoded: %s", exc)
            continue
        if since_ms <= message.ts < until_ms:
            own.append(message)
    return own
