"""Export files ("bundles"): signed messages carried between machines with no network (sans-I/O).

Layout (docs/protocol.md, "Export files")::

    file    = MAGIC record* trailer
    record  = uvarint(len(envelope)) envelope          ; 1 <= len <= MAX_ENVELOPE_BYTES
    trailer = 0x00 canonical-msgpack {"count": N, "digest": BLAKE2b-256 of every record's bytes}

The trailer lets a reader tell a complete file from one cut at a record boundary. Each envelope is
verified on import like any message from a peer; a damaged file yields every intact message before
the damage plus a precise description of what is wrong, and never an exception of another kind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pnyx.core import canonical
from pnyx.core.limits import ID_BYTES, MAX_ENVELOPE_BYTES
from pnyx.core.reasons import InvalidMessage
from pnyx.core.varint import VarintError, decode_uvarint, encode_uvarint

#: First bytes of every export file, version included.
MAGIC = b"pnyx-export/1\n"
#: Largest trailer, in bytes.
MAX_TRAILER_BYTES = 128

#: "Make at least this many bytes available in the buffer; False at end of file."
_Fill = Callable[[int], bool]


class BundleWriter:
    """Builds an export file piece by piece: ``header()``, ``record(env)``..., ``trailer()``."""

    def __init__(self) -> None:
        self._digest = hashlib.blake2b(digest_size=ID_BYTES)
        self.count = 0

    def header(self) -> bytes:
        return MAGIC

    def record(self, envelope: bytes) -> bytes:
        if not 0 < len(envelope) <= MAX_ENVELOPE_BYTES:
            raise ValueError("envelope size out of range")
        data = encode_uvarint(len(envelope)) + envelope
        self._digest.update(data)
        self.count += 1
        return data

    def trailer(self) -> bytes:
        return b"\x00" + canonical.pack({"count": self.count, "digest": self._digest.digest()})


@dataclass(frozen=True, slots=True)
class Damage:
    """Why reading stopped early: a description and the byte offset where the damage starts."""

    offset: int
    problem: str


def read_bundle(chunks: Iterable[bytes]) -> Iterator[bytes | Damage]:
    """Yield each envelope of an export file in order, then a ``Damage`` if the file is damaged.

    A complete, intact file yields only envelopes. Envelopes are NOT validated here (the caller's
    ingest does that); this only checks the file's structure, record sizes and the trailer.
    """
    buffer = bytearray()
    consumed = 0  # bytes of the file dropped from the front of ``buffer``
    source = iter(chunks)
    digest = hashlib.blake2b(digest_size=ID_BYTES)
    count = 0

    def fill(need: int) -> bool:
        while len(buffer) < need:
            chunk = next(source, None)
            if chunk is None:
                return False
            buffer.extend(chunk)
        return True

    if not fill(len(MAGIC)) or bytes(buffer[: len(MAGIC)]) != MAGIC:
        yield Damage(0, "not a pnyx export file (bad header)")
        return
    del buffer[: len(MAGIC)]
    consumed = len(MAGIC)
    while True:
        if not fill(1):
            yield Damage(consumed, f"file ends after {count} messages without its trailer")
            return
        try:
            head = _read_varint(buffer, fill)
        except VarintError as exc:
            yield Damage(consumed, f"bad record length: {exc}")
            return
        if head is None:
            yield Damage(consumed, "file ends inside a record length")
            return
        size, start = head
        if size == 0:
            yield from _check_trailer(buffer, start, consumed, fill, count, digest.digest())
            return
        if size > MAX_ENVELOPE_BYTES:
            yield Damage(consumed, f"record of {size} bytes exceeds {MAX_ENVELOPE_BYTES}")
            return
        if not fill(start + size):
            yield Damage(consumed, f"file ends inside record {count + 1}")
            return
        record = bytes(buffer[: start + size])
        digest.update(record)
        count += 1
        yield record[start:]
        del buffer[: start + size]
        consumed += start + size


def _read_varint(buffer: bytearray, fill: _Fill) -> tuple[int, int] | None:
    for need in range(1, 11):
        if not fill(need):
            return None
        decoded = decode_uvarint(buffer)
        if decoded is not None:
            return decoded
    return decode_uvarint(buffer)


def _check_trailer(
    buffer: bytearray, start: int, offset: int, fill: _Fill, count: int, digest: bytes
) -> Iterator[Damage]:
    while True:  # the size is checked whether the trailer came in one chunk or byte by byte
        if len(buffer) - start > MAX_TRAILER_BYTES:
            yield Damage(offset, "trailer too long or data after the trailer")
            return
        if not fill(len(buffer) + 1):
            break
    try:
        trailer = canonical.unpack_exact(bytes(buffer[start:]))
    except InvalidMessage as exc:
        yield Damage(offset, f"damaged trailer ({exc.reason.value})")
        return
    if not isinstance(trailer, dict):
        yield Damage(offset, "damaged trailer (not a map)")
        return
    # ``count`` is a msgpack int: ``true`` is not 1 (Python's True == 1 must not pass).
    if type(trailer.get("count")) is not int or trailer["count"] != count:
        yield Damage(offset, f"trailer does not match: {count} messages read")
    elif trailer.get("digest") != digest:
        yield Damage(offset, "checksum does not match: the file was altered")
