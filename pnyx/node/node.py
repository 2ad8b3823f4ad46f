"""The running node's logic, independent of libp2p: validate, store, publish, penalise.

``Node`` sits between a ``pnyx.node.network.Network`` (libp2p, or in memory for tests) and a
``pnyx.store.Store``:

* ``validate`` is the network's gossip validator. It checks a frame in one worker-thread call
  (``pnyx.node.checks.check_frame``: ``validate_frame`` for structure, limits, clock, every
  signature and the in-frame chain, then the chain of every envelope whose author this node
  stores against the store), at most ``VALIDATIONS_AT_ONCE`` frames at a time. Invalid frames are
  neither stored nor forwarded and count against the peer that sent them; after
  ``INVALID_FRAMES_BEFORE_BAN`` the peer is banned for ``BAN_SECONDS``. Frames that fail only
  this node's clock or store (future timestamp, fork against a stored message) are dropped
  without penalty. Before any signature is checked, the frame must fit the rate limits
  (``pnyx.node.ratelimit``; robustness), else it is ignored, never penalised. Validated frames
  are kept decoded (``pnyx.node.framecache``) until delivered: delivery verifies nothing again.
* the ingest loop stores the envelopes of validated frames whose author is in the interest set
  (the user and whom they follow, ``store.wanted_authors``), in batches, one transaction each.
* the publish loop finds the user's own new messages (``store.changes_since``, every
  ``POLL_INTERVAL_S`` or at once when ``nudge`` is called) and publishes them in frames, at most
  one round per batch window, so heavy posting costs few gossip messages.

Every remote failure is logged and counted; none stops the node.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import trio

from pnyx.core import kinds
from pnyx.core.envelope import Message, decode
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.errors import RemoteError, StoreError
from pnyx.node.checks import FrameCheck, author_of, check_frame
from pnyx.node.clockskew import ClockWatch
from pnyx.node.framecache import DecodedFrames
from pnyx.node.gossipframe import frame_id, pack_frames, validate_frame
from pnyx.node.network import Network, PeerEvent, Received, Verdict
from pnyx.node.output import NodeOutput
from pnyx.node.penalties import Penalties
from pnyx.node.ratelimit import RateLimited, RateLimiter, RateLimits
from pnyx.node.runtime import Offload, in_thread, wall_clock_ms

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
IGNORED_REASONS = frozenset({Reason.FUTURE_TIMESTAMP, Reason.UNSUPPORTED_VERSION})
#: Frames validated at once (each in a worker thread), a count. py-libp2p starts a task per
#: incoming message, so a burst of frames would otherwise take a thread each: more threads than
#: cores only add thread starts and GIL contention. Waiting frames keep their order.
VALIDATIONS_AT_ONCE = 2
#: Frames with strangers' messages validated at once, in a lane of their own (robustness), a count.
STRANGER_VALIDATIONS_AT_ONCE = 1
#: Ids of messages that came from the network, remembered so they are not published again, a count.
FROM_NETWORK_MEMORY = 8192
#: Rows read from ``changes_since`` per query, a count; per publish round at most 10 queries.
CHANGES_PAGE_ROWS = 1000
CHANGES_PAGES_PER_ROUND = 10


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
    ) -> None:
        self.store = store
        self.limiter = RateLimiter(rate_limits)  # robustness: rate limits before verification
        self.clock = ClockWatch(me)  # robustness: is our clock wrong? (pnyx.node.clockskew)
        self.me = me
        self.offload = offload
        self.stats = NodeStats()
        self._clock_ms = clock_ms
        self._batch_window_s = batch_window_s
        self._poll_interval_s = poll_interval_s
        self.output = output if output is not None else NodeOutput()
        self._wanted: frozenset[bytes] = frozenset({me})
        self._decoded = DecodedFrames()  # validated, waiting for delivery
        self._banning: set[str] = set()
        self._from_network: OrderedDict[bytes, None] = OrderedDict()
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
        # sync (pnyx.node.syncing): observers of peer events, gossip ingests and interest changes;
        # each is called synchronously and must not block.
        self.on_peer_event: list[Callable[[PeerEvent], None]] = []
        self.on_gossip_stored: list[Callable[[Sequence[Message]], None]] = []
        self.on_interest_changed: list[Callable[[frozenset[bytes]], None]] = []

    # --- wiring -----------------------------------------------------------------------------

    @property
    def network(self) -> Network:
        """The network this node runs on (for other protocols, e.g. sync). Only inside ``run``."""
        if self._network is None:
            raise RuntimeError("the node is not running")
        return self._network

    def wanted_authors(self) -> frozenset[bytes]:
        """The interest set: authors whose messages this node stores."""
        return self._wanted

    def penalties(self) -> dict[str, int]:
        """Invalid frames counted per peer id since the node started."""
        return self._penalties.counts()

    async def run(self, network: Network, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run every loop until cancelled. ``task_status.started()`` once the node is live."""
        self._network = network
        await self.refresh_interest()
        last_rowid = await self.offload(self.store.last_rowid)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._pump_received)
            nursery.start_soon(self._ingest_loop)
            nursery.start_soon(self._publish_loop, last_rowid)
            nursery.start_soon(self._watch_events)
            task_status.started()

    def nudge(self) -> None:
        """Look for own new messages now (called when ``pnyx post`` notifies the node)."""
        self._nudge.set()

    async def refresh_interest(self) -> None:
        """Reload the interest set from the store (after the user follows or unfollows)."""
        wanted = await self.offload(self.store.wanted_authors, self.me)
        self._wanted = frozenset(wanted) | {self.me}
        for observer in self.on_interest_changed:  # sync: a new followed author is fetched
            observer(self._wanted)

    async def connect(self, address: str) -> str:
        """Dial a peer; returns its peer id. Raises UserError / ConnectError."""
        peer = await self.network.connect(address)
        log.debug("connected to %s", peer)
        return peer

    def note_from_network(self, messages: Sequence[Message]) -> None:
        """Remember that ``messages`` came from the network (by sync): never publish them again."""
        for message in messages:
            self._from_network[message.id] = None
        while len(self._from_network) > FROM_NETWORK_MEMORY:
            self._from_network.popitem(last=False)

    # --- validation -------------------------------------------------------------------------

    async def validate(self, data: bytes, forwarder: str) -> Verdict:
        """The gossip validator (never raises; see the module docstring)."""
        admitted = self.limiter.admit(data, forwarder, trio.current_time(), self._wanted)
        if isinstance(admitted, RateLimited):  # never the forwarder's fault: ignored, not penalised
            self.output.rejected(forwarder, admitted, penalised=False)
            return Verdict.IGNORE
        try:  # one worker-thread call: signatures, then chains against the store
            async with self._lanes[admitted.strangers > 0]:
                check: FrameCheck = await self.offload(
                    check_frame, self.store, data, self._clock_ms(), self._wanted
                )
        except InvalidMessage as exc:
            if exc.reason in IGNORED_REASONS:
                if exc.reason is Reason.FUTURE_TIMESTAMP:  # robustness: our clock behind?
                    self.clock.saw_future(data, trio.current_time())
                self.stats.frames_ignored += 1
                self.output.rejected(forwarder, exc, penalised=False)
                return Verdict.IGNORE
            self.stats.frames_rejected += 1
            self.penalise(forwarder, exc)
            return Verdict.REJECT
        messages = check.messages
        self.limiter.charge_authors((m.author for m in messages), trio.current_time())
        self.clock.observe(messages, self._clock_ms(), trio.current_time())  # robustness
        if check.store_error is not None:
            log.warning("cannot check chains against the store: %s", check.store_error)
        if check.conflict is not None:
            # Not forwarded; the store keeps the conflicting message as fork evidence.
            self.stats.frames_ignored += 1
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
            messages = await self._messages_of(item)
            wanted = [m for m in messages if m.author in self._wanted]
            self.stats.messages_not_wanted += len(messages) - len(wanted)
            if wanted:
                await self._ingest_send.send(wanted)

    async def _messages_of(self, item: Received) -> list[Message]:
        cached = self._decoded.take(frame_id(item.data))
        if cached is not None:
            return cached
        try:  # evicted from the cache under load: check it again
            messages: list[Message] = await self.offload(
                validate_frame, item.data, self._clock_ms()
            )
        except InvalidMessage as exc:
            log.debug("frame from %s no longer valid: %s", item.origin, exc)
            return []
        return messages

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
                continue
            self.stats.messages_stored += len(report.accepted)
            self.stats.messages_duplicate += report.duplicates
            self.stats.messages_refused_by_store += len(report.rejected)
            self.note_from_network(report.accepted)
            if report.accepted:
                await self.output.arrived(self.store, report.accepted, self.offload)
                for observer in self.on_gossip_stored:  # sync: gaps are fetched by sync
                    observer(report.accepted)
            if any(_changes_interest(m, self.me) for m in report.accepted):
                await self.refresh_interest()

    # --- publishing -------------------------------------------------------------------------

    async def _publish_loop(self, last_rowid: int) -> None:
        last_round = -math.inf
        while True:
            with trio.move_on_after(self._poll_interval_s):
                await self._nudge.wait()
            self._nudge = trio.Event()
            await trio.sleep_until(last_round + self._batch_window_s)
            last_rowid, own = await self.offload(self._collect_own, last_rowid)
            if not own:
                continue
            last_round = trio.current_time()
            for frame in pack_frames(m.raw for m in own):
                await self.network.publish(frame)
                self.stats.frames_published += 1
            self.stats.messages_published += len(own)
            self.output.published(own)
            self.clock.published(own, trio.current_time())  # robustness: warn if clock ahead
            if any(_changes_interest(m, self.me) for m in own):
                await self.refresh_interest()

    def _collect_own(self, last_rowid: int) -> tuple[int, list[Message]]:
        """Own messages stored after ``last_rowid`` (by any process), not those that came from
        the network; runs in a thread. Returns the new high-water rowid and the messages."""
        own: list[Message] = []
        for _ in range(CHANGES_PAGES_PER_ROUND):
            rows = self.store.changes_since(last_rowid, limit=CHANGES_PAGE_ROWS)
            for rowid, raw in rows:
                last_rowid = max(last_rowid, rowid)
                if author_of(raw) != self.me:
                    continue
                try:
                    message = decode(raw)
                except InvalidMessage as exc:
                    log.warning("own message at row %d cannot be decoded: %s", rowid, exc)
                    continue
                if message.id not in self._from_network:
                    own.append(message)
            if len(rows) < CHANGES_PAGE_ROWS:
                break
        return last_rowid, own

    # --- peers ------------------------------------------------------------------------------

    async def _watch_events(self) -> None:
        async for event in self.network.events:
            self.output.peer(event)
            for observer in self.on_peer_event:  # sync: catch up with a new peer
                observer(event)

    # --- status -----------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """What ``pnyx status --json`` prints (JSON-ready)."""
        from pnyx.crypto.keytext import encode_public_key

        counts = await self.offload(self.store.counts)
        network = self.network
        return {
            "peer_id": network.peer_id,
            "public_key": encode_public_key(self.me),
            "listen_addrs": network.listen_addrs(),
            "peers": self.peer_list(),
            "topic_peers": network.topic_peers(),
            "banned": network.banned(),
            "penalties": self.penalties(),
            "counts": {
                **counts,
                "following": len(self._wanted) - 1,
                "peers": len(network.peers()),
                **asdict(self.stats),
                **asdict(self.limiter.counters),  # robustness: rate limits
            },
            "clock": asdict(self.clock.estimate(trio.current_time())),  # robustness: clock skew
            "uptime_s": round((self._clock_ms() - self.started_ms) / 1000, 1),
        }

    def peer_list(self) -> list[dict[str, Any]]:
        return [
            {"peer_id": p.peer_id, "direction": p.direction.value, "address": p.address}
            for p in self.network.peers()
        ]


def _changes_interest(message: Message, me: bytes) -> bool:
    return message.author == me and message.kind in (kinds.FOLLOW, kinds.UNFOLLOW)
