"""One catch-up session from the node's side: fetch from a peer, or serve one (trio, no libp2p).

Shared by the running node's scheduler (``pnyx.catchup.scheduler``) and ``pnyx sync`` (a one-shot
session without the node). The protocol itself is ``pnyx.sync`` (docs/protocol.md, "Sync
protocol"); this module adds what a node needs around it:

* ``fetch`` runs one requester session on a stream. Every envelope received goes through
  ``pnyx.ingest`` (``envelope.validate`` on every core, then ``Store.ingest_verified``; the same
  reports as ``Store.ingest``), the same validation as gossip (structure, clock, signature, chain
  placement; a conflicting message is kept as fork evidence). It counts the authors of newly
  stored messages and calls ``after_ingest`` with each ingested group's report (the node counts
  it, shows the new messages and updates its interest set).
* ``fetch_from_address`` connects to an address first (``pnyx sync``).
* ``Server`` answers incoming sessions with ``run_responder``, at most ``max_sessions`` at once
  and ``MAX_SERVED_PER_PEER`` per peer; a stream beyond a limit is closed at once (its requester
  retries later).

Failure modes: a peer that breaks the protocol, stalls or goes away ends the session with
``SessionResult.failure`` set; a ``StoreError`` (local disk) is logged and reported the same way
by the scheduler, raised by ``fetch`` itself. Nothing here crashes the node.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from pnyx.clock import wall_clock_ms
from pnyx.errors import RemoteError, StoreError
from pnyx.ingest.ratelimit import RateLimiter
from pnyx.net.contracts import ByteStream, Network
from pnyx.net.errors import ConnectError
from pnyx.runtime import Offload, cleanup_scope
from pnyx.sync.api import Progress, SyncFailure, SyncSummary
from pnyx.sync.driver import run_requester, run_responder
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.limits import IDLE_TIMEOUT_S, PROTOCOL_ID, SESSION_TIMEOUT_S

if TYPE_CHECKING:
    from pnyx.store import IngestReport, Store

log = logging.getLogger(__name__)

#: Responder sessions served at once by one process, a count; more streams are closed at once.
MAX_SERVED_SESSIONS = 8
#: Responder sessions served at once to one peer, a count. An honest node runs one session with
#: a peer at a time; the cap keeps one peer from holding every slot (a slowloris).
MAX_SERVED_PER_PEER = 2

#: Called after each ingested batch with its report (e.g. to count it and show new messages).
AfterIngest = Callable[["IngestReport"], Awaitable[None]]


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


def violation(failure: SyncFailure | None) -> SyncProtocolError | None:
    """The protocol violation a session failure proves, or None if it proves none."""
    if failure is None or failure.reason not in VIOLATIONS:
        return None
    return SyncProtocolError(failure.reason, failure.detail)


@dataclass
class SessionResult:
    """What one requester session did (``summary`` is None when no session could start)."""

    peer: str
    summary: SyncSummary | None = None
    new_authors: set[bytes] = field(default_factory=set)
    error: str | None = None
    """Why no session ran (could not connect or open a stream), or the local store failed."""

    @property
    def failed(self) -> bool:
        return self.error is not None or self.summary is None or self.summary.failure is not None

    @property
    def fetched(self) -> int:
        return self.summary.fetched if self.summary is not None else 0

    def failure_text(self) -> str | None:
        """One line saying why the session stopped early, or None if it did not."""
        if self.error is not None:
            return self.error
        if self.summary is None or self.summary.failure is None:
            return None
        failure = self.summary.failure
        detail = f": {failure.detail}" if failure.detail else ""
        return f"{failure.reason.value}{detail}"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (``pnyx sync --json`` and the control socket's ``sync``)."""
        summary = self.summary
        return {
            "peer": self.peer,
            "fetched": self.fetched,
            "authors": len(self.new_authors),
            "duplicates": summary.duplicates if summary else 0,
            "rejected": summary.rejected if summary else 0,
            "received": summary.received if summary else 0,
            "batches": summary.batches if summary else 0,
            "bytes": summary.bytes_received if summary else 0,
            "elapsed_s": round(summary.elapsed, 3) if summary else 0.0,
            "complete": bool(summary and summary.complete and self.error is None),
            "failure": self.failure_text(),
        }


def summary_line(result: dict[str, Any]) -> str:
    """The one-line summary of a session (from ``SessionResult.to_json``)."""
    return (
        f"fetched {result['fetched']} new messages from {result['authors']} authors "
        f"({result['duplicates']} already known, {result['rejected']} rejected)"
    )


