"""trio driver of the responder side of one sync session: ``run_responder``.

Serves one requester on one stream, closes the stream at the end and returns a ``ServeSummary``. A
peer that breaks the protocol, goes silent for IDLE_TIMEOUT_S, disconnects or overruns
SESSION_TIMEOUT_S ends the session with ``summary.failure`` set (after a best-effort ERROR frame);
it never raises for the peer. What does raise: ``StoreError`` from the store (the stream is closed
first), ``trio.Cancelled``, and ``SyncStateError``/``ValueError`` (bugs).

``ServeHooks`` lets a server bound what one session costs (docs/protocol.md section 5.6): a
``ServeMeter`` charged for every chunk read from the store (over budget: the batches packed so far
are sent, then ERROR ``busy`` with ``retry after S s``), a progress callback (slot scheduling sees
stalled requesters), and a cancel scope the server cancels to take the slot back (ERROR ``busy``,
``preempted``).

Store calls are blocking and go through ``offload`` (default: ``trio.to_thread.run_sync``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import trio

from pnyx.core.envelope import decode
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import StoreError
from pnyx.net.contracts import ByteStream
from pnyx.sync.api import Offload, ResponderStore, ServeSummary, SyncFailure
from pnyx.sync.budget import ServeMeter
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import Frame
from pnyx.sync.limits import (
    IDLE_TIMEOUT_S,
    MAX_BATCH_MESSAGES,
    MAX_INFLIGHT_BATCHES,
    SESSION_TIMEOUT_S,
)
from pnyx.sync.responder import BatchPacker, Finished, RoundRequested, SyncResponder, plan_reads
from pnyx.sync.transport import FrameConnection, fail_session, run_in_thread

#: Frames the responder's reader task may queue ahead of the serving task, a count of frames.
_FRAME_QUEUE = MAX_INFLIGHT_BATCHES + 2
#: The ``retry after`` a preempted session is told, in whole seconds (its slot went to another
#: peer; asking again soon is fine, the fair share is decided again).
PREEMPTED_RETRY_AFTER_S = 1


@dataclass
class ServeHooks:
    """What a server adds around one session; every part is optional."""

    meter: ServeMeter | None = None
    """Charged for each chunk of envelopes before it is sent."""
    on_progress: Callable[[], None] | None = None
    """Called on each frame received and each batch sent."""
    preempt: trio.CancelScope | None = None
    """Cancelled by the server to take the session's slot back."""


def busy(retry_after: int) -> SyncProtocolError:
    """The refusal of a responder over a peer's budget or out of slots (an ERROR ``busy``)."""
    return SyncProtocolError(SyncReason.BUSY, f"retry after {retry_after} s")


_Item = Frame | SyncProtocolError


async def run_responder(
    stream: ByteStream,
    store: ResponderStore,
    *,
    idle_timeout: float = IDLE_TIMEOUT_S,
    session_timeout: float = SESSION_TIMEOUT_S,
    offload: Offload = run_in_thread,
    hooks: ServeHooks | None = None,
) -> ServeSummary:
    """Serve one requester on ``stream`` from ``store`` until it says BYE (or fails).

    Reads only the seq ranges the requester lacks (``store.range``), sends them in BATCH frames and
    never has more unacknowledged batches out than the requester's window. A reader task keeps
    reading the stream while the serving task sends, so neither side can block the other's writes.
    """
    hooks = hooks or ServeHooks()
    started = trio.current_time()
    machine = SyncResponder()
    conn = FrameConnection(stream, idle_timeout)
    failure: SyncFailure | None = None
    preempt = hooks.preempt or trio.CancelScope()
    try:
        with trio.move_on_after(session_timeout) as session:
            error: SyncProtocolError | None = None
            with preempt:
                error = await _serve_session(conn, machine, store, offload, hooks)
            if preempt.cancelled_caught:
                error = SyncProtocolError(
                    SyncReason.BUSY, f"preempted: retry after {PREEMPTED_RETRY_AFTER_S} s"
                )
            if error is not None:
                failure = await fail_session(conn, machine, error)
        if session.cancelled_caught:
            timeout = SyncProtocolError(SyncReason.SESSION_TIMEOUT, f"over {session_timeout:g} s")
            failure = await fail_session(conn, machine, timeout)
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
    conn: FrameConnection,
    machine: SyncResponder,
    store: ResponderStore,
    offload: Offload,
    hooks: ServeHooks,
) -> SyncProtocolError | None:
    """Run the reader task and the serving task; return the error that ended the session early.

    Errors are caught inside the nursery so callers see ``StoreError`` itself, not a group.
    """
    caught: SyncProtocolError | StoreError | None = None
    send_frames, frames = trio.open_memory_channel[_Item](_FRAME_QUEUE)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_read_frames, conn, send_frames)
        try:
            await _serve(conn, machine, store, _Frames(frames, conn.idle, hooks), offload, hooks)
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

    def __init__(
        self, channel: trio.MemoryReceiveChannel[_Item], idle: float, hooks: ServeHooks
    ) -> None:
        self.channel = channel
        self.idle = idle
        self.on_progress = hooks.on_progress

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
        if self.on_progress is not None:
            self.on_progress()
        return item


async def _serve(
    conn: FrameConnection,
    machine: SyncResponder,
    store: ResponderStore,
    frames: _Frames,
    offload: Offload,
    hooks: ServeHooks,
) -> None:
    while True:
        event = machine.receive(await frames.next())
        if isinstance(event, Finished):
            return
        if isinstance(event, RoundRequested):
            await _serve_round(conn, machine, store, frames, offload, event, hooks)


async def _serve_round(
    conn: FrameConnection,
    machine: SyncResponder,
    store: ResponderStore,
    frames: _Frames,
    offload: Offload,
    event: RoundRequested,
    hooks: ServeHooks,
) -> None:
    meter = hooks.meter
    if meter is not None:
        meter.begin_round()
        refused = meter.retry_after(trio.current_time())
        if refused is not None:
            raise busy(refused)
    authors = [entry.author for entry in event.entries]
    heads = await offload(partial(store.heads, authors))
    await conn.send(machine.have(heads))
    packer = BatchPacker()

    async def send(batches: list[list[bytes]]) -> None:
        for batch in batches:
            while machine.credit <= 0:
                machine.receive(await frames.next())  # only ACK is valid here
            await conn.send(machine.batch(batch))
            if hooks.on_progress is not None:
                hooks.on_progress()

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
                full = len(raws) >= MAX_BATCH_MESSAGES
                after = _next_seq(raws[-1], cursor) if full else last + 1
                if meter is not None and raws:
                    size = sum(len(raw) for raw in raws)
                    if not meter.charge(entry.author, cursor, after - 1, size, trio.current_time()):
                        await send(packer.flush())  # what was charged is sent, then the refusal
                        raise busy(meter.retry_after(trio.current_time()) or 1)
                for raw in raws:
                    await send(packer.add(raw))
                if not full:
                    break
                cursor = after
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
