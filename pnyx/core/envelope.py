"""Signed envelopes: encode, decode, sign and verify pnyx messages (sans-I/O).

Wire form of one message (docs/protocol.md, "Envelope")::

    envelope  = signature (64 bytes) || payload
    payload   = canonical msgpack array [version, author, seq, prev, ts, kind, body]
    signature = Ed25519(author's key, SIGNATURE_DOMAIN || payload)
    id        = BLAKE2b-256(payload)

The envelope carries the exact payload bytes that were signed; nothing is re-encoded to verify.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import nacl.bindings
import nacl.exceptions
import nacl.signing

from pnyx.core import canonical
from pnyx.core.display import name_problem
from pnyx.core.kinds import KNOWN_KINDS, PROFILE, Body, check_body, check_kind_name
from pnyx.core.limits import (
    ID_BYTES,
    KEY_BYTES,
    MAX_ENVELOPE_BYTES,
    MAX_FUTURE_SKEW_MS,
    MAX_SEQ,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    PROTOCOL_VERSION,
    SIGNATURE_BYTES,
    SIGNATURE_DOMAIN,
)
from pnyx.core.reasons import InvalidMessage, Reason

_PAYLOAD_FIELDS = 7


#: Payload head of every version-1 envelope, byte for byte: fixarray(7), version 1 (fixint), and
#: the bin8 marker and 32-byte length of the author key that follows (docs/protocol.md, "Payload").
PAYLOAD_HEAD: Final = b"\x97\x01\xc4\x20"
#: Offset of the author key in a version-1 envelope, in bytes.
AUTHOR_OFFSET: Final = SIGNATURE_BYTES + len(PAYLOAD_HEAD)


def author_of(raw: bytes) -> bytes | None:
    """The author key of an envelope read straight from its bytes, without decoding it (for
    rate limits before any check), or None when ``raw`` does not start like a version-1
    envelope. Says nothing about validity: the envelope may still be rejected."""
    if raw[SIGNATURE_BYTES:AUTHOR_OFFSET] != PAYLOAD_HEAD or len(raw) < AUTHOR_OFFSET + KEY_BYTES:
        return None
    return raw[AUTHOR_OFFSET : AUTHOR_OFFSET + KEY_BYTES]


def message_id(payload: bytes) -> bytes:
    """The id of the message whose payload is ``payload``: BLAKE2b with a 32-byte digest."""
    return hashlib.blake2b(payload, digest_size=ID_BYTES).digest()


class Message:
    """A decoded message. ``raw`` is the envelope exactly as received (signature then payload).

    Immutable by contract (nothing in pnyx assigns to a message after ``decode``). A plain slotted
    class rather than a frozen dataclass: a frozen dataclass sets each field through
    ``object.__setattr__``, which cost 0.7 us of the ~6 us decode of every ingested message
    (docs/performance.md). Two messages are equal when their envelopes are the same bytes.
    """

    __slots__ = ("author", "body", "id", "kind", "prev", "raw", "seq", "ts")

    def __init__(
        self,
        id: bytes,
        author: bytes,
        seq: int,
        prev: bytes | None,
        ts: int,
        kind: str,
        body: Body,
        raw: bytes,
    ) -> None:
        self.id: Final = id
        self.author: Final = author
        self.seq: Final = seq
        self.prev: Final = prev
        self.ts: Final = ts
        self.kind: Final = kind
        self.body: Final = body
        self.raw: Final = raw

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return (
            f"Message(id={self.id.hex()[:16]}..., author={self.author.hex()[:16]}..., "
            f"seq={self.seq}, ts={self.ts}, kind={self.kind!r})"
        )

    @property
    def signature(self) -> bytes:
        return self.raw[:SIGNATURE_BYTES]

    @property
    def payload(self) -> bytes:
        return self.raw[SIGNATURE_BYTES:]

    @property
    def text(self) -> str | None:
        """The post text, if this message carries one."""
        value = self.body.get("text")
        return value if isinstance(value, str) else None


def decode(raw: bytes) -> Message:
    """Decode and structurally check an envelope, without the signature or the clock.

    Checks size, canonical encoding, field types and ranges, the kind name and the body schema.
    Raises ``InvalidMessage`` with the first rule broken; never any other exception.
    """
    if not isinstance(raw, bytes):
        raise InvalidMessage(Reason.MALFORMED, "envelope must be bytes")
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise InvalidMessage(
            Reason.OVERSIZED, f"envelope is {len(raw)} bytes, limit {MAX_ENVELOPE_BYTES}"
        )
    if len(raw) <= SIGNATURE_BYTES:
        raise InvalidMessage(Reason.MALFORMED, "envelope shorter than a signature and a payload")
    payload = raw[SIGNATURE_BYTES:]
    fields = canonical.unpack_exact(payload)
    if not isinstance(fields, list) or len(fields) != _PAYLOAD_FIELDS:
        raise InvalidMessage(Reason.MALFORMED, f"payload must be an array of {_PAYLOAD_FIELDS}")
    version, author, seq, prev, ts, kind, body = fields
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise InvalidMessage(Reason.UNSUPPORTED_VERSION, f"version {version!r}")
    if not isinstance(author, bytes) or len(author) != KEY_BYTES:
        raise InvalidMessage(Reason.MALFORMED, "author must be a 32-byte key")
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        raise InvalidMessage(Reason.BAD_SEQUENCE, f"sequence {seq!r} outside 1..{MAX_SEQ}")
    if seq == 1:
        if prev is not None:
            raise InvalidMessage(Reason.BAD_PREVIOUS, "the first message has no previous id")
    elif not isinstance(prev, bytes) or len(prev) != ID_BYTES:
        raise InvalidMessage(Reason.BAD_PREVIOUS, "previous id must be 32 bytes")
    if type(ts) is not int or not MIN_TIMESTAMP_MS <= ts <= MAX_TIMESTAMP_MS:
        raise InvalidMessage(Reason.BAD_TIMESTAMP, f"timestamp {ts!r} out of range")
    if type(kind) is not str or kind not in KNOWN_KINDS:  # known names are well-formed
        check_kind_name(kind)
    check_body(kind, body)
    return Message(message_id(payload), author, seq, prev, ts, kind, body, raw)


def check_clock(message: Message, now_ms: int) -> None:
    """Reject a message dated more than ``MAX_FUTURE_SKEW_MS`` after ``now_ms``."""
    ahead = message.ts - now_ms
    if ahead > MAX_FUTURE_SKEW_MS:
        raise InvalidMessage(
            Reason.FUTURE_TIMESTAMP,
            f"dated {ahead // 1000} s ahead of this clock, limit {MAX_FUTURE_SKEW_MS // 1000} s",
        )


def verify(message: Message) -> None:
    """Check the signature over ``SIGNATURE_DOMAIN || payload``; raise BAD_SIGNATURE if it fails.

    libsodium rejects non-canonical signatures and small-order keys, so a message has one author.
    """
    raw = message.raw
    signed = raw[:SIGNATURE_BYTES] + SIGNATURE_DOMAIN + raw[SIGNATURE_BYTES:]
    try:
        nacl.bindings.crypto_sign_open(signed, message.author)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        raise InvalidMessage(Reason.BAD_SIGNATURE, "signature does not verify") from None


def validate(raw: bytes, now_ms: int) -> Message:
    """Everything that can be checked about one envelope alone: ``decode``, clock, signature.

    Cheap checks run first; the signature (the expensive step) last. Chain rules, which need the
    author's other messages, are in ``pnyx.core.chain``.
    """
    message = decode(raw)
    check_names(message)
    check_clock(message, now_ms)
    verify(message)
    return message


def check_names(message: Message) -> None:
    """Reject a profile whose ``name`` holds a control, bidi, zero-width or other invisible
    character (``FORBIDDEN_CHARACTER``; the set is ``pnyx.core.display.UNSAFE_RANGES``).

    Not part of ``decode`` on purpose: this rule came after the first release, so envelopes
    stored before it must still decode (chain checks, sync serving, republishing read them).
    ``validate`` and ``sign`` apply it: nothing new that breaks it is stored, forwarded or signed.
    """
    if message.kind != PROFILE:
        return
    name = message.body.get("name")
    if isinstance(name, str) and (problem := name_problem(name)) is not None:
        raise InvalidMessage(Reason.FORBIDDEN_CHARACTER, f"field 'name' has {problem}")


def sign(
    key: nacl.signing.SigningKey,
    *,
    seq: int,
    prev: bytes | None,
    ts: int,
    kind: str,
    body: dict[str, Any],
) -> Message:
    """Create and sign a message. Raises ``InvalidMessage`` if the result would be invalid
    (for example text over the limit), so a node never signs what others would reject."""
    author = bytes(key.verify_key)
    try:
        payload = canonical.pack([PROTOCOL_VERSION, author, seq, prev, ts, kind, body])
    except ValueError as exc:
        raise InvalidMessage(Reason.MALFORMED, str(exc)) from None
    signature = key.sign(SIGNATURE_DOMAIN + payload).signature
    message = decode(signature + payload)
    check_names(message)
    return message
