"""The running node's catch-up sync: when to sync with whom, and serving ``/pnyx/sync/1.0.0``.

A ``SyncScheduler`` is built next to a ``Node`` (``pnyx.app.service.open_node``) and hooks into it
(``node.events``: peers, stored, interest; ``pnyx.events``). It asks a peer for what
this node lacks of its interest set (the user and whom they follow) when:

* **connect**: a peer connects (``sync_on_connect``). Both sides do it, each for its own interest
  set, so two nodes that meet exchange in both directions what each follows;
* **periodic**: every ``interval_s`` seconds with each connected peer not synced that recently;
* **gap**: gossip stored a message whose predecessors are missing (the store's heads show
  contiguous < highest) and the author's contiguous head then stays put for ``GAP_GRACE_S`` (frames
  that took different paths arrive out of order: gossip fills such gaps by itself within moments,
  and fetching them would verify every message twice): the gapped authors are fetched from every
  connected peer, at most once per ``GAP_SPACING_S`` per author (``pnyx.catchup.gaps``);
* **follow**: the interest set gained authors (``pnyx follow``): their history is fetched from
  every connected peer;
* **request**: ``sync_now`` (the control socket's ``sync`` op, used by ``pnyx sync``).

At most ``max_sessions`` requester sessions run at once and never two with one peer; requests for a
busy peer are merged and run after it. A failed session (the peer broke the protocol, stalled past
the idle timeout, went away) is retried after ``RETRY_BASE_S`` doubling up to ``RETRY_MAX_S``, at
most ``MAX_RETRIES`` times in a row; each new session resumes from what the store holds.
Incoming sessions are served by ``pnyx.catchup.session.Server`` (every feed held).

Every received envelope is validated (on every core) and placed exactly like gossip; newly
stored messages are shown (``NodeOutput.arrived``), never re-published as own messages, and a
follow/unfollow of the user's own updates the interest set.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Collection
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import trio

from pnyx.catchup.gaps import GAP_CHECK_S, GapWatch
from pnyx.catchup.host import SyncHost, SyncStats, _Want
from pnyx.catchup.session import (
    MAX_SERVED_SESSIONS,
    FetchOptions,
    Server,
    SessionResult,
    fetch_from_peer,
    violation,
)
from pnyx.catchup.standing import PeerStanding
from pnyx.errors import StoreError
from pnyx.events import InterestChanged, Source, Stored, StoreHealth
from pnyx.net.contracts import Network, PeerEvent
from pnyx.sync.limits import IDLE_TIMEOUT_S, PROTOCOL_ID, SESSION_TIMEOUT_S

if TYPE_CHECKING:
    from pnyx.store import IngestReport

log = logging.getLogger(__name__)

#: Requester sessions running at once (each with a different peer), a count.
MAX_SYNC_SESSIONS = 2
#: Default seconds between periodic syncs with each peer (``sync_interval_s`` in config.toml).
DEFAULT_INTERVAL_S = 60.0
#: First wait before a failed session with a peer is retried, in seconds (doubles per failure).
RETRY_BASE_S = 2.0
#: Longest wait before a retry, in seconds.
RETRY_MAX_S = 60.0
#: Failed sessions in a row after which a peer is left until the next trigger, a count.
MAX_RETRIES = 5
#: Shortest time between two periodic syncs of the whole interest set (the trust horizon, not
#: only own and followed feeds) with one peer, in seconds.
HORIZON_SYNC_INTERVAL_S = 1800.0


class SyncScheduler:
    """Decides when to sync with which peer; see the module docstring. Build it before the node
    runs (it registers its hooks), then ``await nursery.start(scheduler.run)``."""

    def __init__(
        self,
        node: SyncHost,
        *,
        on_connect: bool = True,
        interval_s: float = DEFAULT_INTERVAL_S,
        max_sessions: int = MAX_SYNC_SESSIONS,
        max_served: int = MAX_SERVED_SESSIONS,
        idle_timeout: float = IDLE_TIMEOUT_S,
        session_timeout: float = SESSION_TIMEOUT_S,
    ) -> None:
        self.node = node
        self.on_connect = on_connect
        self.interval_s = interval_s
        self.idle_timeout = idle_timeout
        self.session_timeout = session_timeout
        self.stats = SyncStats()
        self.server = Server(
            node.store,
            node.offload,
            max_sessions=max_served,
            idle_timeout=idle_timeout,
            session_timeout=session_timeout,
            on_violation=node.penalise,  # robustness: a peer breaking the protocol loses standing
            standing=(standing := PeerStanding(node)),  # robustness: slots kept for who matters
        )
        self._standing = standing
        self._limiter = trio.CapacityLimiter(max_sessions)
        self._network: Network | None = None  # the node's, taken when ``run`` starts
        self._running = 0
        self._pending: dict[str, _Want] = {}
        self._busy: dict[str, trio.Event] = {}
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._last_full: dict[str, float] = {}
        self._last_horizon: dict[str, float] = {}
        self._wake = trio.Event()
        self._gaps = GapWatch()
        self._gap_wake = trio.Event()
        self._interest: frozenset[bytes] | None = None
        node.events.peers.subscribe(self._peer_event)
        node.events.stored.subscribe(self._stored)
        node.events.interest.subscribe(self._interest_changed)
        node.events.store.subscribe(self._store_health)

    # --- running ----------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve sync streams and run the triggers until cancelled (inside ``node.run``). The
        node's network is taken once here: a session ending while the node stops then sees no
        peers instead of a node that is no longer running."""
        self._network = self.node.network
        self._network.set_stream_handler(PROTOCOL_ID, self.server.serve)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._dispatch, nursery)
            nursery.start_soon(self._gap_loop)
            nursery.start_soon(self._periodic)
            nursery.start_soon(self._standing.run)
            nursery.start_soon(self._standing.trim)  # robustness: connections of strangers
            if self.on_connect:  # peers that connected before the hooks could see them
                for peer in self._connected():
                    self._enqueue(peer, _Want(everything=True))
            task_status.started()

    def status(self) -> dict[str, Any]:
        """Counters for ``pnyx status --json`` (JSON-ready)."""
        return {
            **asdict(self.stats),
            **asdict(self.server.stats),
            "gaps_given_up": self._gaps.given_up,  # robustness: bounded gap trigger
            "gaps_too_large": self._gaps.too_large,
            "strangers_trimmed": self._standing.trimmed,  # robustness: connection mark
            "sessions_running": len(self._busy),
            "peers_waiting": len(self._pending),
        }

    async def sync_now(self, peer: str, authors: Collection[bytes] | None = None) -> SessionResult:
        """Run a session with the connected ``peer`` now (after any session already running with
        it) for ``authors`` (default: the interest set). Never raises for the peer's failures."""
        self.stats.triggers_request += 1
        while peer in self._busy:
            await self._busy[peer].wait()
        wanted = self.node.wanted_authors() if authors is None else frozenset(authors)
        return await self._run_session(peer, wanted)

    # --- triggers (hooks called by the node: synchronous, never blocking) ---------------------

    def _peer_event(self, event: PeerEvent) -> None:
        peer = event.peer.peer_id
        if not event.connected:
            self._pending.pop(peer, None)
            self._retry_at.pop(peer, None)
            self._failures.pop(peer, None)
            self._last_full.pop(peer, None)
            self._last_horizon.pop(peer, None)
            return
        if self.on_connect:
            self.stats.triggers_connect += 1
            self._enqueue(peer, _Want(everything=True))

    def _stored(self, event: Stored) -> None:
        # Only gossip: a sync session asks for what is missing itself (and continues when
        # incomplete); gossip holes are the ones that need a trigger.
        if event.source is Source.GOSSIP:
            wanted = self.node.wanted_authors()  # reach: strangers' replies leave gaps, unfetched
            self._gaps.stored(m.author for m in event.messages if m.author in wanted)
            self._gap_wake.set()

    def _store_health(self, event: StoreHealth) -> None:
        """Writes work again after failing (a full disk freed): every retry back-off and gap
        give-up is forgotten and every connected peer is asked for everything at once (issue 23:
        catch-up waited up to a periodic interval, 60 s, for authors no new gossip named)."""
        if not event.working:
            return
        self._failures.clear()
        self._retry_at.clear()
        self._gaps = GapWatch()
        peers = self._connected()
        log.info("the store works again: catching up with %d peer(s)", len(peers))
        for peer in peers:
            self._enqueue(peer, _Want(everything=True))

    def _interest_changed(self, event: InterestChanged) -> None:
        wanted = event.wanted
        previous, self._interest = self._interest, wanted
        if previous is None:
            return  # the first load at start: connect and periodic syncs cover it
        added = wanted - previous
        if added:
            self.stats.triggers_follow += 1
            log.info("fetching the history of %d newly followed author(s)", len(added))
            for peer in self._connected():
                self._enqueue(peer, _Want(authors=set(added)))

    # --- scheduling -------------------------------------------------------------------------

    def _connected(self) -> list[str]:
        network = self._network
        return [] if network is None else [p.peer_id for p in network.peers()]

    def _enqueue(self, peer: str, want: _Want) -> None:
        pending = self._pending.get(peer)
        if pending is None:
            self._pending[peer] = want
        else:
            pending.merge(want)
        self._wake.set()

    async def _dispatch(self, nursery: trio.Nursery) -> None:
        """Start queued sessions: one per peer, at most ``max_sessions`` at once."""
        while True:
            self._wake = trio.Event()
            now = trio.current_time()
            next_due = math.inf
            for peer in list(self._pending):
                if peer in self._busy:
                    continue
                due = self._retry_at.get(peer, -math.inf)
                if due > now:
                    next_due = min(next_due, due)
                    continue
                if len(self._busy) >= self._limiter.total_tokens:
                    break
                want = self._pending.pop(peer)
                self._busy[peer] = trio.Event()
                nursery.start_soon(self._queued_session, peer, want)
            with trio.move_on_at(next_due):
                await self._wake.wait()

    async def _queued_session(self, peer: str, want: _Want) -> None:
        busy = self._busy[peer]
        try:
            wanted = self.node.wanted_authors()
            authors = wanted if want.everything else frozenset(want.authors & wanted)
            if not authors or peer not in self._connected():
                return
            result = await self._session(peer, authors)
        finally:
            del self._busy[peer]
            busy.set()
            self._wake.set()
        self._after(peer, want, result)

    async def _run_session(self, peer: str, authors: frozenset[bytes]) -> SessionResult:
        busy = self._busy[peer] = trio.Event()
        try:
            return await self._session(peer, authors)
        finally:
            del self._busy[peer]
            busy.set()
            self._wake.set()

    async def _session(self, peer: str, authors: frozenset[bytes]) -> SessionResult:
        async with self._limiter:
            self.stats.sessions += 1
            self._running += 1
            self.stats.sessions_peak = max(self.stats.sessions_peak, self._running)
            try:
                result = await fetch_from_peer(
                    self._network or self.node.network,
                    peer,
                    self.node.store,
                    authors=authors,
                    options=FetchOptions(
                        offload=self.node.offload,
                        after_ingest=functools.partial(self._arrived, peer),
                        idle_timeout=self.idle_timeout,
                        session_timeout=self.session_timeout,
                        limiter=self.node.limiter,  # robustness: sync rate limits
                    ),
                )
            except StoreError as exc:
                log.error("sync with %s stopped: the store failed: %s", peer, exc)
                result = SessionResult(peer, error=f"store error: {exc}")
                self.node.events.store_write(False)
            else:
                if result.fetched:
                    self.node.events.store_write(True)
            finally:
                self._running -= 1
        if result.failed:
            self.stats.sessions_failed += 1
            log.debug("sync with %s stopped early: %s", peer, result.failure_text())
            broken = violation(result.summary.failure if result.summary else None)
            if broken is not None:
                self.node.penalise(peer, broken)
        if result.fetched:
            log.info(
                "synced %d new messages of %d authors from %s",
                result.fetched,
                len(result.new_authors),
                peer,
            )
        return result

    def _after(self, peer: str, want: _Want, result: SessionResult) -> None:
        """Retry a failed session later; continue an incomplete one (more gaps) at once."""
        if result.failed:
            failures = self._failures[peer] = self._failures.get(peer, 0) + 1
            if failures <= MAX_RETRIES and peer in self._connected():
                delay = min(RETRY_BASE_S * 2 ** (failures - 1), RETRY_MAX_S)
                self._retry_at[peer] = trio.current_time() + delay
                self._enqueue(peer, want)
            return
        self._failures.pop(peer, None)
        self._retry_at.pop(peer, None)
        if want.everything:
            self._last_full[peer] = self._last_horizon[peer] = trio.current_time()
        summary = result.summary
        if summary is not None and not summary.complete and summary.fetched:
            self._enqueue(peer, want)  # more than MAX_WANT_RANGES gaps: ask for the rest

    async def _arrived(self, peer: str, report: IngestReport) -> None:
        """After each stored batch: count it; as for gossip, show posts, never re-publish them,
        update the interest set."""
        self.stats.messages_fetched += len(report.accepted)
        self.stats.messages_duplicate += report.duplicates
        self.stats.messages_rejected += len(report.rejected)
        await self.node.after_stored(report.accepted, Source.SYNC, peer)

    async def _periodic(self) -> None:
        """Every ``interval_s``: each connected peer is asked for the user's own and followed
        feeds; for the whole interest set (the trust horizon too) at most every
        ``HORIZON_SYNC_INTERVAL_S`` (a round over 5,000 horizon authors costs about 400 KB of
        bookkeeping even when nothing is new: every minute with 8 peers, 55 KB/s)."""
        while True:
            await trio.sleep(self.interval_s)
            now = trio.current_time()
            for peer in self._connected():
                if now - self._last_full.get(peer, -math.inf) >= self.interval_s / 2:
                    self.stats.triggers_periodic += 1
                    if now - self._last_horizon.get(peer, -math.inf) >= HORIZON_SYNC_INTERVAL_S:
                        self._enqueue(peer, _Want(everything=True))
                    else:
                        self._enqueue(peer, _Want(authors=set(self.node.followed_authors())))

    async def _gap_loop(self) -> None:
        """Fetch the authors whose stored feed has holes (seen when gossip stores a message) that
        gossip does not fill within ``GAP_GRACE_S`` (``pnyx.catchup.gaps``)."""
        while True:
            with trio.move_on_after(GAP_CHECK_S if self._gaps.candidates else math.inf):
                await self._gap_wake.wait()
            self._gap_wake = trio.Event()
            candidates = self._gaps.take()
            if candidates:
                heads = await self.node.offload(self.node.store.heads, candidates)
                due = self._gaps.due(candidates, heads, trio.current_time())
                if due:
                    self._fetch_gaps(due)
            await trio.sleep(GAP_CHECK_S)

    def _fetch_gaps(self, due: set[bytes]) -> None:
        self.stats.triggers_gap += 1
        log.info("missing messages in %d followed feed(s): fetching them by sync", len(due))
        for peer in self._connected():
            self._enqueue(peer, _Want(authors=set(due)))
