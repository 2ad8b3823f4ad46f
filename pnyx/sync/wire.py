"""Framing of the sync stream (sans-I/O): ``uvarint(len(body)) || body``.

``body`` is one canonical msgpack map (see ``pnyx.sync.frames``). The prefix is unsigned LEB128
(pnyx.core.varint): minimal form, at most MAX_PREFIX_BYTES bytes, announcing 1..MAX_FRAME_BYTES.
A decoder rejects an oversized prefix as soon as the bytes read so far already exceed the limit, so
it never waits for, buffers or allocates the claimed size.
"""

from __future__ import annotations

from pnyx.core import canonical
from pnyx.core.reasons import InvalidMessage
from pnyx.core.varint import encode_uvarint
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import Frame, from_body, to_body
from pnyx.sync.limits import MAX_FRAME_BYTES, MAX_PREFIX_BYTES


def encode_frame(frame: Frame) -> bytes:
    """The bytes of ``frame`` on the wire. Raises ``ValueError`` if its body would exceed
    MAX_FRAME_BYTES (a local bug: senders split their data to fit)."""
    body = canonical.pack(to_body(frame))
    if len(body) > MAX_FRAME_BYTES:
        raise ValueError(f"frame body is {len(body)} bytes, limit {MAX_FRAME_BYTES}")
    return encode_uvarint(len(body)) + body


def decode_body(body: bytes) -> Frame:
    """Decode one frame body (without its prefix). Raises ``SyncProtocolError`` only."""
    try:
        value = canonical.unpack_exact(body)
    except InvalidMessage as exc:
        raise SyncProtocolError(SyncReason.BAD_FRAME, str(exc)) from None
    return from_body(value)


class FrameDecoder:
    """Incremental frame parser: feed bytes as they arrive, get complete frames back.

    Holds at most one partial frame (prefix + at most MAX_FRAME_BYTES) plus the unparsed rest of
    the last ``feed``. After it raises, the decoder is broken: every later ``feed`` raises again.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._body_size: int | None = None
        self._error: SyncProtocolError | None = None

    @property
    def mid_frame(self) -> bool:
        """True if part of a frame has arrived but not all of it (EOF now would cut a frame)."""
        return bool(self._buffer) or self._body_size is not None

    @property
    def buffered_bytes(self) -> int:
        """Bytes held that are not yet part of a returned frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add ``data``; return every frame it completes, in order.

        Raises ``SyncProtocolError`` (BAD_PREFIX, FRAME_TOO_LARGE, BAD_FRAME, UNKNOWN_FRAME).
        """
        if self._error is not None:
            raise self._error
        self._buffer += data
        frames: list[Frame] = []
        position = 0
        try:
            while True:
                if self._body_size is None:
                    prefix = _parse_prefix(self._buffer, position)
                    if prefix is None:
                        break
                    self._body_size, position = prefix
                end = position + self._body_size
                if end > len(self._buffer):
                    break
                frames.append(decode_body(bytes(self._buffer[position:end])))
                self._body_size = None
                position = end
        except SyncProtocolError as exc:
            self._error = exc
            self._buffer.clear()
            raise
        del self._buffer[:position]
        return frames


def _parse_prefix(buffer: bytearray, start: int) -> tuple[int, int] | None:
    """``(body_size, body_start)``, or None if the prefix is not complete yet."""
    value = 0
    for index in range(MAX_PREFIX_BYTES):
        position = start + index
        if position >= len(buffer):
            return None
        byte = buffer[position]
        value |= (byte & 0x7F) << (7 * index)
        if value > MAX_FRAME_BYTES:
            raise SyncProtocolError(
                SyncReason.FRAME_TOO_LARGE, f"frame announces more than {MAX_FRAME_BYTES} bytes"
            )
        if not byte & 0x80:
            if byte == 0 and index > 0:
                raise SyncProtocolError(SyncReason.BAD_PREFIX, "non-minimal length prefix")
            if value == 0:
                raise SyncProtocolError(SyncReason.BAD_FRAME, "empty frame body")
            return value, position + 1
    raise SyncProtocolError(SyncReason.BAD_PREFIX, f"length prefix over {MAX_PREFIX_BYTES} bytes")
