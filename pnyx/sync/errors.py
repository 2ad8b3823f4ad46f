"""Errors of the sync protocol: why a session was dropped.

``SyncProtocolError`` is a ``RemoteError``: the peer broke the protocol, went silent or went away. A
driver turns it into a ``SyncFailure`` in its summary and never lets it crash the node.
``SyncStateError`` is different: the local driver called a state machine out of order, a bug in
pnyx rather than anything the peer did.
"""

from __future__ import annotations

from enum import StrEnum

from pnyx.errors import RemoteError


class SyncReason(StrEnum):
    """Why a session ended early. The string values are stable (ERROR frames, logs, the spec)."""

    BAD_PREFIX = "bad-prefix"
    """A length prefix is not minimal LEB128 or is longer than MAX_PREFIX_BYTES."""
    FRAME_TOO_LARGE = "frame-too-large"
    """A length prefix announces a body over MAX_FRAME_BYTES (or an empty body)."""
    BAD_FRAME = "bad-frame"
    """A frame body is not canonical msgpack, or a field has the wrong type, range or count."""
    UNKNOWN_FRAME = "unknown-frame"
    """A frame's type tag is not one this version knows."""
    UNEXPECTED_FRAME = "unexpected-frame"
    """A valid frame arrived in a state where the protocol does not allow it."""
    UNSUPPORTED_VERSION = "unsupported-version"
    """HELLO names a version this node does not implement."""
    UNREQUESTED = "unrequested"
    """The responder sent an author or sequence number the requester did not ask for (or twice)."""
    BAD_ENVELOPE = "bad-envelope"
    """An envelope in a BATCH does not even decode, so it cannot be matched to the request."""
    WINDOW_EXCEEDED = "window-exceeded"
    """The responder sent more unacknowledged batches than the requester's window."""
    BAD_ACK = "bad-ack"
    """An ACK does not advance, or acknowledges batches never sent."""
    COUNT_MISMATCH = "count-mismatch"
    """DONE announces a different number of envelopes than the round carried."""
    PEER_ERROR = "peer-error"
    """The peer sent an ERROR frame (its own reason is in the detail)."""
    CLOSED = "closed"
    """The peer closed the stream before the session ended."""
    CONNECTION_LOST = "connection-lost"
    """The stream broke (reset, transport failure)."""
    IDLE_TIMEOUT = "idle-timeout"
    """The peer sent nothing, or accepted nothing, for IDLE_TIMEOUT_S."""
    SESSION_TIMEOUT = "session-timeout"
    """The session ran longer than SESSION_TIMEOUT_S."""
    BUSY = "busy"
    """The responder refuses to serve now (the peer is over its serve budget, no slot is free, or
    the session was preempted); the detail says ``retry after S s``. Not a violation."""


class SyncProtocolError(RemoteError):
    """The peer broke the sync protocol (or the connection failed); the session must be dropped.

    ``reason`` says which rule; ``detail`` is a short human explanation.
    """

    def __init__(self, reason: SyncReason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class SyncStateError(RuntimeError):
    """A state machine method was called in a state that does not allow it (a local bug)."""
