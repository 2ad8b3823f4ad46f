"""Feed-chain rules: every branch of ``place``; ``missing_ranges`` against a brute-force model."""

from __future__ import annotations

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnyx.core.chain import Neighbours, Placement, Verdict, missing_ranges, place
from pnyx.core.envelope import Message, sign
from pnyx.core.reasons import Reason

KEY = nacl.signing.SigningKey(bytes(range(32)))
NOW = 1_700_000_000_000


def chain(length: int, tag: str = "") -> list[Message]:
    """A valid chain of ``length`` posts; ``tag`` makes a different chain by the same author."""
    messages: list[Message] = []
    prev = None
    for seq in range(1, length + 1):
        message = sign(
            KEY, seq=seq, prev=prev, ts=NOW + seq, kind="post", body={"text": f"{tag}{seq}"}
        )
        messages.append(message)
        prev = message.id
    return messages


ONE, TWO, THREE = chain(3)
OTHER_ONE, OTHER_TWO, OTHER_THREE = chain(3, tag="other")


def test_nothing_held_appends() -> None:
    assert place(TWO, Neighbours()) == Verdict(Placement.APPEND)
    assert place(ONE, Neighbours()) == Verdict(Placement.APPEND)


def test_same_message_is_duplicate() -> None:
    held = Neighbours(same_id=TWO.id, before_id=ONE.id, after_prev=TWO.id)
    assert place(TWO, held) == Verdict(Placement.DUPLICATE)


def test_duplicate_even_when_neighbours_disagree() -> None:
    # What we already hold stays; a mismatch around it was recorded when it arrived.
    assert place(TWO, Neighbours(same_id=TWO.id, before_id=OTHER_ONE.id)).placement is (
        Placement.DUPLICATE
    )


def test_second_message_at_same_seq_is_fork() -> None:
    verdict = place(OTHER_TWO, Neighbours(same_id=TWO.id))
    assert verdict.placement is Placement.FORK
    assert verdict.reason is Reason.FORK
    assert "seq 2" in verdict.detail


def test_fork_takes_precedence_over_chain_checks() -> None:
    verdict = place(OTHER_TWO, Neighbours(same_id=TWO.id, before_id=ONE.id, after_prev=THREE.prev))
    assert verdict.reason is Reason.FORK


def test_prev_matching_before_appends() -> None:
    assert place(TWO, Neighbours(before_id=ONE.id)) == Verdict(Placement.APPEND)


def test_prev_not_matching_before_is_broken_chain() -> None:
    verdict = place(OTHER_TWO, Neighbours(before_id=ONE.id))
    assert verdict.placement is Placement.FORK
    assert verdict.reason is Reason.BROKEN_CHAIN
    assert "seq 1" in verdict.detail


def test_after_pointing_here_appends() -> None:
    assert place(TWO, Neighbours(after_prev=TWO.id)) == Verdict(Placement.APPEND)


def test_after_pointing_elsewhere_is_broken_chain() -> None:
    verdict = place(TWO, Neighbours(after_prev=OTHER_TWO.id))
    assert verdict.placement is Placement.FORK
    assert verdict.reason is Reason.BROKEN_CHAIN
    assert "seq 3" in verdict.detail


def test_both_neighbours_matching_appends() -> None:
    held = Neighbours(before_id=ONE.id, after_prev=TWO.id)
    assert place(TWO, held) == Verdict(Placement.APPEND)


def test_before_checked_before_after() -> None:
    verdict = place(OTHER_TWO, Neighbours(before_id=ONE.id, after_prev=TWO.id))
    assert verdict.reason is Reason.BROKEN_CHAIN
    assert "prev does not match" in verdict.detail


def test_first_message_with_after_neighbour() -> None:
    assert place(ONE, Neighbours(after_prev=ONE.id)).placement is Placement.APPEND
    assert place(OTHER_ONE, Neighbours(after_prev=ONE.id)).reason is Reason.BROKEN_CHAIN


def test_verdict_defaults() -> None:
    verdict = Verdict(Placement.APPEND)
    assert (verdict.reason, verdict.detail) == (None, "")


@pytest.mark.parametrize(
    ("held", "latest", "expected"),
    [
        ([], None, []),
        ([], 0, []),
        ([], 3, [(1, 3)]),
        ([1], None, []),
        ([1, 2, 3], None, []),
        ([1, 2, 3], 3, []),
        ([1, 2, 3], 2, []),
        ([2], None, [(1, 1)]),
        ([1, 2, 5], 7, [(3, 4), (6, 7)]),
        ([5, 1, 2, 5, 2], None, [(3, 4)]),
        ([10], 12, [(1, 9), (11, 12)]),
        ([1, 3, 5], None, [(2, 2), (4, 4)]),
    ],
)
def test_missing_ranges_examples(
    held: list[int], latest: int | None, expected: list[tuple[int, int]]
) -> None:
    assert missing_ranges(held, latest) == expected


def test_missing_ranges_accepts_any_iterable() -> None:
    assert missing_ranges(iter({4, 1}), None) == [(2, 3)]


def brute_force(held: set[int], latest: int | None) -> list[tuple[int, int]]:
    top = max([*held, latest or 0], default=0)
    absent = [seq for seq in range(1, top + 1) if seq not in held]
    ranges: list[tuple[int, int]] = []
    for seq in absent:
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


@settings(max_examples=max(300, settings().max_examples))
@given(st.lists(st.integers(1, 60), max_size=40), st.none() | st.integers(0, 80))
def test_missing_ranges_matches_brute_force(held: list[int], latest: int | None) -> None:
    result = missing_ranges(held, latest)
    assert result == brute_force(set(held), latest)
    covered = {seq for low, high in result for seq in range(low, high + 1)}
    assert covered.isdisjoint(held)
    assert all(low <= high for low, high in result)
