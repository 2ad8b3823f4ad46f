"""Feed-chain rules (sans-I/O): where a new message fits in its author's chain.

Each author's messages form a chain: ``seq`` 1, 2, 3, ... and ``prev`` = id of message ``seq - 1``.
Messages may arrive in any order, so a store holds a set of sequence numbers per author with gaps.
Given the stored neighbours of a new message, ``place`` says what to do with it. The first message
stored for an (author, seq) wins; any conflicting message signed by the same author is evidence of a
fork, kept apart and never served as part of the feed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from pnyx.core.envelope import Message
from pnyx.core.reasons import Reason


class Placement(Enum):
    """What the store must do with a new message."""

    APPEND = "append"
    """Store it: it fits every neighbour we hold."""
    DUPLICATE = "duplicate"
    """We hold this exact message already: change nothing."""
    FORK = "fork"
    """It conflicts with a message we hold: keep ours, record this one as fork evidence."""


@dataclass(frozen=True, slots=True)
class Neighbours:
    """What the store holds around (author, seq) of a new message.

    ``same_id``: id of the stored message with the same seq, if any. ``before_id``: id of the stored
    message at seq - 1, if any. ``after_prev``: the ``prev`` field of the stored message at seq + 1.
    """

    same_id: bytes | None = None
    before_id: bytes | None = None
    after_prev: bytes | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    placement: Placement
    reason: Reason | None = None
    detail: str = ""


def place(message: Message, held: Neighbours) -> Verdict:
    """Decide where ``message`` goes given what is ``held`` around it. Pure; never raises."""
    if held.same_id is not None:
        if held.same_id == message.id:
            return Verdict(Placement.DUPLICATE)
        return Verdict(Placement.FORK, Reason.FORK, f"second message at seq {message.seq}")
    if held.before_id is not None and message.prev != held.before_id:
        return Verdict(
            Placement.FORK, Reason.BROKEN_CHAIN, f"prev does not match stored seq {message.seq - 1}"
        )
    if held.after_prev is not None and held.after_prev != message.id:
        return Verdict(
            Placement.FORK, Reason.BROKEN_CHAIN, f"stored seq {message.seq + 1} points elsewhere"
        )
    return Verdict(Placement.APPEND)


def missing_ranges(held: Iterable[int], latest_known: int | None = None) -> list[tuple[int, int]]:
    """The inclusive ranges of sequence numbers absent from ``held`` in 1..max.

    ``latest_known`` extends the upper end (for example a sequence number a peer announced).
    ``missing_ranges([1, 2, 5], 7) == [(3, 4), (6, 7)]``.
    """
    seqs = sorted(set(held))
    top = max([*seqs[-1:], latest_known or 0])
    gaps: list[tuple[int, int]] = []
    expected = 1
    for seq in seqs:
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = max(expected, seq + 1)
    if expected <= top:
        gaps.append((expected, top))
    return gaps
