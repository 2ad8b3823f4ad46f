"""Reach: the node's horizon beyond follows and its storage budget, kept current off the trio loop.

``Reach`` applies the admission policy (``pnyx.trust.admission``) to the running node:

* **Horizon.** At start, ``RECOMPUTE_DEBOUNCE_S`` after the user's own follow or unfollow, and
  after a follow or unfollow by anyone else once ``RECOMPUTE_SPACING_S`` have passed since the
  last recompute (never per message: those within the wait join the same recompute), it builds
  the trust state from every follow edge held and plans the horizon, in one worker-thread call
  (``compute_plan``). The node's interest set becomes the user, the follows and the horizon
  (``Node.set_horizon``); ingest, sync and discovery all read that set.
* **Budget.** After ``ENFORCE_AFTER_BYTES`` of newly stored envelopes, after each recompute and
  every ``ENFORCE_INTERVAL_S``, it drops whole authors in the policy's eviction order until the
  held bytes fit (``enforce_budget``, in a worker thread). The held bytes per author are measured
  from the store (one pass) at most every ``ENFORCE_INTERVAL_S`` and tallied between, from
  ``Stored`` events and the user's own messages as the node publishes them (``tally``).
  An evicted horizon author is left out of the horizon until the node restarts, so sync does not
  fetch it again at once. So a stranger can hold at most ``ENFORCE_AFTER_BYTES`` beyond its quota,
  briefly, and the disk stays within the budget plus that margin.

Failure modes: a ``StoreError`` of a recompute or an eviction is logged and retried at the next
trigger; it never stops the node.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import trio

from pnyx.core import kinds
from pnyx.core.envelope import Message
from pnyx.errors import StoreError
from pnyx.events import Stored
from pnyx.node.trust_keeper import TrustKeeper
from pnyx.store.polls import poll_shown
from pnyx.trust.admission import AdmissionConfig, Horizon, eviction_order, plan_horizon
from pnyx.trust.graph import TrustGraph
from pnyx.trust.state import TrustState

if TYPE_CHECKING:
    from pnyx.node.node import Node
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: Wait after a stored follow or unfollow before the horizon is recomputed, in seconds.
RECOMPUTE_DEBOUNCE_S = 1.0
#: Shortest time between two recomputes for others' follows, in seconds: the full trust compute
#: takes 1-3 s at 2,000,000 follow edges, so a busy graph costs at most a fraction of a core.
RECOMPUTE_SPACING_S = 10.0
#: Newly stored envelope bytes after which the budget is checked again, in bytes.
ENFORCE_AFTER_BYTES = 4 * 1024 * 1024
#: Longest time between two budget checks, in seconds.
ENFORCE_INTERVAL_S = 300.0
#: Authors dropped per store transaction, a count: the write lock is held a few ms per author
#: (3 ms per 100-message feed measured), so ingest waits at most about this many of those.
EVICT_CHUNK_AUTHORS = 16
#: Evicted horizon authors remembered (kept out of the horizon until restart), a count; the
#: oldest are forgotten first (they may then be fetched and dropped again).
MAX_EVICTED_REMEMBERED = 50_000
#: Kinds whose arrival can change the follow graph, hence the horizon.
GRAPH_KINDS = frozenset({kinds.FOLLOW, kinds.UNFOLLOW})
#: The user's own kinds that change the interest set: follows and blocks.
INTEREST_KINDS = frozenset({kinds.FOLLOW, kinds.UNFOLLOW, kinds.BLOCK, kinds.UNBLOCK})
#: Own kinds after which the node reloads its interest set and moderation policy.
RELOAD_KINDS = INTEREST_KINDS | {kinds.MUTE, kinds.UNMUTE}
#: Body fields naming the message a stranger's message answers, by kind: replies, reactions and
#: votes (on a poll held: the poll's "everyone" count shows them, docs/polls.md).
ANSWER_FIELDS = {kinds.POST: ("parent", "root"), kinds.REACTION: ("id",), kinds.VOTE: ("poll",)}


def answers(message: Message) -> list[bytes]:
    """The ids ``message`` replies or reacts to (none for other kinds); no I/O."""
    found = (message.body.get(name) for name in ANSWER_FIELDS.get(message.kind, ()))
    return [value for value in found if isinstance(value, bytes)]


def keep_replies(store: Store, messages: Sequence[Message], me: bytes) -> list[Message]:
    """Those of ``messages`` (by authors outside the interest set) that reply to or react to a
    message the store holds: kept so a thread shows the conversation. Their bytes count against
    ``STRANGER_QUOTA_BYTES`` per author and the budget (strangers go first). Such an author's
    chain is partial (a single message at its seq, ``contiguous`` < ``highest``): sync never
    fills it, as gap and catch-up fetches ask only for interest-set authors. Blocking; a
    ``StoreError`` is logged and keeps none of them (remote data never crashes the node).
    Authors ``me`` blocks are never kept (``docs/moderation.md``); a vote only when it names a
    poll held and not deleted. Strangers' notes, ratings and labels are never kept
    (``docs/security.md``, "The square's new kinds under attack")."""
    named = {m.id: answers(m) for m in messages}
    targets = [t for found in named.values() for t in found]
    if not targets:
        return []
    try:
        held = store.held_ids(targets)
        blocked = set(store.moderated("block", me))
        # a vote answers a poll, not any message: one naming a post or a deleted poll counts
        # nowhere and is never shown, so keeping it would only spend the stranger's quota
        voted = {t for m in messages if m.kind == kinds.VOTE for t in named[m.id] if t in held}
        polls = {t for t in voted if poll_shown(store, t)}
    except StoreError as exc:
        log.warning("cannot look up the posts strangers answer: %s", exc)
        return []
    kept = (m for m in messages if m.author not in blocked)
    return [
        m for m in kept if any(t in (polls if m.kind == kinds.VOTE else held) for t in named[m.id])
    ]


def load_state(store: Store, me: bytes) -> TrustState:
    """The user's trust state over every follow edge held (blocking: run off the loop)."""
    edges = store.follow_edges()
    graph = TrustGraph.from_arrays(
        [k.hex() for k in edges.keys],
        np.asarray(edges.follower, dtype=np.int64),
        np.asarray(edges.followee, dtype=np.int64),
    )
    graph.ensure(me.hex())
    return TrustState(graph, me.hex())


