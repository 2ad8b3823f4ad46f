"""``TrioStream``: the ``ByteStream`` contract (``pnyx.net.contracts``) over any trio stream.

In-memory streams (``pnyx.net.memnet``, the sync tests) and any other ``trio.abc.Stream`` get the
one error contract every ``ByteStream`` has: a broken or closed stream raises
``StreamClosedError`` (a ``RemoteError``), never trio's own exceptions.
"""

from __future__ import annotations

import trio

from pnyx.net.errors import StreamClosedError

#: What trio streams raise when the other side is gone or the stream was closed.
_BROKEN = (trio.BrokenResourceError, trio.ClosedResourceError)


class TrioStream:
    """A ``ByteStream`` over ``stream`` (kept as ``.stream`` for tests that need the raw one)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream

    async def receive_some(self, max_bytes: int) -> bytes:
        try:
            return bytes(await self.stream.receive_some(max_bytes))
        except _BROKEN as exc:
            raise StreamClosedError(f"stream broke: {exc}") from None

    async def send_all(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except _BROKEN as exc:
            raise StreamClosedError(f"stream broke: {exc}") from None

    async def send_eof(self) -> None:
        """Close the sending half; a stream that cannot half-close is closed whole."""
        try:
            if isinstance(self.stream, trio.abc.HalfCloseableStream):
                await self.stream.send_eof()
            else:
                await self.stream.aclose()
        except _BROKEN as exc:
            raise StreamClosedError(f"stream broke: {exc}") from None

    async def close(self) -> None:
        await self.stream.aclose()
