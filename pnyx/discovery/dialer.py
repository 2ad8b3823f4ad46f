"""Staying connected: the trio loop that dials known peers (policy:
``pnyx.discovery.dialpolicy``).

``Dialer`` keeps the peer book (``pnyx.discovery.peerbook``) in memory and writes changes through
in one transaction per tick, learns peers from connections (``peer_event``) and from discovery
(``request``), and dials from trio with ``Network.connect`` (whose libp2p version clears
py-libp2p's 60 s dial negative cache before every dial): while fewer than ``target`` peers are
connected it dials what ``dial_plan`` picks, so a peer that goes away is replaced on the next
tick (every ``DIAL_TICK_S``, or at once on a disconnect). It remembers how each connected peer
was found (``FoundBy``) for ``pnyx peers``. Dial failures are counted and logged, never raised,
except for ``connect`` (``pnyx connect``), which raises ``UserError`` / ``ConnectError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import trio

from pnyx.clock import wall_clock_ms
from pnyx.discovery.dialpolicy import (
    DEFAULT_TARGET_CONNECTIONS,
    MAX_CONCURRENT_DIALS,
    dial_plan,
    forgettable,
    next_attempt_ms,
    peer_state,
    with_peer_id,
)
from pnyx.discovery.peerbook import PeerBook, PeerRecord, learned
from pnyx.errors import StoreError, UserError
from pnyx.net.contracts import (
    ConnectError,
    Direction,
    FoundBy,
    FoundPeer,
    Network,
    PeerEvent,
    peer_id_of,
)
from pnyx.runtime import Offload, TrioWallClock

log = logging.getLogger(__name__)

#: Addresses of one peer tried per dial, a count (each may take the connect timeout).
MAX_ADDRESSES_PER_DIAL = 3
#: How often the dialer looks at its connections when nothing wakes it, in seconds.
DIAL_TICK_S = 1.0
#: Dial requests from discovery waiting to be served, a count (more are dropped).
REQUEST_QUEUE = 64


@dataclass
class DialStats:
    """Counters since the node started (all counts)."""

    dials: int = 0
    dial_failures: int = 0
    requests_dropped: int = 0
    peers_forgotten: int = 0
    peerbook_errors: int = 0


class Dialer:
    """Keeps ``target`` connections using the peer book (see the module docstring)."""

    def __init__(
        self,
        network: Network,
        book: PeerBook,
        *,
        offload: Offload,
        target: int = DEFAULT_TARGET_CONNECTIONS,
        bootstrap: Sequence[str] = (),
    ) -> None:
        self._network = network
        self._book = book
        self._offload = offload
        self._target = target
        self._bootstrap = tuple(bootstrap)
        self._me = network.peer_id
        self._records: dict[str, PeerRecord] = {}
        self._dirty: set[str] = set()
        self._forgotten: set[str] = set()
        self._fresh: set[str] = set()  # learned during this run (else: from the peer book)
        self._dialling: dict[str, FoundBy] = {}
        self._found_by: dict[str, FoundBy] = {}
        self._wake = trio.Event()
        self._limiter = trio.CapacityLimiter(MAX_CONCURRENT_DIALS)
        self._request_send, self._request_recv = trio.open_memory_channel[FoundPeer](REQUEST_QUEUE)
        self._now: Callable[[], int] = wall_clock_ms
        self.stats = DialStats()

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Load the peer book, learn the bootstrap peers, then keep connected until cancelled."""
        self._now = TrioWallClock()
        try:
            loaded = await self._offload(self._book.load)
        except StoreError as exc:
            log.warning("cannot read the peer book (starting without it): %s", exc)
            loaded = []
        self._records = {r.peer_id: r for r in loaded}
        for record in loaded:  # pinned means "in today's bootstrap list"
            if record.pinned:
                self._update(record.peer_id, pinned=False)
        for address in self._bootstrap:
            peer = peer_id_of(address)
            if peer is None or peer == self._me:
                log.warning("bootstrap address %s does not name another peer; skipped", address)
                continue
            self._learn(FoundPeer(peer, (address,), FoundBy.BOOTSTRAP), pinned=True)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._serve_requests, nursery)
            task_status.started()
            while True:
                self._tick(nursery)
                await self._flush()
                with trio.move_on_after(DIAL_TICK_S):
                    await self._wake.wait()
                self._wake = trio.Event()

    def _tick(self, nursery: trio.Nursery) -> None:
        now = self._now()
        for record in list(self._records.values()):
            if forgettable(record, now):
                self._forget(record.peer_id)
        connected = {p.peer_id for p in self._network.peers()}
        for peer in connected:  # identify tells us a connected peer's listen addresses
            self._refresh_addresses(peer)
        plan = dial_plan(
            self._records.values(),
            me=self._me,
            connected=connected,
            dialling=self._dialling,
            refused=self._network.banned(),
            now_ms=now,
            target=self._target,
        )
        for record in plan:
            if record.pinned:
                source = FoundBy.BOOTSTRAP
            elif record.peer_id in self._fresh and record.source in FoundBy.__members__.values():
                source = FoundBy(record.source)
            else:
                source = FoundBy.PEERBOOK
            self._start_dial(nursery, record.peer_id, record.addresses, source)

    async def _flush(self) -> None:
        if not self._dirty and not self._forgotten:
            return
        records = [self._records[p] for p in self._dirty if p in self._records]
        forgotten = list(self._forgotten)
        self._dirty.clear()
        self._forgotten.clear()
        try:
            for peer in forgotten:
                await self._offload(self._book.remove, peer)
            evicted: list[str] = await self._offload(self._book.save_many, records)
        except StoreError as exc:  # the book lags behind; the dialer works from memory
            self.stats.peerbook_errors += 1
            level = logging.WARNING if self.stats.peerbook_errors == 1 else logging.DEBUG
            log.log(level, "cannot write the peer book: %s", exc)
            return
        for peer in evicted:
            self._records.pop(peer, None)

    async def _serve_requests(self, nursery: trio.Nursery) -> None:
        async for found in self._request_recv:
            record = self._records.get(found.peer_id)
            if (
                record is None
                or found.peer_id in self._dialling
                or found.peer_id in {p.peer_id for p in self._network.peers()}
                or found.peer_id in self._network.banned()
                or next_attempt_ms(record) > self._now()
            ):
                continue
            self._start_dial(nursery, found.peer_id, record.addresses, found.source)

    def _start_dial(
        self, nursery: trio.Nursery, peer: str, addresses: Sequence[str], source: FoundBy
    ) -> None:
        self._dialling[peer] = source  # before the task runs: no second dial of the same peer
        nursery.start_soon(self._dial, peer, tuple(addresses), source)

    async def _dial(self, peer: str, addresses: tuple[str, ...], source: FoundBy) -> None:
        try:
            async with self._limiter:
                self.stats.dials += 1
                for address in addresses[:MAX_ADDRESSES_PER_DIAL]:
                    try:
                        await self._network.connect(address)
                    except UserError as exc:  # unusable address: forget it
                        log.debug("dropping address %s of %s: %s", address, peer, exc)
                        self._drop_address(peer, address)
                    except ConnectError as exc:
                        log.debug("dial %s via %s failed: %s", peer, address, exc)
                    else:
                        self._found_by[peer] = source  # the connected event may come later
                        self._succeeded(peer, address)
                        return
                self.stats.dial_failures += 1
                self._failed(peer)
        finally:
            self._dialling.pop(peer, None)
            self._wake.set()

    # --- learning ---------------------------------------------------------------------------

    def _learn(self, found: FoundPeer, *, pinned: bool = False) -> PeerRecord | None:
        if found.peer_id == self._me:
            return None
        addresses = [with_peer_id(a, found.peer_id) for a in found.addresses]
        old = self._records.get(found.peer_id)
        new = learned(old, found.peer_id, addresses, found.source.value, self._now(), pinned=pinned)
        if new != old:
            self._records[found.peer_id] = new
            self._dirty.add(found.peer_id)
        if old is None:
            self._fresh.add(found.peer_id)
        self._forgotten.discard(found.peer_id)
        return new

    def _update(self, peer: str, **changes: Any) -> None:
        record = self._records.get(peer)
        if record is not None:
            self._records[peer] = replace(record, **changes)
            self._dirty.add(peer)

    def _succeeded(self, peer: str, address: str | None) -> None:
        now = self._now()
        if address is not None:
            self._learn(FoundPeer(peer, (address,), self._dialling.get(peer, FoundBy.DHT)))
        self._update(peer, failures=0, last_success_ms=now, last_seen_ms=now)

    def _failed(self, peer: str) -> None:
        record = self._records.get(peer)
        if record is not None:
            self._update(peer, failures=record.failures + 1, last_failure_ms=self._now())

    def _drop_address(self, peer: str, address: str) -> None:
        record = self._records.get(peer)
        if record is not None:
            self._update(peer, addresses=tuple(a for a in record.addresses if a != address))

    def _forget(self, peer: str) -> None:
        if self._records.pop(peer, None) is not None:
            self.stats.peers_forgotten += 1
            self._forgotten.add(peer)
            self._dirty.discard(peer)

    def _refresh_addresses(self, peer: str) -> None:
        record = self._records.get(peer)
        addresses = self._network.peer_addresses(peer)
        if record is not None and not set(addresses) - set(record.addresses):
            return
        self._learn(FoundPeer(peer, tuple(addresses), self._found_by.get(peer, FoundBy.INBOUND)))

    # --- hooks for the node and discovery ---------------------------------------------------

    def peer_event(self, event: PeerEvent) -> None:
        """A peer connected or left (a subscriber of ``node.events.peers``); never blocks."""
        info = event.peer
        if not event.connected:
            self._found_by.pop(info.peer_id, None)
            self._wake.set()  # replace it
            return
        source = self._found_by.get(info.peer_id) or self._dialling.get(info.peer_id)
        if source is None:  # not dialled by us: they dialled us, or libp2p did (DHT queries)
            source = FoundBy.INBOUND if info.direction is Direction.INBOUND else FoundBy.DHT
        self._found_by[info.peer_id] = source
        outbound = info.direction is Direction.OUTBOUND and info.address is not None
        address = info.address if outbound else None
        self._learn(FoundPeer(info.peer_id, (), source))
        self._succeeded(info.peer_id, address)

    def request(self, found: FoundPeer, *, force: bool = False) -> None:
        """Learn ``found``; dial it soon if ``force`` (a holder of a wanted feed) or while below
        the target. Never blocks: a full queue drops the dial (counted), not the peer."""
        if self._learn(found) is None:
            return
        below = len(self._network.peers()) + len(self._dialling) < self._target
        if not (force or below):
            return
        try:
            self._request_send.send_nowait(found)
        except trio.WouldBlock:
            self.stats.requests_dropped += 1

    async def connect(self, address: str) -> str:
        """Dial ``address`` now (``pnyx connect``) and remember the peer. Raises ``UserError`` /
        ``ConnectError``."""
        expected = peer_id_of(address)
        if expected is not None:
            self._dialling.setdefault(expected, FoundBy.MANUAL)
        try:
            peer = await self._network.connect(address)
        except ConnectError:
            if expected is not None:
                self._learn(FoundPeer(expected, (address,), FoundBy.MANUAL))
                self._failed(expected)
            raise
        finally:
            if expected is not None and self._dialling.get(expected) is FoundBy.MANUAL:
                del self._dialling[expected]
        self._found_by.setdefault(peer, FoundBy.MANUAL)
        self._learn(FoundPeer(peer, (address,), FoundBy.MANUAL))
        self._succeeded(peer, None)
        self._wake.set()
        return peer

    # --- reporting --------------------------------------------------------------------------

    def found_by(self, peer: str) -> str | None:
        """How a connected peer was found (None if unknown)."""
        source = self._found_by.get(peer)
        return source.value if source is not None else None

    def connected_holders(self, peers: Iterable[str]) -> list[str]:
        connected = {p.peer_id for p in self._network.peers()}
        return [p for p in peers if p in connected]

    def peer_rows(self, *, everyone: bool = False) -> list[dict[str, Any]]:
        """Rows of ``pnyx peers``: connected peers, dials in flight and (``everyone``) the rest
        of the peer book, each with how it was found and its state."""
        now = self._now()
        rows: list[dict[str, Any]] = []
        shown: set[str] = set()
        for info in self._network.peers():
            shown.add(info.peer_id)
            rows.append(
                {
                    "peer_id": info.peer_id,
                    "direction": info.direction.value,
                    "address": info.address,
                    "found_by": self.found_by(info.peer_id) or "unknown",
                    "state": "connected",
                }
            )
        for peer, source in sorted(self._dialling.items()):
            if peer not in shown:
                shown.add(peer)
                rows.append(self._book_row(peer, source.value, "dialling"))
        if everyone:
            for peer in sorted(set(self._records) - shown):
                record = self._records[peer]
                rows.append(self._book_row(peer, record.source, peer_state(record, now)))
        return rows

    def _book_row(self, peer: str, source: str, state: str) -> dict[str, Any]:
        record = self._records.get(peer)
        address = record.addresses[0] if record is not None and record.addresses else None
        return {
            "peer_id": peer,
            "direction": None,
            "address": address,
            "found_by": source,
            "state": state,
        }

    def status(self) -> dict[str, Any]:
        """Counters for ``pnyx status --json``."""
        by_source: dict[str, int] = {}
        for source in self._found_by.values():
            by_source[source.value] = by_source.get(source.value, 0) + 1
        return {
            "target_connections": self._target,
            "peerbook": len(self._records),
            "dialling": len(self._dialling),
            "connected_by": by_source,
            **asdict(self.stats),
        }