def compute_plan(
    store: Store, me: bytes, config: AdmissionConfig, excluded: frozenset[bytes] = frozenset()
) -> Horizon:
    """The horizon plan for ``me`` from the store's follow edges (blocking; ``StoreError``)."""
    blocked = store.moderated("block", me)
    state, follows = load_state(store, me), store.following(me)
    return plan_horizon(state, follows, config, excluded=excluded, blocked=blocked)


def enforce_budget(
    store: Store, plan: Horizon, usage: Mapping[bytes, int] | None = None
) -> list[bytes]:
    """Drop whole authors until the held bytes (``usage``, default measured now: one pass over
    the store) fit ``plan.budget_bytes``; the authors dropped (blocking; ``EVICT_CHUNK_AUTHORS``
    per transaction: a ``StoreError`` leaves the chunk that failed and those after it as they
    were, and the next check tries again)."""
    dropped = eviction_order(store.usage() if usage is None else usage, plan)
    for start in range(0, len(dropped), EVICT_CHUNK_AUTHORS):
        store.evict(dropped[start : start + EVICT_CHUNK_AUTHORS])
    return dropped


@dataclass
class ReachStats:
    """Counters since the node started."""

    horizon_recomputes: int = 0
    authors_evicted: int = 0  # whole feeds dropped for the storage budget
    reach_failures: int = 0  # recomputes or budget checks that failed (StoreError)


