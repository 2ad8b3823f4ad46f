"""Frames over a ``ByteStream`` with timeouts (trio): the I/O half the state machines leave out.

``FrameConnection`` turns transport failures into ``SyncProtocolError`` (CLOSED, CONNECTION_LOST,
IDLE_TIMEOUT) so a driver handles every way a peer can fail in one place (``ByteStream`` is the
one contract of ``pnyx.net.contracts``: its failures are ``StreamClosedError``, a ``RemoteError``;
``pnyx.net.triostream.TrioStream`` adapts any trio stream).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import trio

from pnyx.errors import RemoteError
from pnyx.net.contracts import ByteStream
from pnyx.sync.api import SyncFailure
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import ErrorFrame, Frame
from pnyx.sync.limits import CLOSE_TIMEOUT_S, READ_CHUNK_BYTES
from pnyx.sync.wire import FrameDecoder, encode_frame

_T = TypeVar("_T")

#: What a ByteStream raises when the connection is gone (``StreamClosedError`` is a RemoteError).
_TRANSPORT_ERRORS = (RemoteError,)


async def run_in_thread(fn: Callable[[], _T]) -> _T:
    """The default ``Offload``: run a blocking store call in a trio worker thread."""
    return await trio.to_thread.run_sync(fn)


class FrameConnection:
    """Sends and receives frames on ``stream``; every wait on the peer is capped by ``idle``
    seconds. Counts the bytes moved in each direction."""

    def __init__(self, stream: ByteStream, idle: float) -> None:
        self.stream = stream
        self.idle = idle
        self.bytes_sent = 0
        self.bytes_received = 0
        self._decoder = FrameDecoder()
        self._pending: list[Frame] = []

    async def send(self, frame: Frame) -> None:
        data = encode_frame(frame)
        await self._io(self.stream.send_all(data), "sending")
        self.bytes_sent += len(data)

    async def receive(self, *, idle: bool = True) -> Frame:
        """The next frame; waits at most ``self.idle`` seconds per read unless ``idle`` is False.

        Raises ``SyncProtocolError``: a framing error, CLOSED at EOF, CONNECTION_LOST, IDLE_TIMEOUT.
        """
        while not self._pending:
            read = self.stream.receive_some(READ_CHUNK_BYTES)
            data = await (self._io(read, "receiving") if idle else self._plain(read))
            if not data:
                cut = " in the middle of a frame" if self._decoder.mid_frame else ""
                raise SyncProtocolError(SyncReason.CLOSED, f"peer closed the stream{cut}")
            self.bytes_received += len(data)
            self._pending = self._decoder.feed(data)
            self._pending.reverse()
        return self._pending.pop()

    async def _io(self, operation: Awaitable[_T], what: str) -> _T:
        try:
            with trio.fail_after(self.idle):
                return await self._plain(operation)
        except trio.TooSlowError:
            raise SyncProtocolError(
                SyncReason.IDLE_TIMEOUT, f"peer idle for {self.idle:g} s while {what}"
            ) from None

    @staticmethod
    async def _plain(operation: Awaitable[_T]) -> _T:
        try:
            return await operation
        except SyncProtocolError:
            raise
        except _TRANSPORT_ERRORS as exc:
            raise SyncProtocolError(
                SyncReason.CONNECTION_LOST, str(exc) or type(exc).__name__
            ) from exc

    async def send_error(self, frame: ErrorFrame | None) -> None:
        """Best effort: tell the peer why we drop the session, within CLOSE_TIMEOUT_S."""
        if frame is None:
            return
        with trio.move_on_after(CLOSE_TIMEOUT_S), contextlib.suppress(*_TRANSPORT_ERRORS):
            await self.stream.send_all(encode_frame(frame))

    async def close(self) -> None:
        """Close the stream within CLOSE_TIMEOUT_S, even while the caller is being cancelled."""
        with (
            trio.CancelScope(deadline=trio.current_time() + CLOSE_TIMEOUT_S, shield=True),
            contextlib.suppress(*_TRANSPORT_ERRORS),
        ):
            await self.stream.close()


class _Failing(Protocol):
    """A session state machine: what to tell the peer when the session fails."""

    def fail(self, error: SyncProtocolError) -> ErrorFrame | None: ...


async def fail_session(
    conn: FrameConnection, machine: _Failing, error: SyncProtocolError
) -> SyncFailure:
    """End a failed session, either side: tell the peer why (best effort, within
    ``CLOSE_TIMEOUT_S``) and return the failure to report."""
    await conn.send_error(machine.fail(error))
    return SyncFailure(error.reason, error.detail)
