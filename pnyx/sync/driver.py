"""trio drivers of one sync session: ``run_requester`` here, ``run_responder`` in
``pnyx.sync.serve`` (re-exported here).

Each runs one session over one stream, closes the stream at the end, and returns a summary. A peer
that breaks the protocol, goes silent for IDLE_TIMEOUT_S, disconnects or overruns SESSION_TIMEOUT_S
ends the session with ``summary.failure`` set (after a best-effort ERROR frame); it never raises.
What does raise: ``StoreError`` from the store or the ingest callback (local failure; the stream is
closed first), ``trio.Cancelled``, and ``SyncStateError``/``ValueError`` (bugs).

Store calls are blocking and go through ``offload`` (default: ``trio.to_thread.run_sync``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import partial

import trio

from pnyx.errors import unwrap_group
from pnyx.net.contracts import ByteStream
from pnyx.sync.api import (
    Ingest,
    Offload,
    Progress,
    RequesterStore,
    SyncFailure,
    SyncSummary,
)
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import WantEntry
from pnyx.sync.limits import (
    IDLE_TIMEOUT_S,
    INGEST_BUFFER_BATCHES,
    INGEST_GROUP_MESSAGES,
    MAX_INFLIGHT_BATCHES,
    MAX_WANT_AUTHORS,
    SESSION_TIMEOUT_S,
)
from pnyx.sync.requester import BatchReceived, HaveReceived, SyncRequester, want_entry
from pnyx.sync.serve import ServeHooks, run_responder
from pnyx.sync.transport import FrameConnection, fail_session, run_in_thread

__all__ = ["ServeHooks", "run_requester", "run_responder"]


# --- requester --------------------------------------------------------------------------------
@dataclass
class _Tally:
    fetched: int = 0
    duplicates: int = 0
    rejected: int = 0
    truncated: bool = False
    authors: set[bytes] = field(default_factory=set)


def _wants_for(store: RequesterStore, authors: Sequence[bytes]) -> tuple[list[WantEntry], bool]:
    """WANT entries for ``authors`` from our own heads and gaps (blocking: store calls)."""
    heads = store.heads(authors)
    entries: list[WantEntry] = []
    truncated = False
    for author in authors:
        head = heads.get(author)
        gaps = store.missing(author) if head is not None and head[0] < head[1] else ()
        entry, cut = want_entry(author, head, gaps)
        entries.append(entry)
        truncated = truncated or cut
    return entries, truncated


async def run_requester(
    stream: ByteStream,
    store: RequesterStore,
    ingest: Ingest,
    *,
    authors: Collection[bytes],
    on_progress: Progress | None = None,
    window: int = MAX_INFLIGHT_BATCHES,
    idle_timeout: float = IDLE_TIMEOUT_S,
    session_timeout: float = SESSION_TIMEOUT_S,
    offload: Offload = run_in_thread,
) -> SyncSummary:
    """Fetch from the peer on ``stream`` what ``store`` lacks of ``authors``.

    Authors are asked in rounds of MAX_WANT_AUTHORS (sorted by key). Each batch is passed to
    ``ingest`` and acknowledged only once ingested, so a session cut at any point resumes at the
    next session from what was stored (our heads are re-read each time). ``on_progress`` is called
    after each batch with (received so far, expected total or None until the last round's HAVE).
    """
    started = trio.current_time()
    machine = SyncRequester(window=window)
    conn = FrameConnection(stream, idle_timeout)
    tally = _Tally()
    ordered = sorted(set(authors))
    chunks = [ordered[i : i + MAX_WANT_AUTHORS] for i in range(0, len(ordered), MAX_WANT_AUTHORS)]
    failure: SyncFailure | None = None
    try:
        with trio.move_on_after(session_timeout) as session:
            try:
                await conn.send(machine.hello())
                for index, chunk in enumerate(chunks):
                    entries, truncated = await offload(partial(_wants_for, store, chunk))
                    tally.truncated = tally.truncated or truncated
                    await conn.send(machine.want(entries))
                    last = index == len(chunks) - 1
                    await _fetch_round(conn, machine, ingest, tally, on_progress, last=last)
                await conn.send(machine.bye())
            except SyncProtocolError as exc:
                failure = await fail_session(conn, machine, exc)
        if session.cancelled_caught:
            timeout = SyncProtocolError(SyncReason.SESSION_TIMEOUT, f"over {session_timeout:g} s")
            failure = await fail_session(conn, machine, timeout)
    finally:
        await conn.close()
    received = machine.envelopes_received
    return SyncSummary(
        fetched=tally.fetched,
        duplicates=tally.duplicates,
        rejected=tally.rejected,
        received=received,
        authors=len(tally.authors),
        batches=machine.batches_received,
        rounds=machine.rounds,
        bytes_received=conn.bytes_received,
        elapsed=trio.current_time() - started,
        complete=failure is None and not tally.truncated,
        failure=failure,
        peer_heads=dict(machine.peer_heads),
    )


async def _fetch_round(
    conn: FrameConnection,
    machine: SyncRequester,
    ingest: Ingest,
    tally: _Tally,
    on_progress: Progress | None,
    *,
    last: bool,
) -> None:
    """Receive one round's batches and ingest them, until its DONE.

    A batch is acknowledged as soon as it is in the bounded ingest buffer (at most
    ``INGEST_BUFFER_BATCHES`` batches), so the responder keeps sending while earlier batches are
    verified and stored. The ingest task takes everything buffered (up to
    ``INGEST_GROUP_MESSAGES``) in one ``ingest`` call, so verification runs on every core and one
    transaction stores thousands of messages. The round ends only when everything received is
    ingested; a round that fails still stores what it buffered before the error is raised.
    """
    expected: list[int | None] = [None]
    buffer_in, buffer_out = trio.open_memory_channel[tuple[list[bytes], frozenset[bytes]]](
        INGEST_BUFFER_BATCHES
    )
    failure: SyncProtocolError | None = None
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                _ingest_buffered, buffer_out, machine, ingest, tally, on_progress, expected
            )
            try:
                async with buffer_in:
                    while True:
                        event = machine.receive(await conn.receive())
                        if isinstance(event, HaveReceived):
                            if last:
                                expected[0] = machine.envelopes_received + event.expected
                        elif isinstance(event, BatchReceived):
                            await buffer_in.send((event.envelopes, event.authors))
                            await conn.send(machine.ack())
                        else:
                            break
            except SyncProtocolError as exc:
                failure = exc  # what was buffered is still stored before the session ends
    except BaseExceptionGroup as group:
        # One task failed (a StoreError from ingest, say): raise it as itself, not in a group.
        raise unwrap_group(group) from None
    if failure is not None:
        raise failure


async def _ingest_buffered(
    buffered: trio.MemoryReceiveChannel[tuple[list[bytes], frozenset[bytes]]],
    machine: SyncRequester,
    ingest: Ingest,
    tally: _Tally,
    on_progress: Progress | None,
    expected: list[int | None],
) -> None:
    """Ingest what ``_fetch_round`` buffers, in groups of up to INGEST_GROUP_MESSAGES."""
    async with buffered:
        async for envelopes, authors in buffered:
            group = list(envelopes)
            tally.authors |= authors
            while len(group) < INGEST_GROUP_MESSAGES:
                try:
                    more, more_authors = buffered.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                group.extend(more)
                tally.authors |= more_authors
            outcome = await ingest(group)
            tally.fetched += len(outcome.accepted)
            tally.duplicates += outcome.duplicates
            tally.rejected += len(outcome.rejected)
            if on_progress is not None:
                on_progress(machine.envelopes_received, expected[0])