class Reach:
    """The node's horizon and budget keeper (see the module docstring)."""

    def __init__(self, node: Node, config: AdmissionConfig) -> None:
        self.node = node
        self.config = config.check()
        self.plan: Horizon | None = None
        self.evicted: dict[bytes, None] = {}  # insertion-ordered, at most MAX_EVICTED_REMEMBERED
        self._enforcing = trio.Lock()  # one budget check at a time
        self.stats = ReachStats()
        self._dirty = trio.Event()
        self._urgent = trio.Event()  # the user's own follows: no spacing
        self._last_recompute = -math.inf
        self._check = trio.Event()
        self._bytes_since = 0
        # held bytes per author: measured (one pass over the store) at most every
        # ENFORCE_INTERVAL_S, tallied from Stored events in between
        self._usage: dict[bytes, int] | None = None
        self._measured_at = -math.inf
        node.events.stored.subscribe(self._stored)
        #: The user's trust state as derived state, for reads (``pnyx.node.trust_keeper``).
        self.trust = TrustKeeper(node)

    def follows_changed(self) -> None:
        """The user's own follows changed: recompute the horizon after the debounce."""
        self._dirty.set()
        self._urgent.set()

    def _stored(self, event: Stored) -> None:
        if any(m.kind in GRAPH_KINDS for m in event.messages):
            self._dirty.set()
        self.tally(event.messages)

    def tally(self, messages: Sequence[Message]) -> None:
        """Count newly stored ``messages`` (received, or the user's own the node publishes)."""
        usage = self._usage
        for m in messages:
            self._bytes_since += len(m.raw)
            if usage is not None:
                usage[m.author] = usage.get(m.author, 0) + len(m.raw)
        if self._bytes_since >= ENFORCE_AFTER_BYTES:
            self._check.set()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Plan once, then recompute and enforce on their triggers until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.trust.run)
            task_status.started()
            await self.recompute()
            nursery.start_soon(self._recompute_loop)
            nursery.start_soon(self._budget_loop)

    async def _recompute_loop(self) -> None:
        while True:
            await self._dirty.wait()
            with trio.move_on_at(self._last_recompute + RECOMPUTE_SPACING_S):
                await self._urgent.wait()
            await trio.sleep(RECOMPUTE_DEBOUNCE_S)
            self._dirty, self._urgent = trio.Event(), trio.Event()
            await self.recompute()

    async def _budget_loop(self) -> None:
        while True:
            with trio.move_on_after(ENFORCE_INTERVAL_S):
                await self._check.wait()
            self._check = trio.Event()
            self._bytes_since = 0
            await self.enforce()

    async def recompute(self) -> None:
        """Plan the horizon now and hand it to the node; then check the budget."""
        node = self.node
        self._last_recompute = trio.current_time()
        try:
            plan = await node.offload(
                compute_plan, node.store, node.me, self.config, frozenset(self.evicted)
            )
        except StoreError as exc:
            self.stats.reach_failures += 1
            log.error("could not plan the horizon: %s", exc)
            return
        self.plan = plan
        self.stats.horizon_recomputes += 1
        await node.set_horizon(plan.horizon)
        await self.enforce()

    async def enforce(self) -> list[bytes]:
        """Check the budget now; the authors dropped (empty before the first plan)."""
        async with self._enforcing:
            return await self._enforce()

    async def _enforce(self) -> list[bytes]:
        if self.plan is None:
            return []
        # follows made since the plan are pinned too
        plan = replace(self.plan, pinned=self.plan.pinned | self.node.followed_authors())
        store, offload = self.node.store, self.node.offload
        try:
            if self._usage is None or trio.current_time() - self._measured_at >= ENFORCE_INTERVAL_S:
                self._measured_at = trio.current_time()
                self._usage = await offload(store.usage)
            usage = self._usage
            dropped: list[bytes] = await offload(enforce_budget, store, plan, dict(usage))
            for author in dropped:
                usage.pop(author, None)
        except StoreError as exc:
            self._usage = None  # a chunk may have gone: measure again next time
            self.stats.reach_failures += 1
            log.error("could not enforce the storage budget: %s", exc)
            return []
        if dropped:
            self.stats.authors_evicted += len(dropped)
            log.info("storage budget: dropped the feeds of %d author(s)", len(dropped))
            gone = [a for a in dropped if a in plan.horizon]
            if gone:
                self.evicted.update(dict.fromkeys(gone))
                while len(self.evicted) > MAX_EVICTED_REMEMBERED:
                    del self.evicted[next(iter(self.evicted))]
                await self.node.set_horizon(plan.horizon - frozenset(self.evicted))
        return dropped


def changes_interest(message: Message, me: bytes) -> bool:
    """Whether ``message`` is the user's own follow, unfollow, mute, unmute, block or unblock."""
    return message.author == me and message.kind in RELOAD_KINDS
