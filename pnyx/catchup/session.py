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
* ``Server`` (``pnyx.catchup.server``, re-exported here) answers incoming sessions within each
  peer's serve budget and fair slots.

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

from pnyx.catchup.server import (
    VIOLATIONS,
    OnViolation,
    Server,
    ServeStats,
    violation,
)
from pnyx.clock import wall_clock_ms
from pnyx.errors import RemoteError
from pnyx.ingest.ratelimit import RateLimiter
from pnyx.net.contracts import ByteStream, Network
from pnyx.net.errors import ConnectError
from pnyx.runtime import Offload, cleanup_scope
from pnyx.sync.api import Progress, SyncSummary
from pnyx.sync.driver import run_requester
from pnyx.sync.limits import IDLE_TIMEOUT_S, PROTOCOL_ID, SESSION_TIMEOUT_S
from pnyx.sync.slots import MAX_SERVED_PER_PEER, MAX_SERVED_SESSIONS

if TYPE_CHECKING:
    from pnyx.store import IngestReport, Store

log = logging.getLogger(__name__)

#: Called after each ingested batch with its report (e.g. to count it and show new messages).
AfterIngest = Callable[["IngestReport"], Awaitable[None]]


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


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How one fetch session runs, passed whole through ``fetch_from_address`` ->
    ``fetch_from_peer`` -> ``fetch``. ``offload`` runs the blocking work (validation, the store);
    ``on_progress`` hears the session's progress; ``after_ingest`` is awaited after each stored
    group; with a ``limiter``, envelopes over the peer's or an author's sync rate are dropped before
    any signature check (a later session fetches them again)."""

    offload: Offload
    clock_ms: Callable[[], int] = wall_clock_ms
    on_progress: Progress | None = None
    after_ingest: AfterIngest | None = None
    idle_timeout: float = IDLE_TIMEOUT_S
    session_timeout: float = SESSION_TIMEOUT_S
    limiter: RateLimiter | None = None


async def fetch(
    stream: ByteStream,
    store: Store,
    *,
    peer: str,
    authors: Collection[bytes],
    options: FetchOptions,
) -> SessionResult:
    """Fetch from the peer on ``stream`` what ``store`` lacks of ``authors`` (one session).

    Raises ``StoreError`` if the local store fails (what was stored before stays stored).
    """
    from pnyx.ingest import ParallelValidator
    from pnyx.ingest import ingest as ingest_on_cores  # perf: verify on every core

    result = SessionResult(peer)
    validator = ParallelValidator()
    limiter, offload = options.limiter, options.offload

    async def ingest(envelopes: list[bytes]) -> IngestReport:
        if limiter is not None:  # robustness: rate limits before the expensive checks
            envelopes = limiter.admit_sync(peer, envelopes, trio.current_time()).kept
        report: IngestReport = await offload(
            ingest_on_cores, store, validator, envelopes, options.clock_ms()
        )
        if limiter is not None:
            limiter.charge_sync((m.author for m in report.accepted), trio.current_time())
        result.new_authors.update(m.author for m in report.accepted)
        if options.after_ingest is not None:
            await options.after_ingest(report)
        return report

    try:
        result.summary = await run_requester(
            stream,
            store,
            ingest,
            authors=authors,
            on_progress=options.on_progress,
            idle_timeout=options.idle_timeout,
            session_timeout=options.session_timeout,
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
    options: FetchOptions,
) -> SessionResult:
    """Open a sync stream to a connected ``peer`` and ``fetch``. Never raises for the peer's
    failures (they are in the result); raises ``StoreError`` if the local store fails."""
    try:
        stream = await network.open_stream(peer, PROTOCOL_ID)
    except (ConnectError, RemoteError) as exc:
        return SessionResult(peer, error=f"cannot open a sync stream: {exc}")
    return await fetch(stream, store, peer=peer, authors=authors, options=options)


async def fetch_from_address(
    network: Network,
    address: str,
    store: Store,
    *,
    authors: Collection[bytes],
    options: FetchOptions,
) -> SessionResult:
    """Connect to ``address`` and fetch (``pnyx sync``). Raises ``UserError`` for an unusable
    address, ``ConnectError`` if the peer cannot be reached, ``StoreError`` if the store fails."""
    peer = await network.connect(address)
    return await fetch_from_peer(network, peer, store, authors=authors, options=options)


__all__ = [
    "MAX_SERVED_PER_PEER",
    "MAX_SERVED_SESSIONS",
    "VIOLATIONS",
    "OnViolation",
    "ServeStats",
    "Server",
    "SessionResult",
    "fetch",
    "fetch_from_address",
    "fetch_from_peer",
    "violation",
]
