"""libp2p streams as ``pnyx.net.contracts.ByteStream``: bytes in, bytes out, pnyx errors."""

from __future__ import annotations

import logging

import trio
from libp2p.abc import INetStream
from libp2p.network.stream.exceptions import StreamClosed, StreamEOF, StreamError, StreamReset

from pnyx.net.errors import StreamClosedError

log = logging.getLogger(__name__)

#: How long closing or resetting a stream may take, in seconds (a stalled peer cannot hold us).
CLOSE_TIMEOUT_S = 2.0

_BROKEN = (StreamClosed, StreamReset, StreamError, trio.BrokenResourceError, OSError)


class Libp2pStream:
    """A ``ByteStream`` over one libp2p stream (yamux)."""

    def __init__(self, stream: INetStream) -> None:
        self._stream = stream
        self._eof = False

    async def receive_some(self, max_bytes: int) -> bytes:
        if self._eof:
            return b""
        try:
            data = await self._stream.read(max_bytes)
        except StreamEOF:
            self._eof = True
            return b""
        except _BROKEN as exc:
            raise StreamClosedError(f"stream broke: {exc.__class__.__name__}") from None
        if not data:
            self._eof = True
        return bytes(data)

    async def send_all(self, data: bytes) -> None:
        try:
            await self._stream.write(data)
        except _BROKEN as exc:
            raise StreamClosedError(f"stream broke: {exc.__class__.__name__}") from None

    async def send_eof(self) -> None:
        try:
            with trio.fail_after(CLOSE_TIMEOUT_S):
                await self._stream.close_write()  # type: ignore[attr-defined]
        except (*_BROKEN, trio.TooSlowError) as exc:
            raise StreamClosedError(f"stream broke: {exc.__class__.__name__}") from None

    async def close(self) -> None:
        with trio.move_on_after(CLOSE_TIMEOUT_S) as scope:
            try:
                await self._stream.close()
            except _BROKEN as exc:
                log.debug("closing a broken stream: %r", exc)
        if scope.cancelled_caught:
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                try:
                    await self._stream.reset()
                except _BROKEN as exc:
                    log.debug("resetting a stalled stream: %r", exc)
