"""Bounds on py-libp2p's gossip state: what would otherwise grow with peers, frames or time.

py-libp2p 0.8.1 keeps, per gossip router and pubsub, several structures with no size limit or only
a time limit (measured in issue 11: a sybil flood of valid frames grew a node by 300 MiB that it
never gave back). Each gets a named bound here:

* the message cache (``mcache``: messages of the last 5 heartbeats, served to IWANT requests):
  ``BoundedMessageCache`` holds at most ``MCACHE_MAX_BYTES`` of frames, the oldest dropped first
  (a dropped one is simply not served to a late IWANT: gossip is best effort, sync fills gaps);
* the router's equivocation memory kept up to 1,000 whole messages (up to 1 MiB each);
  ``BoundedGossipSub`` keeps a 32-byte digest of at most ``EQUIVOCATION_MEMORY`` of them;
* the seen cache (``seen_messages``, ids of accepted frames for ``SEEN_TTL_S``) is bounded by time
  only; ``BoundedSeenCache`` also holds at most ``MAX_SEEN_FRAME_IDS``, the oldest forgotten first
  (a forgotten frame arriving again is validated again, and its envelopes are duplicates);
* state of peers that left (per-peer router and scorer tables; peerstore records once it holds
  more than ``MAX_PEERSTORE_PEERS``): ``forget_departed`` drops it for peers neither connected
  nor banned, called by the adapter's sweep.

``release_memory`` hands freed heap back to the operating system (glibc ``malloc_trim``): CPython
and the worker threads' malloc arenas otherwise keep the peak of a flood resident for good.

Failure modes: none raise into pubsub. ``release_memory`` is a no-op where there is no glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import itertools
import logging
from collections import OrderedDict
from collections.abc import Collection, Iterable
from typing import Any

from libp2p.peer.id import ID
from libp2p.pubsub.mcache import CacheEntry, MessageCache
from libp2p.pubsub.pb import rpc_pb2
from libp2p.tools.timed_cache.last_seen_cache import LastSeenCache

from pnyx.gossip.px import PxGossipSub  # discovery

log = logging.getLogger(__name__)

#: Most frame bytes the gossip message cache holds (for IWANT answers), in bytes.
MCACHE_MAX_BYTES = 16 * 1024 * 1024
#: Messages whose (origin, seqno) the router remembers to detect equivocation, a count (each a
#: 32-byte digest, not the message).
EQUIVOCATION_MEMORY = 4096
#: Arrival index of a mesh peer the router never saw arrive: treated as the newest (pruned first).
NEVER_ARRIVED = 2**62
#: Most frame ids the seen cache holds, a count (about 150 bytes each).
MAX_SEEN_FRAME_IDS = 65_536
#: Peers the peerstore may hold before the records of departed ones are dropped, a count (the
#: dialer keeps its own peer book; the DHT finds addresses again).
MAX_PEERSTORE_PEERS = 1024


class BoundedMessageCache(MessageCache):
    """``MessageCache`` holding at most ``max_bytes`` of message data, the oldest dropped first."""

    def __init__(
        self, window_size: int, history_size: int, max_bytes: int = MCACHE_MAX_BYTES
    ) -> None:
        super().__init__(window_size, history_size)
        self.max_bytes = max_bytes
        self.bytes = 0

    def put(self, msg: rpc_pb2.Message) -> None:
        held = len(self.msgs)
        super().put(msg)
        if len(self.msgs) == held:
            return  # already held
        self.bytes += len(msg.data)
        while self.bytes > self.max_bytes and self._drop_oldest():
            pass

    def _drop_oldest(self) -> bool:
        for entries in reversed(self.history):
            if entries:
                self._forget(entries.pop(0))
                return True
        return False

    def _forget(self, entry: CacheEntry) -> None:
        msg = self.msgs.pop(entry.mid, None)
        if msg is not None:
            self.bytes -= len(msg.data)

    def shift(self) -> None:
        for entry in self.history[-1]:
            self._forget(entry)
        self.history[-1] = []
        super().shift()


class BoundedGossipSub(PxGossipSub):
    """The gossip router with a bounded message cache and equivocation memory (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mcache = BoundedMessageCache(self.mcache.window_size, self.mcache.history_size)
        self._origins: OrderedDict[bytes, bytes] = OrderedDict()
        self._arrivals = itertools.count()
        self._arrived: dict[ID, int] = {}
        """Order in which the connected gossip peers arrived (for pruning: newest first)."""

    def add_peer(self, peer_id: ID, protocol_id: Any) -> None:
        super().add_peer(peer_id, protocol_id)
        self._arrived.setdefault(peer_id, next(self._arrivals))

    def remove_peer(self, peer_id: ID) -> None:
        super().remove_peer(peer_id)
        self._arrived.pop(peer_id, None)

    async def handle_graft(self, graft_msg: rpc_pb2.ControlGraft, sender_peer_id: ID) -> None:
        """A GRAFT into a mesh already at D_hi is answered with a PRUNE (with peer exchange), as
        go-libp2p does: newcomers cannot push the mesh over D_hi and make the heartbeat's prune
        choose between them and the peers already there."""
        mesh = self.mesh.get(graft_msg.topicID)
        if mesh is not None and sender_peer_id not in mesh and len(mesh) >= self.degree_high:
            await self.emit_prune(graft_msg.topicID, sender_peer_id, self.do_px, False)
            return
        await super().handle_graft(graft_msg, sender_peer_id)

    def _select_peers_for_pruning(self, topic: str, num_to_prune: int) -> list[ID]:
        """When the mesh is over D_hi, prune peers with a negative score first, then the peers
        that arrived last (gossipsub v1.1's time-in-mesh idea): a wave of fresh identities is
        pruned before the peers that were there before it (py-libp2p 0.8.1 chose by score, ties
        at random, and a sybil wave with no score yet could push the honest relays out, to stay
        out for the prune backoff)."""
        mesh = list(self.mesh.get(topic, ()))
        if num_to_prune <= 0:
            return []
        scorer = self.scorer

        def keep_first(peer: ID) -> tuple[bool, int]:
            negative = scorer is not None and scorer.score(peer, [topic]) < 0
            return (not negative, -self._arrived.get(peer, NEVER_ARRIVED))

        return sorted(mesh, key=keep_first)[:num_to_prune]

    def _get_peers_to_send(
        self,
        topic_ids: Iterable[str],
        msg_forwarder: ID,
        origin: ID,
        msg_id: bytes | None = None,
    ) -> Iterable[ID]:
        """Flood publishing (gossipsub v1.1, go-libp2p's default): a frame this node publishes
        goes to every peer on the topic, not only to its mesh, so that no mesh a flood of sybils
        reshaped (their joins push the mesh over D_hi, the prune may keep them and drop the honest
        peers, which then stay out for the prune backoff) can cut the user's own posts off. The
        publish gate (score at or above the publish threshold) still applies, and banned peers are
        no longer on the topic. Frames relayed for others go to the mesh as before."""
        chosen = set(super()._get_peers_to_send(topic_ids, msg_forwarder, origin, msg_id))
        pubsub = self.pubsub
        if pubsub is not None and msg_forwarder == pubsub.my_id:
            for topic in topic_ids:
                chosen.update(pubsub.peer_topics.get(topic, ()))
            chosen.discard(msg_forwarder)
        return chosen

    def _check_equivocation(self, msg: rpc_pb2.Message) -> bool:
        key = msg.from_id + msg.seqno
        digest = hashlib.blake2b(msg.data, digest_size=32).digest()
        first = self._origins.setdefault(key, digest)
        if first != digest:
            log.debug("equivocation by %s", ID(msg.from_id))
            return False
        while len(self._origins) > EQUIVOCATION_MEMORY:
            self._origins.popitem(last=False)
        return True


class BoundedSeenCache(LastSeenCache):
    """``LastSeenCache`` that also forgets its oldest ids beyond ``limit``."""

    def __init__(self, ttl: int, sweep_interval: int, limit: int = MAX_SEEN_FRAME_IDS) -> None:
        super().__init__(ttl, sweep_interval)
        self.limit = limit

    def add(self, key: bytes) -> bool:
        is_new = super().add(key)
        if is_new and len(self.cache) > self.limit:
            with self.lock:
                while len(self.cache) > self.limit:
                    del self.cache[next(iter(self.cache))]
        return is_new


#: Per-peer tables of py-libp2p's router and scorer swept by ``forget_departed`` (attribute names;
#: each a dict keyed by peer ``ID``, or by topic then peer ``ID`` when listed in ``_BY_TOPIC``).
_ROUTER_PEER_TABLES = (
    "peer_protocol",
    "dont_send_message_ids",
    "message_rate_limits",
    "iwant_request_limits",
    "ihave_message_limits",
    "graft_flood_tracking",
    "_pending_messages",
    "_pending_control",
)
_BY_TOPIC = ("back_off",)


def forget_departed(pubsub: Any, router: Any, host: Any, keep: Collection[str]) -> int:
    """Drop what pubsub, the router and the peerstore keep about peers not connected and not in
    ``keep`` (base58 ids: banned peers, whose records must stay); returns how many peers went."""
    network = host.get_network()
    live = set(network.connections) | set(pubsub.peers)
    store = host.get_peerstore()
    known = store.peer_ids()
    gone = [p for p in known if p not in live and p != host.get_id() and str(p) not in keep]
    if len(known) <= MAX_PEERSTORE_PEERS:
        gone = []
    for peer in gone:
        store.clear_peerdata(peer)
    tables: list[dict[Any, Any]] = [getattr(router, n, {}) for n in _ROUTER_PEER_TABLES]
    for name in _BY_TOPIC:
        tables.extend(getattr(router, name, {}).values())
    for table in tables:
        for peer in [p for p in table if isinstance(p, ID) and p not in live]:
            del table[peer]
    scorer = getattr(router, "scorer", None)
    if scorer is not None:
        for peer in [p for p in scorer.behavior_penalty if p not in live]:
            scorer.remove_peer(peer)
    return len(gone)


def _find_malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_MALLOC_TRIM = _find_malloc_trim()


def release_memory() -> None:
    """Return freed heap pages to the operating system (glibc only; otherwise nothing)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
