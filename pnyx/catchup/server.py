"""Serving ``/pnyx/sync/1.0.0`` in a node or ``pnyx sync``: budgets and fair slots (trio).

``Server.serve`` is the stream handler. Each incoming session:

1. is refused with ERROR ``busy`` (``retry after S s``) if its peer is over its serve budget
   (``pnyx.sync.budget``: what was already sent to that peer in the window, asked again);
2. asks ``pnyx.sync.slots.ServeSlots`` for a slot, as a valued peer or as a stranger with its
   address groups (``standing``: who matters to this node): admitted, or it preempts a stranger's,
   a stalled or an over-represented session (that one ends with ERROR ``busy``, ``preempted``), or
   waits at most
   ``SLOT_WAIT_S`` for one (woken when a session ends or one becomes stalled), or is refused
   ``busy`` (its peer already holds ``MAX_SERVED_PER_PEER``, or too many wait);
3. runs ``run_responder`` with a meter of its peer's budget (over budget mid-round: what was
   charged is sent, then ERROR ``busy``) and reports progress to its slot.

Re-asking and stalling are not invalid data: they cost the peer its session, never standing.
Failure modes: a ``StoreError`` is logged and counted (``sessions_failed``); nothing raises into the
network's handler task except ``trio.Cancelled``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from pnyx.errors import StoreError
from pnyx.net.contracts import ByteStream
from pnyx.runtime import Offload
from pnyx.sync.api import SyncFailure
from pnyx.sync.budget import ServeBudget
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import ErrorFrame
from pnyx.sync.limits import IDLE_TIMEOUT_S, SESSION_TIMEOUT_S
from pnyx.sync.serve import ServeHooks, run_responder
from pnyx.sync.slots import (
    MAX_SERVED_PER_PEER,
    MAX_SERVED_SESSIONS,
    SLOT_WAIT_S,
    Decision,
    ServeSlots,
    Slot,
    address_groups,
)
from pnyx.sync.transport import FrameConnection

if TYPE_CHECKING:
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: The ``retry after`` a requester refused for want of a slot is told, in whole seconds.
SLOT_RETRY_AFTER_S = 5

#: Session failures that only a peer breaking the protocol causes; each counts against the peer's
#: standing like an invalid gossip frame. Timeouts, closed streams and ERROR frames do not: an
#: honest peer that is frozen, suspended or on a bad link looks the same.
VIOLATIONS = frozenset(
    {
        SyncReason.BAD_PREFIX,
        SyncReason.FRAME_TOO_LARGE,
        SyncReason.BAD_FRAME,
        SyncReason.UNKNOWN_FRAME,
        SyncReason.UNEXPECTED_FRAME,
        SyncReason.UNREQUESTED,
        SyncReason.BAD_ENVELOPE,
        SyncReason.WINDOW_EXCEEDED,
        SyncReason.BAD_ACK,
        SyncReason.COUNT_MISMATCH,
    }
)

#: Called with the peer and its violation (the node counts it and bans at the threshold).
OnViolation = Callable[[str, SyncProtocolError], None]
#: Called with a peer: whether it matters to this node (``pnyx.sync.slots``: valued sessions),
#: and the multiaddr of its connection if known (a stranger's address groups).
Standing = Callable[[str], tuple[bool, str | None]]


def violation(failure: SyncFailure | None) -> SyncProtocolError | None:
    """The protocol violation a session failure proves, or None if it proves none."""
    if failure is None or failure.reason not in VIOLATIONS:
        return None
    return SyncProtocolError(failure.reason, failure.detail)


@dataclass
class ServeStats:
    """Counters of the sessions served (all counts, except ``bytes_served`` in bytes)."""

    sessions_served: int = 0
    sessions_refused: int = 0
    sessions_failed: int = 0
    messages_served: int = 0
    bytes_served: int = 0
    sessions_preempted: int = 0
    sessions_over_budget: int = 0
    """Sessions refused or cut because their peer was over its serve budget."""


class Server:
    """Serves ``/pnyx/sync/1.0.0``: every feed held in ``store``, to any peer that asks
    (store-and-forward). Install with ``network.set_stream_handler(PROTOCOL_ID, server.serve)``."""

    def __init__(
        self,
        store: Store,
        offload: Offload,
        *,
        max_sessions: int = MAX_SERVED_SESSIONS,
        max_per_peer: int = MAX_SERVED_PER_PEER,
        idle_timeout: float = IDLE_TIMEOUT_S,
        session_timeout: float = SESSION_TIMEOUT_S,
        on_violation: OnViolation | None = None,
        budget: ServeBudget | None = None,
        slots: ServeSlots | None = None,
        slot_wait_s: float = SLOT_WAIT_S,
        standing: Standing | None = None,
    ) -> None:
        self.store = store
        self.offload = offload
        self.on_violation = on_violation
        self.slots = slots or ServeSlots(max_sessions=max_sessions, max_per_peer=max_per_peer)
        self.budget = budget or ServeBudget()
        self.slot_wait_s = slot_wait_s
        self.standing = standing
        """Who matters (None: every peer does, as for the one-shot ``pnyx sync``)."""
        self.idle_timeout = idle_timeout
        self.session_timeout = session_timeout
        self.stats = ServeStats()
        self._scopes: dict[Slot, trio.CancelScope] = {}
        self._changed = trio.Event()

    @property
    def active(self) -> int:
        """Sessions holding a slot now, a count."""
        return len(self.slots.slots)

    async def serve(self, stream: ByteStream, peer: str) -> None:
        """Serve one session (the network closes the stream when this returns)."""
        over = self.budget.retry_after(peer, trio.current_time())
        if over is not None:
            self.stats.sessions_over_budget += 1
            await self._refuse(stream, peer, over, "over its serve budget")
            return
        slot = await self._acquire(peer)
        if slot is None:
            await self._refuse(stream, peer, SLOT_RETRY_AFTER_S, "no slot")
            return
        scope = self._scopes[slot] = trio.CancelScope()
        hooks = ServeHooks(
            meter=self.budget.meter(peer),
            on_progress=lambda: self.slots.touch(slot, trio.current_time()),
            preempt=scope,
        )
        try:
            served = await run_responder(
                stream,
                self.store,
                idle_timeout=self.idle_timeout,
                session_timeout=self.session_timeout,
                offload=self.offload,
                hooks=hooks,
            )
        except StoreError as exc:
            self.stats.sessions_failed += 1
            log.error("could not serve a sync session to %s: %s", peer, exc)
            return
        finally:
            self.slots.release(slot)
            del self._scopes[slot]
            self._changed.set()
            self._changed = trio.Event()
        self._count(peer, served.messages, served.bytes_sent, served.failure)

    def _count(self, peer: str, messages: int, sent: int, failure: SyncFailure | None) -> None:
        self.stats.messages_served += messages
        self.stats.bytes_served += sent
        if failure is None:
            self.stats.sessions_served += 1
            return
        self.stats.sessions_failed += 1
        if failure.reason is SyncReason.BUSY and not failure.detail.startswith("preempted"):
            self.stats.sessions_over_budget += 1
        log.debug("sync session from %s ended early: %s", peer, failure.reason)
        broken = violation(failure)
        if broken is not None and self.on_violation is not None:
            self.on_violation(peer, broken)

    async def _acquire(self, peer: str) -> Slot | None:
        """A slot for ``peer``, preempting or waiting as ``ServeSlots`` decides; None: refused."""
        valued, address = (True, None) if self.standing is None else self.standing(peer)
        groups = () if valued else address_groups(address)
        outcome = self.slots.request(peer, trio.current_time(), valued=valued, groups=groups)
        if outcome.decision is Decision.WAIT:
            self.slots.waiting += 1
            self.slots.strangers_waiting += 0 if valued else 1
            try:
                with trio.move_on_after(self.slot_wait_s):
                    while outcome.decision is Decision.WAIT:
                        changed = self._changed
                        wake = self.slots.wake_at()
                        with trio.move_on_at(wake if wake is not None else math.inf):
                            await changed.wait()
                        outcome = self.slots.request(
                            peer, trio.current_time(), waiting=True, valued=valued, groups=groups
                        )
            finally:
                self.slots.waiting -= 1
                self.slots.strangers_waiting -= 0 if valued else 1
        if outcome.victim is not None:
            self.stats.sessions_preempted += 1
            log.debug("sync session of %s preempted for %s", outcome.victim.peer, peer)
            self._scopes[outcome.victim].cancel()
        return outcome.slot if outcome.decision in (Decision.ADMIT, Decision.PREEMPT) else None

    async def _refuse(self, stream: ByteStream, peer: str, retry_after: int, why: str) -> None:
        """Send ERROR ``busy`` (best effort, within CLOSE_TIMEOUT_S); the network closes."""
        self.stats.sessions_refused += 1
        log.debug("sync session from %s refused (%s)", peer, why)
        conn = FrameConnection(stream, self.idle_timeout)
        await conn.send_error(ErrorFrame(SyncReason.BUSY.value, f"retry after {retry_after} s"))
