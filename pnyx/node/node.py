"""The running node's logic, independent of libp2p: validate, store, publish, penalise.

``Node`` sits between a ``pnyx.net.contracts.Network`` (libp2p, or in memory for tests) and a
``pnyx.store.Store``:

* ``validate`` is the network's gossip validator. It checks a frame in one worker-thread call
  (``pnyx.ingest.framecheck.check_frame``: ``validate_frame`` for structure, limits, clock, every
  signature and the in-frame chain, then the chain of every envelope whose author this node
  stores against the store), at most ``VALIDATIONS_AT_ONCE`` frames at a time. Invalid frames are
  neither stored nor forwarded and count against the peer that sent them; after
  ``INVALID_FRAMES_BEFORE_BAN`` the peer is banned for ``BAN_SECONDS``. Frames that fail only
  this node's clock or store (future timestamp, fork against a stored message) are dropped
  without penalty. Before any signature is checked, the frame must fit the rate limits
  (``pnyx.ingest.ratelimit``; robustness), else it is ignored, never penalised. Validated frames
  are kept decoded (``pnyx.ingest.seen``) until delivered: delivery verifies nothing again.
* the ingest loop stores the envelopes of validated frames whose author is in the interest set
  (the user, whom they follow and the horizon ``pnyx.node.reach`` plans), and strangers' replies
  and reactions to held posts (``keep_replies``), in batches, one transaction each.
* ``after_stored`` is the one path every batch of received messages takes once committed, from
  gossip or from catch-up sync: remembered as not own (never published again), shown
  (``NodeOutput.arrived``), announced as a ``Stored`` event (``pnyx.events``) to the node's
  subscribers, and the interest set reloaded if the user's own follows changed. Components
  (sync scheduling, discovery, the republisher) subscribe to ``node.events``; a subscriber that
  fails is logged and counted and cannot stop the node.
* the publish loop finds the user's own new messages (``store.changes_since``, every
  ``POLL_INTERVAL_S`` or at once when ``nudge`` is called) and publishes them in frames, at most
  one round per batch window, so heavy posting costs few gossip messages.

Every remote failure is logged and counted; none stops the node.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from pnyx.clock import wall_clock_ms
from pnyx.core.envelope import Message
from pnyx.core.frame import frame_id, pack_frames
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.errors import RemoteError, StoreError
from pnyx.events import InterestChanged, NodeEvents, Source, Stored
from pnyx.ingest.clockskew import ClockWatch
from pnyx.ingest.framecheck import FrameCheck, check_frame, fork_penalty
from pnyx.ingest.ratelimit import RateLimited, RateLimiter, RateLimits
from pnyx.ingest.seen import DecodedFrames
from pnyx.net.contracts import FRAME_ORIGIN, Network, Verdict
from pnyx.node.frames import check_future, messages_of
from pnyx.node.output import NodeOutput
from pnyx.node.own import FromNetwork, collect_own
from pnyx.node.penalties import Penalties
from pnyx.node.reach import Reach, answers, changes_interest, keep_replies
from pnyx.node.republish import OnlineMark, OwnRepublisher
from pnyx.node.status import node_status, peer_rows
from pnyx.runtime import Offload, in_thread
from pnyx.trust.admission import AdmissionConfig

if TYPE_CHECKING:
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: How often the publisher looks for own messages written by another process, in seconds.
POLL_INTERVAL_S = 0.2
#: Default publish batch window, in seconds: own messages are published at most once per window
#: (at once when the node has been idle for a window).
DEFAULT_BATCH_WINDOW_S = 0.02
#: Invalid frames one peer may send before it is banned, a count.
INVALID_FRAMES_BEFORE_BAN = 3
#: How long a banned peer is refused, in seconds.
BAN_SECONDS = 600.0
#: Most messages stored in one transaction by the ingest loop, a count.
INGEST_BATCH_MESSAGES = 4096
#: Depth of the queue between validation and storage, in batches (one per frame, so at most
#: 64 x 256 KiB of envelopes wait).
INGEST_QUEUE_BATCHES = 64
#: Rejection reasons that depend on this node (its clock, its software version), not on the
#: sender's honesty: such frames are dropped without penalising the peer that forwarded them.
IGNORED_REASONS = frozenset(
    # forbidden-character: a rule newer than the protocol; a relay of an older release forwards
    {Reason.FUTURE_TIMESTAMP, Reason.UNSUPPORTED_VERSION, Reason.FORBIDDEN_CHARACTER}
)
#: Frames validated at once (each in a worker thread), a count. py-libp2p starts a task per
#: incoming message, so a burst of frames would otherwise take a thread each: more threads than
#: cores only add thread starts and GIL contention. Waiting frames keep their order.
VALIDATIONS_AT_ONCE = 2
#: Frames with strangers' messages validated at once, in a lane of their own (robustness), a count.
STRANGER_VALIDATIONS_AT_ONCE = 1


@dataclass
class NodeStats:
    """Counters since the node started (all counts)."""

    frames_received: int = 0
    frames_rejected: int = 0
    frames_ignored: int = 0
    frames_published: int = 0
    messages_published: int = 0
    messages_stored: int = 0
    messages_duplicate: int = 0
    messages_refused_by_store: int = 0
    messages_not_wanted: int = 0
    peers_banned: int = 0


class Node:
    """One node's logic. Build it, open a network with ``validator=node.validate``, then ``run``."""

    def __init__(
        self,
        *,
        store: Store,
        me: bytes,
        clock_ms: Callable[[], int] = wall_clock_ms,
        batch_window_s: float = DEFAULT_BATCH_WINDOW_S,
        poll_interval_s: float = POLL_INTERVAL_S,
        output: NodeOutput | None = None,
        offload: Offload = in_thread,
        rate_limits: RateLimits | None = None,
        online_mark: OnlineMark | None = None,
        admission: AdmissionConfig | None = None,
    ) -> None:
        self.store = store
        self.limiter = RateLimiter(rate_limits)  # robustness: rate limits before verification
        self.clock = ClockWatch(me)  # robustness: is our clock wrong? (pnyx.ingest.clockskew)
        self.me = me
        self.offload = offload
        self.stats = NodeStats()
        self.clock_ms = clock_ms
        self._batch_window_s = batch_window_s
        self._poll_interval_s = poll_interval_s
        self.output = output if output is not None else NodeOutput()
        self._wanted: frozenset[bytes] = frozenset({me})
        self._followed, self._horizon = self._wanted, frozenset[bytes]()
        self._decoded = DecodedFrames()  # validated, waiting for delivery
        self._banning: set[str] = set()
        self._from_network = FromNetwork()
        self._penalties = Penalties(INVALID_FRAMES_BEFORE_BAN)
        self._nudge = trio.Event()
        lanes = (VALIDATIONS_AT_ONCE, STRANGER_VALIDATIONS_AT_ONCE)  # known, strangers
        self._lanes = [trio.CapacityLimiter(n) for n in lanes]
        self._network: Network | None = None
        self._nursery: trio.Nursery | None = None
        self._ingest_send, self._ingest_recv = trio.open_memory_channel[list[Message]](
            INGEST_QUEUE_BATCHES
        )
        self.started_ms = clock_ms()
        #: Stored messages, peer changes and interest changes, for the node's components.
        self.events = NodeEvents()
        #: Own messages written while the node had no peer, gossiped at the next connection.
        self.republisher = OwnRepublisher(self, online_mark)
        self.reach = Reach(self, admission or AdmissionConfig())  # horizon, budget (reach.py)

    # --- wiring -----------------------------------------------------------------------------

    @property
    def network(self) -> Network:
        """The network this node runs on (for other protocols, e.g. sync). Only inside ``run``."""
        if self._network is None:
            raise RuntimeError("the node is not running")
        return self._network

    def wanted_authors(self) -> frozenset[bytes]:
        """The interest set: authors whose messages this node stores (follows and horizon)."""
        return self._wanted

    def followed_authors(self) -> frozenset[bytes]:
        """The user and whom they follow: pinned, never evicted."""
        return self._followed

    def penalties(self) -> dict[str, int]:
        """Invalid frames counted per peer id since the node started."""
        return self._penalties.counts()

    async def run(self, network: Network, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run every loop until cancelled. ``task_status.started()`` once the node is live; after
        it returns, the node holds neither the network nor its nursery (``network`` raises)."""
        self._network = network
        try:
            await self.refresh_interest()
            last_rowid = await self.offload(self.store.last_rowid)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._pump_received)
                nursery.start_soon(self._ingest_loop)
                nursery.start_soon(self._publish_loop, last_rowid)
                nursery.start_soon(self._watch_events)
                await nursery.start(self.republisher.run)
                await nursery.start(self.reach.run)
                task_status.started()
        finally:
            self._nursery = None
            self._network = None

    def nudge(self) -> None:
        """Look for own new messages and reload the policy now (``pnyx post``, ``mute`` notify)."""
        self._nudge.set()
        if self._nursery is not None:
            self._nursery.start_soon(self.output.reload, self.store, self.me, self.offload)

    async def refresh_interest(self) -> None:
        """Reload the follows and the policy (after the user follows, mutes or blocks)."""
        await self.output.reload(self.store, self.me, self.offload)
        followed = await self.offload(self.store.wanted_authors, self.me)
        self._followed = frozenset(followed) | {self.me}
        self._wanted = self._followed | self._horizon
        self.events.interest.publish(InterestChanged(self._wanted))
        self.reach.follows_changed()

    async def set_horizon(self, horizon: frozenset[bytes]) -> None:
        """Set the horizon (``pnyx.node.reach``); the interest set is published if it changed."""
        self._horizon = horizon
        wanted = self._followed | horizon
        if wanted != self._wanted:
            self._wanted = wanted
            self.events.interest.publish(InterestChanged(wanted))

    async def connect(self, address: str) -> str:
        """Dial a peer; returns its peer id. Raises UserError / ConnectError."""
        peer = await self.network.connect(address)
        log.debug("connected to %s", peer)
        return peer

    async def after_stored(
        self, messages: Sequence[Message], source: Source, peer: str | None = None
    ) -> None:
        """What follows every commit of received ``messages`` (gossip or sync), in one place:
        remember them as not own, show them, publish a ``Stored`` event, and reload the interest
        set if one is a follow or unfollow by the user. Raises ``StoreError`` only from that
        reload (the caller logs it); subscribers' failures are contained by ``Topic.publish``."""
        if not messages:
            return
        self._from_network.add(messages)
        await self.output.arrived(self.store, messages, self.offload)
        self.events.stored.publish(Stored(messages, source, peer))
        if any(changes_interest(m, self.me) for m in messages):
            await self.refresh_interest()

    # --- validation -------------------------------------------------------------------------

    async def validate(self, data: bytes, forwarder: str) -> Verdict:
        """The gossip validator (never raises; see the module docstring)."""
        admitted = self.limiter.admit(data, forwarder, trio.current_time(), self._followed)
        if isinstance(admitted, RateLimited):  # never the forwarder's fault: ignored, not penalised
            self.output.rejected(forwarder, admitted, penalised=False)
            return Verdict.IGNORE
        try:  # one worker-thread call: signatures, then chains against the store
            async with self._lanes[admitted.strangers > 0]:
                check: FrameCheck = await self.offload(
                    check_frame, self.store, data, self.clock_ms(), self._wanted
                )
        except InvalidMessage as failure:
            exc = failure
            if exc.reason is Reason.FUTURE_TIMESTAMP:  # robustness: our clock behind?
                exc = await check_future(data, exc, self._lanes[1], self.offload, self.clock)
            if exc.reason in IGNORED_REASONS:
                self.stats.frames_ignored += 1
                self.output.rejected(forwarder, exc, penalised=False)
                return Verdict.IGNORE
            self.stats.frames_rejected += 1
            self.penalise(forwarder, exc)
            return Verdict.REJECT
        messages = check.messages
        self.limiter.charge_authors((m.author for m in messages), trio.current_time())
        self.clock.observe(messages, self.clock_ms(), trio.current_time())  # robustness
        if check.store_error is not None:
            log.warning("cannot check chains against the store: %s", check.store_error)
        if check.conflict is not None:
            # Not forwarded; the store keeps the conflicting message as fork evidence.
            self.stats.frames_ignored += 1
            penalty = fork_penalty(check, FRAME_ORIGIN.get(), self.network.peer_id)
            if penalty is not None:  # robustness: more of a known fork, against its publisher
                self.penalise(*penalty)
            else:
                self.output.rejected(forwarder, check.conflict, penalised=False)
            self._queue_ingest(check.wanted)
            return Verdict.IGNORE
        self._decoded.put(frame_id(data), len(data), messages)
        return Verdict.ACCEPT

    def penalise(self, peer: str, exc: RemoteError) -> None:
        """Count a violation by ``peer`` (invalid data it could have checked: an invalid frame, a
        broken sync session); at ``INVALID_FRAMES_BEFORE_BAN`` the peer is banned."""
        count, due = self._penalties.add(peer)  # bounded (pnyx.node.penalties)
        self.output.rejected(peer, exc, penalised=True)
        if (
            due
            and self._nursery is not None
            and peer not in self._banning
            and peer not in self.network.banned()
        ):
            self._banning.add(peer)
            self._nursery.start_soon(self._ban, peer, count)

    async def _ban(self, peer: str, count: int) -> None:
        self.stats.peers_banned += 1
        self.output.banned(peer, count, BAN_SECONDS)
        try:
            await self.network.ban(peer, BAN_SECONDS)
        finally:
            self._banning.discard(peer)
            self._penalties.banned(peer, count)

    # --- ingest -----------------------------------------------------------------------------

    def _queue_ingest(self, messages: list[Message]) -> None:
        try:
            self._ingest_send.send_nowait(messages)
        except trio.WouldBlock:
            log.debug("ingest queue full: %d messages left to sync", len(messages))

    async def _pump_received(self) -> None:
        async for item in self.network.received:
            self.stats.frames_received += 1
            messages = await messages_of(self._decoded, item, self.offload, self.clock_ms())
            wanted = [m for m in messages if m.author in self._wanted]
            others = [m for m in messages if m.author not in self._wanted and answers(m)]
            if others:  # strangers' replies and reactions to held posts (pnyx.node.reach)
                wanted += await self.offload(keep_replies, self.store, others, self.me)
            self.stats.messages_not_wanted += len(messages) - len(wanted)
            if wanted:
                await self._ingest_send.send(wanted)

    async def _ingest_loop(self) -> None:
        async for first in self._ingest_recv:
            batch = list(first)
            while len(batch) < INGEST_BATCH_MESSAGES:
                try:
                    batch.extend(self._ingest_recv.receive_nowait())
                except trio.WouldBlock:
                    break
            try:
                report = await self.offload(self.store.ingest_verified, batch)
            except StoreError as exc:
                log.error("could not store %d received messages: %s", len(batch), exc)
                self.events.store_write(False)  # robustness: catch-up resumes when it works again
                continue
            self.events.store_write(True)
            self.stats.messages_stored += len(report.accepted)
            self.stats.messages_duplicate += report.duplicates
            self.stats.messages_refused_by_store += len(report.rejected)
            try:
                await self.after_stored(report.accepted, Source.GOSSIP)
            except StoreError as exc:
                log.error("could not reload the followed authors: %s", exc)

    # --- publishing -------------------------------------------------------------------------

    async def _publish_loop(self, last_rowid: int) -> None:
        last_round = -math.inf
        while True:
            with trio.move_on_after(self._poll_interval_s):
                await self._nudge.wait()
            self._nudge = trio.Event()
            await trio.sleep_until(last_round + self._batch_window_s)
            last_rowid, own = await self.offload(
                collect_own, self.store, self.me, last_rowid, self._from_network
            )
            if not own:
                continue
            last_round = trio.current_time()
            await self.publish_own(own)
            self.output.published(own)
            self.reach.tally(own)  # the storage budget's count of held bytes
            self.clock.published(own, trio.current_time())  # robustness: warn if clock ahead
            if any(changes_interest(m, self.me) for m in own):
                await self.refresh_interest()

    async def publish_own(self, messages: Sequence[Message]) -> None:
        """Gossip the user's own ``messages`` (in seq order) in as few frames as fit, and count
        them: the one way own messages are published (new ones and republished ones)."""
        for frame in pack_frames(m.raw for m in messages):
            await self.network.publish(frame)
            self.stats.frames_published += 1
        self.stats.messages_published += len(messages)

    # --- peers ------------------------------------------------------------------------------

    async def _watch_events(self) -> None:
        async for event in self.network.events:
            self.output.peer(event)
            self.events.peers.publish(event)

    # --- status -----------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """What ``pnyx status --json`` prints (JSON-ready; ``pnyx.node.status``)."""
        return await node_status(self)

    def peer_list(self) -> list[dict[str, Any]]:
        """The connected peers, as ``pnyx peers --json`` prints them."""
        return peer_rows(self.network)
