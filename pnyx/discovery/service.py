"""Finding peers from trio: the peer book and dialer, mDNS and peer-exchange finds, and the DHT.

``Discovery`` runs next to the ``Node`` (``pnyx.app.service.open_node``) and owns:

* the ``Dialer`` (``pnyx.discovery.dialer``) over the peer book (``pnyx.discovery.peerbook``):
  bootstrap peers and the book's peers are dialled at start, with backoff, up to
  ``target_connections``;
* a pump from ``Network.found`` (mDNS on the LAN, gossipsub peer exchange) into the dialer: the
  mDNS library's thread never dials, it only hands finds to trio;
* with the DHT on, three loops:

  - **provide**: every feed this node holds (its own first, then followed authors, then any
    other author in the store; at most ``MAX_PROVIDED_AUTHORS``) is announced, one announcement
    per ``PROVIDE_SPACING_S`` (py-libp2p accepts 10 per 10 s from one peer), renewed every
    ``REPROVIDE_S``, retried after a failure with a doubling wait from ``PROVIDE_RETRY_S``;
  - **lookup**: when the user follows someone, and every ``LOOKUP_INTERVAL_S`` after, the node
    asks the DHT who holds that feed (at most ``MAX_PROVIDERS_PER_LOOKUP`` answers, de-duplicated),
    also looks up the author's own node by its peer id, and dials up to ``HOLDERS_PER_AUTHOR`` of
    them (the author's node first). A lookup that finds nobody is retried after a doubling wait
    from ``LOOKUP_RETRY_S``; one lookup per ``LOOKUP_TICK_S`` at most;
  - **walk**: every ``WALK_INTERVAL_S`` (and soon after the first connection) a lookup of a random
    key; the peers met go into the peer book, so the node can reach ``target_connections`` and
    keeps working when its bootstrap peer disappears.

Every network failure is logged and retried later; nothing here stops the node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import trio

from pnyx.discovery.dialer import Dialer
from pnyx.discovery.dialpolicy import DEFAULT_TARGET_CONNECTIONS
from pnyx.discovery.peerbook import PeerBook
from pnyx.errors import StoreError
from pnyx.events import InterestChanged, Stored
from pnyx.net.contracts import FoundPeer, Network
from pnyx.runtime import TrioWallClock, cleanup_scope

if TYPE_CHECKING:
    from pnyx.events import NodeEvents
    from pnyx.runtime import Offload
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: Most feeds announced in the DHT, a count.
MAX_PROVIDED_AUTHORS = 256
#: Shortest time between two announcements, in seconds (8 per 10 s).
PROVIDE_SPACING_S = 1.25
#: How long an announcement is trusted before it is renewed, in seconds.
REPROVIDE_S = 3600.0
#: First wait before an announcement that reached nobody is retried, in seconds (doubling).
PROVIDE_RETRY_S = 5.0
#: How often the set of held feeds is read from the store, in seconds (also at once when the
#: interest set changes or gossip brings a feed not held before).
HELD_SCAN_S = 10.0
#: Longest one DHT operation (announce, lookup, walk) may take, in seconds.
DHT_TIMEOUT_S = 30.0
#: Most holders taken from one lookup, a count.
MAX_PROVIDERS_PER_LOOKUP = 8
#: Holders of one followed feed the node tries to stay connected to, a count.
HOLDERS_PER_AUTHOR = 2
#: How often a followed feed is looked up again after holders were found, in seconds.
LOOKUP_INTERVAL_S = 300.0
#: First wait before a lookup that found nobody is repeated, in seconds (doubling).
LOOKUP_RETRY_S = 2.0
#: At most one lookup starts per this many seconds.
LOOKUP_TICK_S = 0.5
#: Time between DHT walks, in seconds.
WALK_INTERVAL_S = 60.0
#: First walk after the node has a connection, in seconds.
FIRST_WALK_S = 1.0
#: Most peers taken from one walk, a count.
MAX_WALK_PEERS = 20


@dataclass
class DiscoveryStats:
    """Counters since the node started (counts, and the last lookup's duration in ms)."""

    provides: int = 0
    provide_failures: int = 0
    lookups: int = 0
    lookups_empty: int = 0
    holders_found: int = 0
    walks: int = 0
    walk_peers: int = 0
    found_mdns_or_px: int = 0
    last_lookup_ms: int = 0


@dataclass
class _Schedule:
    """When a per-author task (announce or lookup) is due, and failures in a row."""

    due_ms: int = 0
    misses: int = 0
    last_ms: int = -(2**62)
    """When it last ran (Unix ms)."""


def _retry_ms(base_s: float, misses: int, limit_s: float) -> int:
    return int(min(base_s * 2 ** min(misses - 1, 30), limit_s) * 1000)


class DiscoveryHost(Protocol):
    """What discovery uses of the node it runs beside (``pnyx.node.node.Node`` is one)."""

    me: bytes
    store: Store
    offload: Offload
    events: NodeEvents

    @property
    def network(self) -> Network: ...

    def wanted_authors(self) -> frozenset[bytes]: ...

    def followed_authors(self) -> frozenset[bytes]: ...


class Discovery:
    """Peer discovery for one running node (see the module docstring)."""

    def __init__(
        self,
        node: DiscoveryHost,
        *,
        peerbook_path: Path | None = None,
        bootstrap: tuple[str, ...] = (),
        target_connections: int = DEFAULT_TARGET_CONNECTIONS,
        dht: bool = True,
    ) -> None:
        self._node = node
        self._peerbook_path = peerbook_path
        self._bootstrap = bootstrap
        self._target = target_connections
        self._dht = dht
        self._dialer: Dialer | None = None
        self._provided: dict[bytes, _Schedule] = {}
        self._lookups: dict[bytes, _Schedule] = {}
        self._holders: dict[bytes, list[str]] = {}
        self._held: list[bytes] = []
        self._held_set: frozenset[bytes] = frozenset()
        self._last_holders: list[str] = []
        self._interest = trio.Event()
        self._rescan = True
        self._now: Callable[[], int] = lambda: 0
        self.stats = DiscoveryStats()

    @property
    def dialer(self) -> Dialer:
        if self._dialer is None:
            raise RuntimeError("discovery is not running")
        return self._dialer

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Open the peer book and run every loop until cancelled (the book is closed after)."""
        node = self._node
        try:
            book: PeerBook = await node.offload(PeerBook.open, self._peerbook_path)
        except StoreError as exc:
            log.warning("peer book unusable, keeping one in memory only: %s", exc)
            book = await node.offload(PeerBook.open, None)
        try:
            self._now = TrioWallClock()
            network = node.network
            dialer = self._dialer = Dialer(
                network,
                book,
                offload=node.offload,
                target=self._target,
                bootstrap=self._bootstrap,
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(dialer.run)
                node.events.peers.subscribe(dialer.peer_event)
                node.events.interest.subscribe(self._interest_changed)
                node.events.stored.subscribe(self._stored)
                nursery.start_soon(self._pump_found, network)
                if self._dht:
                    nursery.start_soon(self._provide_loop, network)
                    nursery.start_soon(self._lookup_loop, network)
                    nursery.start_soon(self._walk_loop, network)
                task_status.started()
        finally:
            with cleanup_scope():
                await node.offload(book.close)

    def _interest_changed(self, event: InterestChanged) -> None:
        self._interest.set()
        self._rescan = True

    def _stored(self, event: Stored) -> None:
        """Messages were stored (gossip or sync): a feed held for the first time is announced
        soon."""
        if any(m.author not in self._held_set for m in event.messages):
            self._rescan = True

    async def _pump_found(self, network: Network) -> None:
        async for found in network.found:
            self.stats.found_mdns_or_px += 1
            log.debug("found %s by %s", found.peer_id, found.source.value)
            self.dialer.request(found)

    # --- announcing held feeds --------------------------------------------------------------

    async def _provide_loop(self, network: Network) -> None:
        next_scan = -1.0
        while True:
            if trio.current_time() >= next_scan or self._rescan:
                self._rescan = False
                await self._scan_held()
                next_scan = trio.current_time() + HELD_SCAN_S
            author = self._next_due(self._provided, self._held) if network.peers() else None
            if author is not None:
                await self._provide(network, author)
            await trio.sleep(PROVIDE_SPACING_S)

    async def _scan_held(self) -> None:
        node = self._node
        try:
            heads = await node.offload(node.store.heads)
        except StoreError as exc:
            log.warning("cannot list the feeds held: %s", exc)
            return
        wanted = node.wanted_authors()
        ordered = [node.me]
        ordered += sorted(a for a in heads if a in wanted and a != node.me)
        ordered += sorted(a for a in heads if a not in wanted)
        self._held = ordered[:MAX_PROVIDED_AUTHORS]
        self._held_set = held = frozenset(ordered)  # all, so the cap does not force rescans
        for author in list(self._provided):
            if author not in held:
                del self._provided[author]

    def _next_due(self, schedules: dict[bytes, _Schedule], authors: list[bytes]) -> bytes | None:
        now = self._now()
        for author in authors:
            if schedules.setdefault(author, _Schedule()).due_ms <= now:
                return author
        return None

    async def _provide(self, network: Network, author: bytes) -> None:
        schedule = self._provided[author]
        ok = False
        with trio.move_on_after(DHT_TIMEOUT_S):
            ok = await network.provide(author)
        now = self._now()
        schedule.last_ms = now
        if ok:
            self.stats.provides += 1
            schedule.misses = 0
            schedule.due_ms = now + int(REPROVIDE_S * 1000)
        else:
            self.stats.provide_failures += 1
            schedule.misses += 1
            schedule.due_ms = now + _retry_ms(PROVIDE_RETRY_S, schedule.misses, REPROVIDE_S)

    # --- finding holders of followed feeds --------------------------------------------------

    async def _lookup_loop(self, network: Network) -> None:
        while True:
            self._interest = trio.Event()
            node = self._node  # reach: follows are looked up before the horizon
            first = node.followed_authors()
            followed = sorted(node.wanted_authors() - {node.me}, key=lambda a: (a not in first, a))
            for gone in list(self._lookups):
                if gone not in followed:
                    del self._lookups[gone]
                    self._holders.pop(gone, None)
            due = self._next_due(self._lookups, followed) if network.peers() else None
            if due is not None:
                await self._lookup(network, due)
            with trio.move_on_after(LOOKUP_TICK_S):
                await self._interest.wait()

    async def _lookup(self, network: Network, author: bytes) -> None:
        """Look ``author``'s holders up, unless a holder found lately is connected. Until a
        holder is connected the lookup is repeated with a doubling wait."""
        schedule = self._lookups[author]
        now = self._now()
        connected = self.dialer.connected_holders(self._holders.get(author, []))
        recent = now - schedule.last_ms < LOOKUP_INTERVAL_S * 1000
        if connected and (recent or len(connected) >= HOLDERS_PER_AUTHOR):
            schedule.misses = 0
            schedule.due_ms = (schedule.last_ms if recent else now) + int(LOOKUP_INTERVAL_S * 1000)
            return
        started = trio.current_time()
        found = await self._find_holders(network, author)
        self.stats.lookups += 1
        self.stats.last_lookup_ms = round((trio.current_time() - started) * 1000)
        schedule.last_ms = now
        schedule.misses += 1  # forgiven on the next check if a holder is connected by then
        schedule.due_ms = now + _retry_ms(LOOKUP_RETRY_S, schedule.misses, LOOKUP_INTERVAL_S)
        own_node = network.author_peer_id(author)
        self._holders[author] = [f.peer_id for f in found] + ([own_node] if own_node else [])
        if not found:
            self.stats.lookups_empty += 1
            return
        self.stats.holders_found += len(found)
        self._last_holders = [f.peer_id for f in found]
        log.info(
            "found %d holder(s) of a followed feed in the DHT in %d ms",
            len(found),
            self.stats.last_lookup_ms,
        )
        linked = set(self.dialer.connected_holders(self._holders[author]))
        missing = HOLDERS_PER_AUTHOR - len(linked)
        for holder in found:
            if missing <= 0:
                break
            if holder.peer_id not in linked:
                self.dialer.request(holder, force=True)
                missing -= 1

    async def _find_holders(self, network: Network, author: bytes) -> list[FoundPeer]:
        """The author's own node first (if it can be found), then announced holders; one entry
        per peer, never this node, at most ``MAX_PROVIDERS_PER_LOOKUP``. Both lookups run at
        once; what they found by ``DHT_TIMEOUT_S`` is used."""
        own: list[FoundPeer] = []
        announced: list[FoundPeer] = []
        own_node = network.author_peer_id(author)

        async def find_own(peer_id: str) -> None:
            peer = await network.find_peer(peer_id)
            if peer is not None:
                own.append(peer)

        async def find_announced() -> None:
            announced.extend(await network.find_providers(author, MAX_PROVIDERS_PER_LOOKUP))

        with trio.move_on_after(DHT_TIMEOUT_S):
            async with trio.open_nursery() as nursery:
                if own_node is not None and own_node != network.peer_id:
                    nursery.start_soon(find_own, own_node)
                nursery.start_soon(find_announced)
        found: dict[str, FoundPeer] = {}
        for holder in (*own, *announced):
            if holder.peer_id != network.peer_id and holder.addresses:
                found.setdefault(holder.peer_id, holder)
        return list(found.values())[:MAX_PROVIDERS_PER_LOOKUP]

    # --- walking the DHT for more peers -----------------------------------------------------

    async def _walk_loop(self, network: Network) -> None:
        while not network.peers():
            await trio.sleep(FIRST_WALK_S)
        await trio.sleep(FIRST_WALK_S)
        while True:
            peers: list[FoundPeer] = []
            with trio.move_on_after(DHT_TIMEOUT_S):
                peers = await network.sample_peers(MAX_WALK_PEERS)
            self.stats.walks += 1
            self.stats.walk_peers += len(peers)
            for found in peers:
                if found.peer_id != network.peer_id and found.addresses:
                    self.dialer.request(found)
            await trio.sleep(WALK_INTERVAL_S)

    # --- reporting --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What ``pnyx status --json`` shows under ``"discovery"``."""
        network = self._node.network
        return {
            **(self._dialer.status() if self._dialer is not None else {}),
            **asdict(self.stats),
            "dht": self._dht,
            "last_holders": list(self._last_holders),
            "feeds_announced": sum(
                1 for s in self._provided.values() if s.misses == 0 and s.due_ms > 0
            ),
            **network.discovery_stats(),
        }
