"""The responder side of a sync session as a sans-I/O state machine (no trio, no sockets).

The driver hands it every frame from the requester (``receive`` returns an event or raises
``SyncProtocolError``) and asks it for frames to send: for each round ``have(heads)``, then
``batch(envelopes)`` only while ``credit > 0`` (flow control), then ``done()``. ``plan_reads`` says
which seq ranges of the store to read for one WANT entry (only what the requester lacks), and
``BatchPacker`` groups envelopes into BATCH frames that respect both batch limits.

States::

    AWAIT_HELLO --hello--> READY --want--> SERVING --done()--> READY --bye--> CLOSED
    ACK frames are accepted in READY and SERVING; any violation or ERROR frame --> FAILED
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from pnyx.core.limits import MAX_ENVELOPE_BYTES
from pnyx.sync.errors import SyncProtocolError, SyncReason, SyncStateError
from pnyx.sync.frames import (
    Ack,
    Batch,
    Bye,
    Done,
    ErrorFrame,
    Frame,
    Have,
    Head,
    Hello,
    SeqRange,
    Want,
    WantEntry,
)
from pnyx.sync.limits import MAX_BATCH_MESSAGES, MAX_FRAME_BYTES, MAX_INFLIGHT_BATCHES, SYNC_VERSION


class ResponderState(Enum):
    AWAIT_HELLO = "await-hello"
    READY = "ready"
    SERVING = "serving"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SessionStarted:
    window: int


@dataclass(frozen=True, slots=True)
class RoundRequested:
    """Serve these entries: ``have(...)``, batches, ``done()``."""

    entries: tuple[WantEntry, ...]


@dataclass(frozen=True, slots=True)
class Acked:
    total: int


@dataclass(frozen=True, slots=True)
class Finished:
    """The requester said BYE: the session is complete."""


ResponderEvent = SessionStarted | RoundRequested | Acked | Finished


def plan_reads(entry: WantEntry, head: tuple[int, int]) -> list[SeqRange]:
    """The seq ranges to read from the store for ``entry``, given our ``head`` (contiguous,
    highest): the requester's gaps and everything above its highest, cut at our highest."""
    highest = head[1]
    reads = [(first, min(last, highest)) for first, last in entry.gaps if first <= highest]
    if highest > entry.after:
        reads.append((entry.after + 1, highest))
    return reads


def _bin_size(length: int) -> int:
    """Bytes msgpack uses for a bin value of ``length`` bytes (header included)."""
    return length + (2 if length < 2**8 else 3 if length < 2**16 else 5)


def _body_size(count: int, payload: int) -> int:
    """Exact BATCH body size for ``count`` envelopes whose bin encodings total ``payload`` bytes:
    fixmap header, "m", array header, the envelopes, "t", "batch"."""
    return 1 + 2 + (1 if count < 16 else 3) + payload + 2 + 6


def batch_body_size(envelopes: Sequence[bytes]) -> int:
    """Bytes of the body of a BATCH frame holding ``envelopes`` (at most 65535 of them)."""
    return _body_size(len(envelopes), sum(_bin_size(len(raw)) for raw in envelopes))


class BatchPacker:
    """Groups envelopes into batches of at most MAX_BATCH_MESSAGES envelopes whose BATCH frame body
    is at most MAX_FRAME_BYTES. Envelopes over MAX_ENVELOPE_BYTES (a damaged store) are skipped
    and counted in ``skipped``."""

    def __init__(self) -> None:
        self._items: list[bytes] = []
        self._payload = 0
        self.skipped = 0

    def add(self, raw: bytes) -> list[list[bytes]]:
        """Add one envelope; return the batches that are now complete (zero or one)."""
        if not 0 < len(raw) <= MAX_ENVELOPE_BYTES:
            self.skipped += 1
            return []
        out: list[list[bytes]] = []
        size = _bin_size(len(raw))
        if self._items and _body_size(len(self._items) + 1, self._payload + size) > MAX_FRAME_BYTES:
            out.extend(self.flush())
        self._items.append(raw)
        self._payload += size
        if len(self._items) >= MAX_BATCH_MESSAGES:
            out.extend(self.flush())
        return out

    def flush(self) -> list[list[bytes]]:
        """The pending batch, if any."""
        if not self._items:
            return []
        items, self._items, self._payload = self._items, [], 0
        return [items]


