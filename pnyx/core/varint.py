"""Unsigned LEB128 varints, the length prefix of pnyx's framed formats (sans-I/O).

Rules: 7 bits per byte, least significant group first, high bit set on every byte but the last;
at most ``MAX_VARINT_BYTES`` bytes; the minimal form only (no trailing 0x80 0x00 padding).
"""

from __future__ import annotations

#: Longest varint accepted, in bytes (enough for any 64-bit value).
MAX_VARINT_BYTES = 10


class VarintError(ValueError):
    """The bytes are not a minimal varint of at most ``MAX_VARINT_BYTES`` bytes."""


def encode_uvarint(value: int) -> bytes:
    """Encode a non-negative integer below 2**64."""
    if not 0 <= value < 2**64:
        raise ValueError("varint value out of range")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_uvarint(data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int] | None:
    """Decode a varint at ``offset``: ``(value, next_offset)``, or None if ``data`` ends first.

    Raises ``VarintError`` for an over-long or non-minimal varint.
    """
    value = 0
    shift = 0
    for index in range(MAX_VARINT_BYTES):
        position = offset + index
        if position >= len(data):
            return None
        byte = data[position]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and index > 0:
                raise VarintError("non-minimal varint")
            if value >= 2**64:
                raise VarintError("varint exceeds 64 bits")
            return value, position + 1
        shift += 7
    raise VarintError(f"varint longer than {MAX_VARINT_BYTES} bytes")
