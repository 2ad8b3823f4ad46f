"""The requester side of a sync session as a sans-I/O state machine (no trio, no sockets).

The driver asks it for frames to send (``hello``, ``want``, ``ack``, ``bye``) and hands it every
frame received (``receive``), which returns an event or raises ``SyncProtocolError``. It checks
that the responder sends only what was asked: authors of the current round that HAVE announced,
each author's seqs strictly ascending, inside the wanted ranges and not above the announced highest;
no more unacknowledged batches than the window; a DONE count matching what arrived. Signatures and
chain placement are not checked here: the ingest step (the store) validates every envelope.

States::

    IDLE --hello()--> READY --want()--> AWAIT_HAVE --have--> IN_ROUND --done--> READY
    READY --bye()--> CLOSED;   any violation or ERROR frame --> FAILED
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from pnyx.core.envelope import Message, decode
from pnyx.core.limits import KEY_BYTES
from pnyx.core.reasons import InvalidMessage
from pnyx.sync.errors import SyncProtocolError, SyncReason, SyncStateError
from pnyx.sync.frames import (
    Ack,
    Batch,
    Bye,
    Done,
    ErrorFrame,
    Frame,
    Have,
    Hello,
    SeqRange,
    Want,
    WantEntry,
)
from pnyx.sync.limits import MAX_INFLIGHT_BATCHES, MAX_WANT_AUTHORS, MAX_WANT_RANGES, SYNC_VERSION


class RequesterState(Enum):
    IDLE = "idle"
    READY = "ready"
    AWAIT_HAVE = "await-have"
    IN_ROUND = "in-round"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class HaveReceived:
    """The responder's heads for this round; ``expected`` = most envelopes the round can carry
    (exact when the responder holds every seq up to its highest)."""

    heads: dict[bytes, tuple[int, int]]
    expected: int


@dataclass(frozen=True, slots=True)
class BatchReceived:
    """Envelopes to ingest, then acknowledge with ``ack()``."""

    envelopes: list[bytes]
    authors: frozenset[bytes]


@dataclass(frozen=True, slots=True)
class RoundDone:
    """The round is over; ``count`` envelopes were sent in it. Send the next WANT or BYE."""

    count: int


RequesterEvent = HaveReceived | BatchReceived | RoundDone


def want_entry(
    author: bytes, head: tuple[int, int] | None, gaps: Sequence[SeqRange]
) -> tuple[WantEntry, bool]:
    """The WANT entry for ``author`` given our ``head`` (contiguous, highest) and missing ranges.

    Ranges are cleaned to the frame rules (ascending, disjoint, within 1..highest) and cut to the
    first MAX_WANT_RANGES; the second value is True if some were cut (left for a later session).
    """
    if head is None or head[1] <= 0:
        return WantEntry(author, 0), False
    highest = head[1]
    clean: list[SeqRange] = []
    floor = 0
    for gap_first, gap_last in sorted(gaps):
        first, last = max(gap_first, floor + 1), min(gap_last, highest)
        if first <= last:
            clean.append((first, last))
            floor = last
    return WantEntry(author, highest, tuple(clean[:MAX_WANT_RANGES])), len(clean) > MAX_WANT_RANGES


def expected_count(entry: WantEntry, head: tuple[int, int]) -> int:
    """Most envelopes a responder whose head is ``head`` can send for ``entry``."""
    highest = head[1]
    total = max(0, highest - entry.after)
    for first, last in entry.gaps:
        total += max(0, min(last, highest) - first + 1)
    return total


class _Wanted:
    """Per-author progress within a round."""

    __slots__ = ("after", "gaps", "highest", "index", "last_seq")

    def __init__(self, entry: WantEntry) -> None:
        self.after = entry.after
        self.gaps = entry.gaps
        self.index = 0  # first gap whose end is not below the last seq received
        self.last_seq = 0
        self.highest: int | None = None  # from HAVE; None = responder does not hold the author


class SyncRequester:
    """State machine of the requesting side. See the module docstring for the states."""

    def __init__(self, *, window: int = MAX_INFLIGHT_BATCHES) -> None:
        if not 1 <= window <= MAX_INFLIGHT_BATCHES:
            raise ValueError(f"window must be 1..{MAX_INFLIGHT_BATCHES} batches")
        self.window = window
        self.state = RequesterState.IDLE
        self.peer_heads: dict[bytes, tuple[int, int]] = {}
        self.rounds = 0
        self.batches_received = 0
        self.batches_acked = 0
        self.envelopes_received = 0
        self._round: dict[bytes, _Wanted] = {}
        self._round_count = 0

    # --- frames to send -------------------------------------------------------------------
    def hello(self) -> Hello:
        self._expect_state(RequesterState.IDLE)
        self.state = RequesterState.READY
        return Hello(SYNC_VERSION, self.window)

    def want(self, entries: Sequence[WantEntry]) -> Want:
        """Start a round for 1..MAX_WANT_AUTHORS distinct authors (``ValueError`` otherwise)."""
        self._expect_state(RequesterState.READY)
        if not 1 <= len(entries) <= MAX_WANT_AUTHORS:
            raise ValueError(f"a want lists 1..{MAX_WANT_AUTHORS} authors")
        round_ = {entry.author: _Wanted(entry) for entry in entries}
        if len(round_) != len(entries):
            raise ValueError("an author appears twice in one want")
        if any(len(entry.author) != KEY_BYTES for entry in entries):
            raise ValueError(f"an author is a {KEY_BYTES}-byte key")
        if any(len(entry.gaps) > MAX_WANT_RANGES for entry in entries):
            raise ValueError(f"at most {MAX_WANT_RANGES} ranges per author")
        self._round = round_
        self._round_count = 0
        self.rounds += 1
        self.state = RequesterState.AWAIT_HAVE
        return Want(tuple(entries))

    def ack(self) -> Ack:
        """Acknowledge the oldest batch not yet acknowledged (call once per BatchReceived, after
        its envelopes are stored)."""
        if self.state not in (RequesterState.IN_ROUND, RequesterState.READY):
            raise SyncStateError(f"cannot ack in state {self.state.value}")
        if self.batches_acked >= self.batches_received:
            raise SyncStateError("no batch waits for an ack")
        self.batches_acked += 1
        return Ack(self.batches_acked)

    def bye(self) -> Bye:
        self._expect_state(RequesterState.READY)
        self.state = RequesterState.CLOSED
        return Bye()

    def fail(self, error: SyncProtocolError) -> ErrorFrame | None:
        """Enter FAILED; return the ERROR frame to send the peer, or None when there is no point
        (the peer reported the error itself, or the connection is gone)."""
        self.state = RequesterState.FAILED
        if error.reason in (SyncReason.PEER_ERROR, SyncReason.CLOSED, SyncReason.CONNECTION_LOST):
            return None
        return ErrorFrame(error.reason.value, error.detail)

    # --- frames received ------------------------------------------------------------------
    def receive(self, frame: Frame) -> RequesterEvent:
        """Process one frame from the responder. Raises ``SyncProtocolError`` (state -> FAILED)."""
        if self.state in (RequesterState.FAILED, RequesterState.CLOSED):
            raise SyncStateError(f"session is {self.state.value}")
        try:
            return self._receive(frame)
        except SyncProtocolError:
            self.state = RequesterState.FAILED
            raise

    def _receive(self, frame: Frame) -> RequesterEvent:
        if isinstance(frame, ErrorFrame):
            raise SyncProtocolError(SyncReason.PEER_ERROR, f"{frame.reason}: {frame.detail}")
        if isinstance(frame, Have) and self.state is RequesterState.AWAIT_HAVE:
            return self._have(frame)
        if isinstance(frame, Batch) and self.state is RequesterState.IN_ROUND:
            return self._batch(frame)
        if isinstance(frame, Done) and self.state is RequesterState.IN_ROUND:
            if frame.count != self._round_count:
                raise SyncProtocolError(
                    SyncReason.COUNT_MISMATCH,
                    f"done says {frame.count} envelopes, {self._round_count} arrived",
                )
            self.state = RequesterState.READY
            return RoundDone(frame.count)
        raise SyncProtocolError(
            SyncReason.UNEXPECTED_FRAME,
            f"{type(frame).__name__} frame in state {self.state.value}",
        )

    def _have(self, frame: Have) -> HaveReceived:
        heads: dict[bytes, tuple[int, int]] = {}
        expected = 0
        for head in frame.heads:
            wanted = self._round.get(head.author)
            if wanted is None:
                raise SyncProtocolError(
                    SyncReason.UNREQUESTED, f"have names author {head.author.hex()[:16]} not asked"
                )
            wanted.highest = head.highest
            heads[head.author] = (head.contiguous, head.highest)
            expected += expected_count(
                WantEntry(head.author, wanted.after, wanted.gaps), heads[head.author]
            )
        self.peer_heads.update(heads)
        self.state = RequesterState.IN_ROUND
        return HaveReceived(heads, expected)

    def _batch(self, frame: Batch) -> BatchReceived:
        if self.batches_received - self.batches_acked >= self.window:
            raise SyncProtocolError(
                SyncReason.WINDOW_EXCEEDED,
                f"more than {self.window} batches sent without an ack",
            )
        authors: set[bytes] = set()
        for raw in frame.envelopes:
            try:
                message = decode(raw)
            except InvalidMessage as exc:
                raise SyncProtocolError(SyncReason.BAD_ENVELOPE, str(exc)) from None
            self._check_wanted(message)
            authors.add(message.author)
        self.batches_received += 1
        self.envelopes_received += len(frame.envelopes)
        self._round_count += len(frame.envelopes)
        return BatchReceived(list(frame.envelopes), frozenset(authors))

    def _check_wanted(self, message: Message) -> None:
        wanted = self._round.get(message.author)
        seq = message.seq
        where = f"author {message.author.hex()[:16]} seq {seq}"
        if wanted is None:
            raise SyncProtocolError(SyncReason.UNREQUESTED, f"{where}: author not asked")
        if wanted.highest is None:
            raise SyncProtocolError(SyncReason.UNREQUESTED, f"{where}: author not in have")
        if seq <= wanted.last_seq:
            raise SyncProtocolError(SyncReason.UNREQUESTED, f"{where}: repeated or out of order")
        if seq > wanted.highest:
            raise SyncProtocolError(SyncReason.UNREQUESTED, f"{where}: above announced highest")
        gaps, index = wanted.gaps, wanted.index
        while index < len(gaps) and gaps[index][1] < seq:
            index += 1
        wanted.index = index
        in_gap = index < len(gaps) and gaps[index][0] <= seq
        if not in_gap and seq <= wanted.after:
            raise SyncProtocolError(SyncReason.UNREQUESTED, f"{where}: already held")
        wanted.last_seq = seq

    def _expect_state(self, state: RequesterState) -> None:
        if self.state is not state:
            raise SyncStateError(f"expected state {state.value}, in {self.state.value}")
