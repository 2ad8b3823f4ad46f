"""Checks the node makes with its store's help (blocking: call them through an ``Offload``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pnyx.core.chain import Neighbours, Placement, place
from pnyx.core.envelope import Message, decode
from pnyx.core.frame import validate_frame
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import StoreError

if TYPE_CHECKING:
    from pnyx.store import Store


@dataclass(slots=True)
class FrameCheck:
    """What ``check_frame`` found in a frame whose every envelope is valid."""

    messages: list[Message]
    """Every envelope of the frame, decoded, in frame order."""
    wanted: list[Message]
    """Those whose author is in the interest set (the node stores them)."""
    conflict: InvalidMessage | None = None
    """A chain rule a wanted message breaks against the store (``chain_conflict``), if any."""
    known_fork: bool = False
    """The author of ``conflict`` was already flagged forked before this frame (the store holds
    fork evidence): the frame carries more of a fork already proven."""
    store_error: StoreError | None = None
    """Set when the store could not be read for the chain check (then ``conflict`` is None)."""


def check_frame(store: Store, frame: bytes, now_ms: int, interest: Collection[bytes]) -> FrameCheck:
    """All of a gossip frame's checks that need a worker thread, in one call: ``validate_frame``
    (structure, limits, clock, every signature, in-frame chain), then ``chain_conflict`` of the
    envelopes whose author is in ``interest`` against the store.

    Raises ``InvalidMessage`` if the frame is invalid; a store failure is returned in
    ``store_error``, not raised.
    """
    messages = validate_frame(frame, now_ms)
    check = FrameCheck(messages, [m for m in messages if m.author in interest])
    if check.wanted:
        try:
            found = conflict_of(store, check.wanted)
            if found is not None:
                author, check.conflict = found
                check.known_fork = store.is_forked(author)
        except StoreError as exc:
            check.store_error = exc
    return check


def fork_penalty(
    check: FrameCheck, origin: str | None, me: str
) -> tuple[str, InvalidMessage] | None:
    """Whom to penalise for a frame whose ``check`` found a conflict, and why, or None.

    The rule (docs/security.md, section 3): a conflicting envelope of an author already known
    forked counts against the frame's **origin**, the peer that published it (``FRAME_ORIGIN``,
    signed), never against the relay that forwarded it: an honest node publishes only its own
    user's messages, so only the forked author's node or a hostile peer originates such a frame,
    while a relay that does not follow the author cannot tell a fork from any other message. The
    first fork of an author (no evidence held yet) is never penalised.
    """
    if check.conflict is None or not check.known_fork or origin is None or origin == me:
        return None
    detail = f"{check.conflict.detail} (author already known forked; published by {origin})"
    return origin, InvalidMessage(check.conflict.reason, detail)


def chain_conflict(store: Store, messages: Sequence[Message]) -> InvalidMessage | None:
    """The conflict of ``conflict_of`` without its author."""
    found = conflict_of(store, messages)
    return None if found is None else found[1]


def conflict_of(store: Store, messages: Sequence[Message]) -> tuple[bytes, InvalidMessage] | None:
    """The author and chain rule (``pnyx.core.chain.place``) that one of ``messages`` breaks
    against the messages the store holds next to it, or None. Messages already stored are fine.

    ``messages`` are the envelopes of one valid frame (``validate_frame`` checked that they agree
    with each other), so the store is read once per run of consecutive seqs of an author (the run
    and one seq on each side), not once per message: a 512-message frame of one author costs one
    query. Raises ``StoreError`` if the store fails.
    """
    by_author: dict[bytes, dict[int, Message]] = {}
    for message in messages:
        by_author.setdefault(message.author, {})[message.seq] = message
    for author, by_seq in by_author.items():
        for first, last in _runs(sorted(by_seq)):
            conflict = _run_conflict(store, author, by_seq, first, last)
            if conflict is not None:
                return author, conflict
    return None


def _runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive numbers in sorted ``seqs``: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and runs[-1][1] == seq - 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _run_conflict(
    store: Store, author: bytes, by_seq: dict[int, Message], first: int, last: int
) -> InvalidMessage | None:
    low = max(1, first - 1)
    stored = store.range(author, low, last + 1, limit=last + 2 - low)
    ours = {by_seq[seq].raw: by_seq[seq] for seq in range(first, last + 1)}
    held: dict[int, Message] = {}
    for raw in stored:
        message = ours.get(raw)  # the frame's own envelope, already stored: no decoding
        if message is None:
            message = decode(raw)
        held[message.seq] = message
    for seq in range(first, last + 1):
        message = by_seq[seq]
        same, before, after = held.get(seq), held.get(seq - 1), held.get(seq + 1)
        if same is not None and same.raw == message.raw:
            continue
        verdict = place(
            message,
            Neighbours(
                same_id=same.id if same else None,
                before_id=before.id if before else None,
                after_prev=after.prev if after else None,
            ),
        )
        if verdict.placement is Placement.FORK and verdict.reason is not None:
            if store.get(message.id) is not None:
                continue  # stored already (as fork evidence)
            return InvalidMessage(verdict.reason, verdict.detail)
    return None
