"""trio drivers of one sync session: ``run_requester`` and ``run_responder``.

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

from pnyx.core.envelope import decode
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import StoreError, unwrap_group
from pnyx.sync.api import (
    ByteStream,
    Ingest,
    Offload,
    Progress,
    RequesterStore,
    ResponderStore,
    ServeSummary,
    SyncFailure,
    SyncSummary,
)
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import Frame, WantEntry
from pnyx.sync.limits import (
    IDLE_TIMEOUT_S,
    INGEST_BUFFER_BATCHES,
    INGEST_GROUP_MESSAGES,
    MAX_BATCH_MESSAGES,
    MAX_INFLIGHT_BATCHES,
    MAX_WANT_AUTHORS,
    SESSION_TIMEOUT_S,
)
from pnyx.sync.requester import BatchReceived, HaveReceived, SyncRequester, want_entry
from pnyx.sync.responder import (
    BatchPacker,
    Finished,
    RoundRequested,
    SyncResponder,
    plan_reads,
)
from pnyx.sync.transport import FrameConnection, run_in_thread

#: Frames the responder's reader task may queue ahead of the serving task, a count of frames.
_FRAME_QUEUE = MAX_INFLIGHT_BATCHES + 2


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
                failure = SyncFailure(exc.reason, exc.detail)
                await conn.send_error(machine.fail(exc))
        if session.cancelled_caught:
            timeout = SyncProtocolError(SyncReason.SESSION_TIMEOUT, f"over {session_timeout:g} s")
            failure = SyncFailure(timeout.reason, timeout.detail)
            await conn.send_error(machine.fail(timeout))
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


# --- responder --------------------------------------------------------------------------------
_Item = Frame | SyncProtocolError


async def run_responder(
    stream: ByteStream,
    store: ResponderStore,
    *,
    idle_timeout: float = IDLE_TIMEOUT_S,
    session_timeout: float = SESSION_TIMEOUT_S,
    offload: Offload = run_in_thread,
) -> ServeSummary:
    """Serve one requester on ``stream`` from ``store`` until it says BYE (or fails).

    Reads only the seq ranges the requester lacks (``store.range``), sends them in BATCH frames and
    never has more unacknowledged batches out than the requester's window. A reader task keeps
    reading the stream while the serving task sends, so neither side can block the other's writes.
    """
    started = trio.current_time()
    machine = SyncResponder()
    conn = FrameConnection(stream, idle_timeout)
    failure: SyncFailure | None = None
    try:
        with trio.move_on_after(session_timeout) as session:
            error = await _serve_session(conn, machine, store, offload)
            if error is not None:
                failure = SyncFailure(error.reason, error.detail)
                await conn.send_error(machine.fail(error))
        if session.cancelled_caught:
            timeout = SyncProtocolError(SyncReason.SESSION_TIMEOUT, f"over {session_timeout:g} s")
            failure = SyncFailure(timeout.reason, timeout.detail)
            await conn.send_error(machine.fail(timeout))
    finally:
        await conn.close()
    return ServeSummary(
        rounds=machine.rounds,
        authors_requested=machine.authors_requested,
        messages=machine.envelopes_sent,
        batches=machine.batches_sent,
        bytes_sent=conn.bytes_sent,
        elapsed=trio.current_time() - started,
        complete=failure is None,
        failure=failure,
    )


async def _serve_session(
    conn: FrameConnection, machine: SyncResponder, store: ResponderStore, offload: Offload
) -> SyncProtocolError | None:
    """Run the reader task and the serving task; return the error that ended the session early.

    Errors are caught inside the nursery so callers see ``StoreError`` itself, not a group.
    """
    caught: SyncProtocolError | StoreError | None = None
    send_frames, frames = trio.open_memory_channel[_Item](_FRAME_QUEUE)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_read_frames, conn, send_frames)
        try:
            await _serve(conn, machine, store, frames, offload)
        except (SyncProtocolError, StoreError) as exc:
            caught = exc
        nursery.cancel_scope.cancel()
    if isinstance(caught, StoreError):
        raise caught
    return caught


async def _read_frames(conn: FrameConnection, out: trio.MemorySendChannel[_Item]) -> None:
    """Reader task: forward every frame; forward the first error and stop."""
    async with out:
        try:
            while True:
                await out.send(await conn.receive(idle=False))
        except SyncProtocolError as exc:
            await out.send(exc)


class _Frames:
    """The serving task's view of the reader's queue, with the idle timeout."""

    def __init__(self, channel: trio.MemoryReceiveChannel[_Item], idle: float) -> None:
        self.channel = channel
        self.idle = idle

    async def next(self) -> Frame:
        try:
            with trio.fail_after(self.idle):
                item = await self.channel.receive()
        except trio.TooSlowError:
            raise SyncProtocolError(
                SyncReason.IDLE_TIMEOUT, f"peer idle for {self.idle:g} s"
            ) from None
        except trio.EndOfChannel:
            raise SyncProtocolError(SyncReason.CLOSED, "peer closed the stream") from None
        if isinstance(item, SyncProtocolError):
            raise item
        return item


async def _serve(
    conn: FrameConnection,
    machine: SyncResponder,
    store: ResponderStore,
    channel: trio.MemoryReceiveChannel[_Item],
    offload: Offload,
) -> None:
    frames = _Frames(channel, conn.idle)
    while True:
        event = machine.receive(await frames.next())
        if isinstance(event, Finished):
            return
        if isinstance(event, RoundRequested):
            await _serve_round(conn, machine, store, frames, offload, event)


async def _serve_round(
    conn: FrameConnection,
    machine: SyncResponder,
    store: ResponderStore,
    frames: _Frames,
    offload: Offload,
    event: RoundRequested,
) -> None:
    authors = [entry.author for entry in event.entries]
    heads = await offload(partial(store.heads, authors))
    await conn.send(machine.have(heads))
    packer = BatchPacker()

    async def send(batches: list[list[bytes]]) -> None:
        for batch in batches:
            while machine.credit <= 0:
                machine.receive(await frames.next())  # only ACK is valid here
            await conn.send(machine.batch(batch))

    for entry in event.entries:
        head = heads.get(entry.author)
        if head is None:
            continue
        for first, last in plan_reads(entry, head):
            cursor = first
            while cursor <= last:
                raws = await offload(
                    partial(store.range, entry.author, cursor, last, limit=MAX_BATCH_MESSAGES)
                )
                for raw in raws:
                    await send(packer.add(raw))
                if len(raws) < MAX_BATCH_MESSAGES:
                    break
                cursor = _next_seq(raws[-1], cursor)
    await send(packer.flush())
    await conn.send(machine.done())


def _next_seq(raw: bytes, cursor: int) -> int:
    """The seq after the envelope ``raw`` that the store returned for a range from ``cursor``."""
    try:
        seq = decode(raw).seq
    except InvalidMessage as exc:
        raise StoreError(f"the store returned an undecodable envelope: {exc}") from None
    if seq < cursor:
        raise StoreError("the store returned an envelope outside the asked range")
    return seq + 1