async def fetch(
    stream: ByteStream,
    store: Store,
    *,
    peer: str,
    authors: Collection[bytes],
    offload: Offload,
    clock_ms: Callable[[], int] = wall_clock_ms,
    on_progress: Progress | None = None,
    after_ingest: AfterIngest | None = None,
    idle_timeout: float = IDLE_TIMEOUT_S,
    session_timeout: float = SESSION_TIMEOUT_S,
    limiter: RateLimiter | None = None,
) -> SessionResult:
    """Fetch from the peer on ``stream`` what ``store`` lacks of ``authors`` (one session).

    With a ``limiter``, envelopes over the peer's or an author's sync rate are dropped before any
    signature check (a later session fetches them again). Raises ``StoreError`` if the local
    store fails (what was stored before stays stored).
    """
    from pnyx.ingest import ParallelValidator
    from pnyx.ingest import ingest as ingest_on_cores  # perf: verify on every core

    result = SessionResult(peer)
    validator = ParallelValidator()

    async def ingest(envelopes: list[bytes]) -> IngestReport:
        if limiter is not None:  # robustness: rate limits before the expensive checks
            envelopes = limiter.admit_sync(peer, envelopes, trio.current_time()).kept
        report: IngestReport = await offload(
            ingest_on_cores, store, validator, envelopes, clock_ms()
        )
        if limiter is not None:
            limiter.charge_sync((m.author for m in report.accepted), trio.current_time())
        result.new_authors.update(m.author for m in report.accepted)
        if after_ingest is not None:
            await after_ingest(report)
        return report

    try:
        result.summary = await run_requester(
            stream,
            store,
            ingest,
            authors=authors,
            on_progress=on_progress,
            idle_timeout=idle_timeout,
            session_timeout=session_timeout,
            offload=offload,
        )
    finally:
        with cleanup_scope():  # the pool's threads end with the session
            await offload(validator.close)
    return result


async def fetch_from_peer(
    network: Network,
    peer: str,
    store: Store,
    *,
    authors: Collection[bytes],
    offload: Offload,
    on_progress: Progress | None = None,
    after_ingest: AfterIngest | None = None,
    idle_timeout: float = IDLE_TIMEOUT_S,
    session_timeout: float = SESSION_TIMEOUT_S,
    limiter: RateLimiter | None = None,
) -> SessionResult:
    """Open a sync stream to a connected ``peer`` and ``fetch``. Never raises for the peer's
    failures (they are in the result); raises ``StoreError`` if the local store fails."""
    try:
        stream = await network.open_stream(peer, PROTOCOL_ID)
    except (ConnectError, RemoteError) as exc:
        return SessionResult(peer, error=f"cannot open a sync stream: {exc}")
    return await fetch(
        stream,
        store,
        peer=peer,
        authors=authors,
        offload=offload,
        on_progress=on_progress,
        after_ingest=after_ingest,
        idle_timeout=idle_timeout,
        session_timeout=session_timeout,
        limiter=limiter,
    )


async def fetch_from_address(
    network: Network,
    address: str,
    store: Store,
    *,
    authors: Collection[bytes],
    offload: Offload,
    on_progress: Progress | None = None,
    after_ingest: AfterIngest | None = None,
) -> SessionResult:
    """Connect to ``address`` and fetch (``pnyx sync``). Raises ``UserError`` for an unusable
    address, ``ConnectError`` if the peer cannot be reached, ``StoreError`` if the store fails."""
    peer = await network.connect(address)
    return await fetch_from_peer(
        network,
        peer,
        store,
        authors=authors,
        offload=offload,
        on_progress=on_progress,
        after_ingest=after_ingest,
    )


@dataclass
class ServeStats:
    """Counters of the sessions served (all counts)."""

    sessions_served: int = 0
    sessions_refused: int = 0
    sessions_failed: int = 0
    messages_served: int = 0


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
    ) -> None:
        self.store = store
        self.offload = offload
        self.on_violation = on_violation
        self.max_sessions = max_sessions
        self.max_per_peer = max_per_peer
        self._per_peer: dict[str, int] = {}
        self.idle_timeout = idle_timeout
        self.session_timeout = session_timeout
        self.stats = ServeStats()
        self.active = 0
        """Sessions being served now, a count."""

    async def serve(self, stream: ByteStream, peer: str) -> None:
        """Serve one session (the network closes the stream when this returns)."""
        mine = self._per_peer.get(peer, 0)
        if self.active >= self.max_sessions or mine >= self.max_per_peer:
            self.stats.sessions_refused += 1
            log.debug("sync session from %s refused: %d served, %d to it", peer, self.active, mine)
            return
        self.active += 1
        self._per_peer[peer] = mine + 1
        try:
            served = await run_responder(
                stream,
                self.store,
                idle_timeout=self.idle_timeout,
                session_timeout=self.session_timeout,
                offload=self.offload,
            )
        except StoreError as exc:
            self.stats.sessions_failed += 1
            log.error("could not serve a sync session to %s: %s", peer, exc)
            return
        finally:
            self.active -= 1
            left = self._per_peer.pop(peer) - 1
            if left:
                self._per_peer[peer] = left
        self.stats.messages_served += served.messages
        if served.failure is None:
            self.stats.sessions_served += 1
        else:
            self.stats.sessions_failed += 1
            log.debug("sync session from %s ended early: %s", peer, served.failure.reason)
            broken = violation(served.failure)
            if broken is not None and self.on_violation is not None:
                self.on_violation(peer, broken)
