"""Why a message was rejected: one precise reason for every rejection."""

from __future__ import annotations

from enum import StrEnum

from pnyx.errors import RemoteError


class Reason(StrEnum):
    """Rejection reasons. The string values are stable: they appear in logs, JSON and the spec."""

    MALFORMED = "malformed"
    """The bytes are not the msgpack structure the spec requires (wrong type, wrong field count)."""
    TRAILING_BYTES = "trailing-bytes"
    """Bytes follow the payload's single msgpack value."""
    NON_CANONICAL = "non-canonical"
    """The payload decodes but is not in canonical encoding (unsorted keys, long int forms, ...)."""
    OVERSIZED = "oversized"
    """The envelope or one of its fields exceeds a size limit."""
    UNSUPPORTED_VERSION = "unsupported-version"
    """The payload's version field is not one this node implements."""
    BAD_SEQUENCE = "bad-sequence"
    """The sequence number is below 1 or above the maximum."""
    BAD_PREVIOUS = "bad-previous"
    """The previous-id field is missing for seq > 1, present for seq 1, or not 32 bytes."""
    BAD_TIMESTAMP = "bad-timestamp"
    """The timestamp is before the protocol's epoch or beyond the representable range."""
    FUTURE_TIMESTAMP = "future-timestamp"
    """The timestamp runs ahead of the receiver's clock by more than the allowed skew."""
    BAD_KIND = "bad-kind"
    """The kind name is empty, too long or uses characters outside [a-z0-9_-]."""
    WRONG_BODY = "wrong-body"
    """The body does not match its kind's schema (missing or mistyped field)."""
    FORBIDDEN_CHARACTER = "forbidden-character"
    """A profile name holds a control, format (bidi, zero-width), line-separator or invisible
    filler character (pnyx.core.display.UNSAFE_RANGES). Checked by ``validate``, not ``decode``."""
    BAD_SIGNATURE = "bad-signature"
    """The signature does not verify under the author's key (or the key is not a valid point)."""
    BROKEN_CHAIN = "broken-chain"
    """The message's previous-id does not match the stored message before it, or the stored
    message after it does not point to it."""
    FORK = "fork"
    """Another message with the same author and sequence number is already stored."""
    SEQ_TOO_FAR = "seq-too-far"
    """The sequence number lies more than ``MAX_SEQ_AHEAD`` beyond the author's contiguous head
    held by the receiver: not stored (a store rule, like ``fork``; the sender is not penalised)."""


class InvalidMessage(RemoteError):
    """A message broke a rule of the protocol.

    ``reason`` says which rule; ``detail`` is a short human explanation. The message must be dropped
    (neither stored nor forwarded); the sender may lose standing.
    """

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
