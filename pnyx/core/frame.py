"""Gossip frames: the pubsub payload that carries a batch of signed envelopes (sans-I/O).

Wire form (docs/architecture.md, "Gossip")::

    frame = canonical msgpack [FRAME_VERSION, [envelope, envelope, ...]]

A frame holds 1..``MAX_GOSSIP_BATCH_MESSAGES`` envelopes and is at most ``MAX_GOSSIP_FRAME_BYTES``
long. Its gossip message id is ``frame_id(frame)`` = BLAKE2b-256 of the frame bytes, so the same
frame relayed by many peers is recognised as one message.

A frame is valid only if every envelope in it is valid on its own (``pnyx.core.envelope.validate``:
structure, limits, clock, signature) and the envelopes agree with each other (no two different
messages by one author with the same seq, no repeated envelope, and seq n+1 points at seq n when
both are present). An invalid frame is dropped whole: neither stored nor forwarded.

Nothing here imports trio, libp2p or sqlite3.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pnyx.core import canonical
from pnyx.core.envelope import Message, message_id, validate
from pnyx.core.limits import MAX_ENVELOPE_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

#: Version carried as the first element of every frame.
FRAME_VERSION = 1
#: Most envelopes one frame may carry, a count.
MAX_GOSSIP_BATCH_MESSAGES = 512
#: Largest frame, in bytes (well under gossipsub's 1 MiB limit, above which py-libp2p drops
#: messages without a word).
MAX_GOSSIP_FRAME_BYTES = 256 * 1024

#: Bytes of the frame's fixed head: the outer 2-array marker and the version integer.
_HEAD_BYTES = 2


def frame_id(frame: bytes) -> bytes:
    """The gossip message id of a frame: BLAKE2b-256 of its bytes."""
    return message_id(frame)


def _array_header_bytes(count: int) -> int:
    return 1 if count < 16 else 3 if count < 2**16 else 5


def _bin_header_bytes(size: int) -> int:
    return 2 if size < 2**8 else 3 if size < 2**16 else 5


def frame_size(envelope_sizes: Sequence[int]) -> int:
    """The exact size in bytes of the frame that would carry envelopes of these sizes."""
    body = sum(size + _bin_header_bytes(size) for size in envelope_sizes)
    return _HEAD_BYTES + _array_header_bytes(len(envelope_sizes)) + body


def encode_frame(envelopes: Sequence[bytes]) -> bytes:
    """Encode one frame. Raises ``ValueError`` if it would break a frame limit (empty, too many
    envelopes, too many bytes, an envelope out of range): callers split with ``pack_frames``."""
    if not 0 < len(envelopes) <= MAX_GOSSIP_BATCH_MESSAGES:
        raise ValueError(f"a frame carries 1..{MAX_GOSSIP_BATCH_MESSAGES} envelopes")
    for envelope in envelopes:
        if not 0 < len(envelope) <= MAX_ENVELOPE_BYTES:
            raise ValueError("envelope size out of range")
    if frame_size([len(e) for e in envelopes]) > MAX_GOSSIP_FRAME_BYTES:
        raise ValueError(f"frame larger than {MAX_GOSSIP_FRAME_BYTES} bytes")
    return canonical.pack([FRAME_VERSION, list(envelopes)])


def pack_frames(envelopes: Iterable[bytes]) -> list[bytes]:
    """Split envelopes, in order, into as few frames as the limits allow (linear time).

    Envelopes larger than ``MAX_ENVELOPE_BYTES`` (never produced by a valid store) raise
    ``ValueError``.
    """
    frames: list[bytes] = []
    batch: list[bytes] = []
    body = 0  # bytes of the batch's envelopes with their bin headers
    for envelope in envelopes:
        size = len(envelope)
        if not 0 < size <= MAX_ENVELOPE_BYTES:
            raise ValueError("envelope size out of range")
        item = size + _bin_header_bytes(size)
        if batch and (
            len(batch) >= MAX_GOSSIP_BATCH_MESSAGES
            or _HEAD_BYTES + _array_header_bytes(len(batch) + 1) + body + item
            > MAX_GOSSIP_FRAME_BYTES
        ):
            frames.append(encode_frame(batch))
            batch, body = [], 0
        batch.append(envelope)
        body += item
    if batch:
        frames.append(encode_frame(batch))
    return frames


def decode_frame(frame: bytes) -> list[bytes]:
    """The envelopes of a frame, checking only the frame's own structure and limits.

    Raises ``InvalidMessage`` (OVERSIZED, MALFORMED, NON_CANONICAL, TRAILING_BYTES,
    UNSUPPORTED_VERSION); never any other exception.
    """
    if not isinstance(frame, bytes):
        raise InvalidMessage(Reason.MALFORMED, "frame must be bytes")
    if len(frame) > MAX_GOSSIP_FRAME_BYTES:
        raise InvalidMessage(
            Reason.OVERSIZED, f"frame is {len(frame)} bytes, limit {MAX_GOSSIP_FRAME_BYTES}"
        )
    value = canonical.unpack_exact(frame)
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidMessage(Reason.MALFORMED, "a frame is an array [version, envelopes]")
    version, envelopes = value
    if type(version) is not int or version != FRAME_VERSION:
        raise InvalidMessage(Reason.UNSUPPORTED_VERSION, f"frame version {version!r}")
    if not isinstance(envelopes, list) or not envelopes:
        raise InvalidMessage(Reason.MALFORMED, "a frame carries a non-empty array of envelopes")
    if len(envelopes) > MAX_GOSSIP_BATCH_MESSAGES:
        raise InvalidMessage(
            Reason.OVERSIZED,
            f"frame carries {len(envelopes)} envelopes, limit {MAX_GOSSIP_BATCH_MESSAGES}",
        )
    for envelope in envelopes:
        if not isinstance(envelope, bytes):
            raise InvalidMessage(Reason.MALFORMED, "each envelope is a byte string")
    return envelopes


def check_consistency(messages: Sequence[Message]) -> None:
    """Check that the messages of one frame agree with each other (chain rules within the frame).

    Raises ``InvalidMessage``: MALFORMED for a repeated envelope, FORK for two different messages
    with one author and seq, BROKEN_CHAIN when seq n+1's previous id is not seq n's id.
    """
    by_position: dict[tuple[bytes, int], Message] = {}
    for message in messages:
        key = (message.author, message.seq)
        held = by_position.get(key)
        if held is not None:
            if held.id == message.id:
                raise InvalidMessage(Reason.MALFORMED, "the frame repeats an envelope")
            raise InvalidMessage(Reason.FORK, f"two messages at seq {message.seq} of one author")
        by_position[key] = message
    for (author, seq), message in by_position.items():
        before = by_position.get((author, seq - 1))
        if before is not None and message.prev != before.id:
            raise InvalidMessage(
                Reason.BROKEN_CHAIN, f"seq {seq} does not point at seq {seq - 1} of the frame"
            )


def validate_frame(frame: bytes, now_ms: int) -> list[Message]:
    """Decode a frame and validate every envelope in it: the whole frame or nothing.

    CPU-heavy (one Ed25519 verification per envelope): async callers run it in a worker thread.
    Raises ``InvalidMessage`` with the first rule broken (the detail names the envelope's index).
    """
    envelopes = decode_frame(frame)
    messages: list[Message] = []
    for index, raw in enumerate(envelopes):
        try:
            messages.append(validate(raw, now_ms))
        except InvalidMessage as exc:
            detail = f"envelope {index}: {exc.detail}" if exc.detail else f"envelope {index}"
            raise InvalidMessage(exc.reason, detail) from None
    check_consistency(messages)
    return messages
