"""The user's trust state kept as derived state of the running node (``docs/ranking.md``).

``TrustKeeper`` builds the ``TrustState`` once at start (a full compute in a worker thread, the
``Offload`` contract) and then keeps it current from the node's ``Stored`` events and interest
changes (the user's own follows): each follow or unfollow names an edge, and the edge is set to
what the store now holds (``Store.following`` of its author, so an out-of-order or superseded
message changes nothing). Up to ``INCREMENTAL_MAX`` changed edges are applied incrementally
(``apply_edges``: ``TrustState.follow``/``unfollow``, exact on graphs of at most
``pagerank.SMALL_GRAPH_EDGES`` edges, within ``pagerank.INCREMENTAL_TOLERANCE`` (L1) of a full
compute above, and a full compute every ``state.REFRESH_AFTER`` changes); more trigger one full
recompute. Both run in a worker thread, on a copy: the published state is never mutated, so a
read in another thread keeps a consistent one (copy-on-write).

A read takes ``snapshot()``: the last finished state and when it was finished (``age_ms``);
None before the first compute (the read then builds its own, as without a node).

Failure modes: a ``StoreError`` while updating is logged and counted; the next change retries
with a full recompute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from pnyx.core import kinds
from pnyx.errors import StoreError
from pnyx.events import InterestChanged, Stored
from pnyx.reads.trust import load_trust
from pnyx.runtime import freeze_heap
from pnyx.trust.state import TrustState

if TYPE_CHECKING:
    from pnyx.node.node import Node
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: Changed edges applied incrementally in one batch; more trigger a full recompute.
INCREMENTAL_MAX = 64
#: Kinds naming a follow edge (body "key": the followee).
EDGE_KINDS = frozenset({kinds.FOLLOW, kinds.UNFOLLOW})

Edge = tuple[bytes, bytes]


@dataclass(frozen=True)
class TrustSnapshot:
    """A finished trust state (never mutated) and when it was finished (ms since the epoch)."""

    state: TrustState
    computed_ms: int
    incremental: bool

    def age_ms(self, now_ms: int) -> int:
        return max(0, now_ms - self.computed_ms)


def apply_edges(state: TrustState, current: Iterable[tuple[Edge, bool]]) -> TrustState:
    """A copy of ``state`` with each edge (follower, followee) set to followed or not; ``state``
    itself is left as it was. No I/O."""
    out = state.copy()
    for (follower, followee), followed in current:
        if followed:
            out.follow(follower.hex(), followee.hex())
        else:
            out.unfollow(follower.hex(), followee.hex())
    return out


def _computed(store: Store, me: bytes) -> TrustState:
    """A full compute with the caches every ranked read uses filled (in the worker thread)."""
    state = load_trust(store, me)
    state.score_map(), state.trusted_keys()
    return state


def update_from_store(store: Store, state: TrustState, edges: set[Edge]) -> TrustState:
    """``apply_edges`` with each edge's state as the store holds it now (blocking)."""
    by_follower: dict[bytes, frozenset[bytes]] = {}
    current = []
    for follower, followee in sorted(edges):
        if follower not in by_follower:
            by_follower[follower] = frozenset(store.following(follower))
        current.append(((follower, followee), followee in by_follower[follower]))
    updated = apply_edges(state, current)
    updated.score_map(), updated.trusted_keys()  # the caches reads use, filled here, not a read
    return updated


class TrustKeeper:
    """Keeps the user's trust state (module docstring). Started by ``Reach.run``."""

    def __init__(self, node: Node, clock_ms: Callable[[], int] | None = None) -> None:
        self.node = node
        self._clock_ms = clock_ms or node.clock_ms
        self._snapshot: TrustSnapshot | None = None
        self._pending: set[Edge] = set()
        self._full = True
        self._wake = trio.Event()
        self._followed: frozenset[bytes] | None = None
        self.failures = 0
        self.updates = 0
        self.recomputes = 0
        node.events.stored.subscribe(self._stored)
        node.events.interest.subscribe(self._interest)

    def snapshot(self) -> TrustSnapshot | None:
        """The last finished state, or None before the first compute."""
        return self._snapshot

    def _stored(self, event: Stored) -> None:
        for m in event.messages:
            followee = m.body.get("key") if m.kind in EDGE_KINDS else None
            if isinstance(followee, bytes):
                self._pending.add((m.author, followee))
                self._wake.set()

    def _interest(self, event: InterestChanged) -> None:
        del event
        followed = self.node.followed_authors()
        if self._followed is not None:
            me = self.node.me
            self._pending |= {(me, k) for k in followed ^ self._followed if k != me}
            self._wake.set()
        self._followed = followed

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Compute once, then apply changes as they come, until cancelled."""
        task_status.started()
        while True:
            await self.step()
            await self._wake.wait()

    async def step(self) -> None:
        """Apply what is pending now (a full compute first, or after a failure)."""
        self._wake = trio.Event()
        edges, self._pending = self._pending, set()
        node, snap = self.node, self._snapshot
        full = self._full or snap is None or len(edges) > INCREMENTAL_MAX
        if not full and not edges:
            return
        try:
            if full or snap is None:
                state = await node.offload(_computed, node.store, node.me)
                freeze_heap()  # the long-lived state out of the collector's walks
                self.recomputes += 1
            else:
                state = await node.offload(update_from_store, node.store, snap.state, edges)
                self.updates += 1
        except StoreError as exc:
            self.failures += 1
            self._full = True
            log.error("could not update the trust state: %s", exc)
            return
        self._full = False
        self._snapshot = TrustSnapshot(state, self._clock_ms(), incremental=not full)