class SyncResponder:
    """State machine of the responding side. See the module docstring for the states."""

    def __init__(self) -> None:
        self.state = ResponderState.AWAIT_HELLO
        self.window = 0
        self.rounds = 0
        self.authors_requested = 0
        self.batches_sent = 0
        self.batches_acked = 0
        self.envelopes_sent = 0
        self._round: frozenset[bytes] = frozenset()
        self._have_sent = False
        self._round_count = 0

    @property
    def credit(self) -> int:
        """Batches that may be sent now without exceeding the requester's window."""
        return self.window - (self.batches_sent - self.batches_acked)

    # --- frames received ------------------------------------------------------------------
    def receive(self, frame: Frame) -> ResponderEvent:
        """Process one frame from the requester. Raises ``SyncProtocolError`` (state -> FAILED)."""
        if self.state in (ResponderState.FAILED, ResponderState.CLOSED):
            raise SyncStateError(f"session is {self.state.value}")
        try:
            return self._receive(frame)
        except SyncProtocolError:
            self.state = ResponderState.FAILED
            raise

    def _receive(self, frame: Frame) -> ResponderEvent:
        state = self.state
        if isinstance(frame, ErrorFrame):
            raise SyncProtocolError(SyncReason.PEER_ERROR, f"{frame.reason}: {frame.detail}")
        if isinstance(frame, Hello) and state is ResponderState.AWAIT_HELLO:
            if frame.version != SYNC_VERSION:
                raise SyncProtocolError(
                    SyncReason.UNSUPPORTED_VERSION, f"version {frame.version}, want {SYNC_VERSION}"
                )
            if not 1 <= frame.window <= MAX_INFLIGHT_BATCHES:
                raise SyncProtocolError(
                    SyncReason.BAD_FRAME, f"window {frame.window} outside 1..{MAX_INFLIGHT_BATCHES}"
                )
            self.window = frame.window
            self.state = ResponderState.READY
            return SessionStarted(frame.window)
        if isinstance(frame, Want) and state is ResponderState.READY:
            self._round = frozenset(entry.author for entry in frame.entries)
            self._have_sent = False
            self._round_count = 0
            self.rounds += 1
            self.authors_requested += len(frame.entries)
            self.state = ResponderState.SERVING
            return RoundRequested(frame.entries)
        if isinstance(frame, Ack) and state in (ResponderState.READY, ResponderState.SERVING):
            if not self.batches_acked < frame.total <= self.batches_sent:
                raise SyncProtocolError(
                    SyncReason.BAD_ACK,
                    f"ack {frame.total} after {self.batches_acked}, {self.batches_sent} sent",
                )
            self.batches_acked = frame.total
            return Acked(frame.total)
        if isinstance(frame, Bye) and state is ResponderState.READY:
            self.state = ResponderState.CLOSED
            return Finished()
        raise SyncProtocolError(
            SyncReason.UNEXPECTED_FRAME, f"{type(frame).__name__} frame in state {state.value}"
        )

    # --- frames to send -------------------------------------------------------------------
    def have(self, heads: Mapping[bytes, tuple[int, int]]) -> Have:
        """Announce our (contiguous, highest) for the round's authors; others in ``heads``, and
        authors with no message, are left out. Must come first in the round."""
        if self.state is not ResponderState.SERVING or self._have_sent:
            raise SyncStateError("have() belongs at the start of a round")
        self._have_sent = True
        return Have(
            tuple(
                Head(author, contiguous, highest)
                for author, (contiguous, highest) in heads.items()
                if author in self._round and highest > 0
            )
        )

    def batch(self, envelopes: Sequence[bytes]) -> Batch:
        """A BATCH frame; only when ``credit > 0`` (wait for ACK frames otherwise)."""
        if self.state is not ResponderState.SERVING or not self._have_sent:
            raise SyncStateError("batch() belongs between have() and done()")
        if self.credit <= 0:
            raise SyncStateError("no credit: wait for an ack")
        if not 1 <= len(envelopes) <= MAX_BATCH_MESSAGES:
            raise ValueError(f"a batch holds 1..{MAX_BATCH_MESSAGES} envelopes")
        self.batches_sent += 1
        self.envelopes_sent += len(envelopes)
        self._round_count += len(envelopes)
        return Batch(tuple(envelopes))

    def done(self) -> Done:
        if self.state is not ResponderState.SERVING or not self._have_sent:
            raise SyncStateError("done() ends a round after have()")
        self.state = ResponderState.READY
        return Done(self._round_count)

    def fail(self, error: SyncProtocolError) -> ErrorFrame | None:
        """Enter FAILED; return the ERROR frame to send, or None when there is no point."""
        self.state = ResponderState.FAILED
        if error.reason in (SyncReason.PEER_ERROR, SyncReason.CLOSED, SyncReason.CONNECTION_LOST):
            return None
        return ErrorFrame(error.reason.value, error.detail)
