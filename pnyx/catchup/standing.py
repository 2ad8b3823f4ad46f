"""Who matters to this node when it hands out sync slots (issue 23, item 2).

``PeerStanding(peer)`` answers the sync server's question (``pnyx.catchup.server.Standing``):
is ``peer`` *valued*, and what is the address of its connection? A peer is valued when

* this node dialled it (an outbound connection: a peer it chose, from its peer book, bootstrap
  list or the DHT holders of a wanted feed; a stranger cannot make it dial), or
* its peer id is the node id of the user's own key or of a key the user follows (with
  ``node_key = "identity"`` a user's node runs under the user's key), or
* its peer id is the node id of a key known to follow the user (a follow held in the store: the
  followers whose feeds this node holds; refreshed every ``FOLLOWERS_REFRESH_S``).

Everyone else is a stranger: strangers share what valued peers leave, within per-address limits
(``pnyx.sync.slots``). Identities cost nothing, so nothing here depends on a peer's own claims.

**Connections from strangers are capped** (issue 23, item 4), as libp2p's connection manager
caps connections, with the least valuable trimmed first: every ``TRIM_INTERVAL_S``, when more than
``STRANGER_CONNECTIONS_HIGH`` strangers are connected, the newest are disconnected until
``STRANGER_CONNECTIONS_LOW`` remain (a wave of fresh identities goes before the strangers that
were there before it; valued peers are never trimmed, nor peers whose connection carries relay
service: ``Network.protected_peers``, bounded by the relay's limits). A trimmed stranger may
connect again, and is trimmed again while the node is over its mark. Each py-libp2p connection
holds a few MiB of buffers and per-peer state, which a flood's open connections otherwise kept.

Failure modes: none; a follower refresh that fails (the store) is logged and retried.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

import trio

from pnyx.errors import StoreError
from pnyx.net.contracts import Direction, PeerEvent

if TYPE_CHECKING:
    from pnyx.catchup.host import SyncHost

log = logging.getLogger(__name__)

#: How often the user's followers are read from the store again, in seconds.
FOLLOWERS_REFRESH_S = 30.0
#: Connections from strangers above which the newest are trimmed, a count.
STRANGER_CONNECTIONS_HIGH = 16
#: Connections from strangers left after a trim, a count.
STRANGER_CONNECTIONS_LOW = 12
#: How often connections from strangers are counted, in seconds.
TRIM_INTERVAL_S = 1.0


class PeerStanding:
    """The valued/stranger decision for one node (see the module docstring)."""

    def __init__(self, node: SyncHost) -> None:
        self.node = node
        self._followers: frozenset[bytes] = frozenset()
        self._ids: dict[bytes, str | None] = {}
        self._arrivals = itertools.count()
        self._arrived: dict[str, int] = {}
        self.trimmed = 0
        """Connections from strangers closed to stay within the mark (a count)."""
        node.events.peers.subscribe(self._peer_event)

    def _peer_event(self, event: PeerEvent) -> None:
        if event.connected:
            self._arrived[event.peer.peer_id] = next(self._arrivals)
        else:
            self._arrived.pop(event.peer.peer_id, None)

    def _valued_ids(self) -> set[str | None]:
        return {self._node_id(key) for key in (*self.node.wanted_authors(), *self._followers)}

    def _node_id(self, key: bytes) -> str | None:
        if key not in self._ids:
            self._ids[key] = self.node.network.author_peer_id(key)
        return self._ids[key]

    def __call__(self, peer: str) -> tuple[bool, str | None]:
        info = next((p for p in self.node.network.peers() if p.peer_id == peer), None)
        address = info.address if info is not None else None
        if info is not None and info.direction is Direction.OUTBOUND:
            return True, address
        return peer in self._valued_ids(), address

    def strangers_to_trim(self) -> list[str]:
        """Connected strangers to disconnect now, newest first (empty below the high mark)."""
        valued = self._valued_ids() | self.node.network.protected_peers()  # NAT: relay service
        strangers = [
            p.peer_id
            for p in self.node.network.peers()
            if p.direction is not Direction.OUTBOUND and p.peer_id not in valued
        ]
        if len(strangers) <= STRANGER_CONNECTIONS_HIGH:
            return []
        newest = sorted(strangers, key=lambda peer: -self._arrived.get(peer, -1))
        return newest[: len(strangers) - STRANGER_CONNECTIONS_LOW]

    async def trim(self) -> None:
        """Trim connections from strangers every ``TRIM_INTERVAL_S`` until cancelled."""
        while True:
            for peer in self.strangers_to_trim():
                self.trimmed += 1
                log.debug("closing the connection of stranger %s (over the mark)", peer)
                await self.node.network.disconnect(peer)
            await trio.sleep(TRIM_INTERVAL_S)

    async def run(self) -> None:
        """Keep the followers current until cancelled."""
        while True:
            try:
                found = await self.node.offload(self.node.store.followers, self.node.me)
                self._followers = frozenset(found)
            except StoreError as exc:
                log.warning("could not read your followers for sync slots: %s", exc)
            await trio.sleep(FOLLOWERS_REFRESH_S)
