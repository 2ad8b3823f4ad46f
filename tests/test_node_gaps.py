"""``GapWatch``: when a gap in a followed feed, seen in gossip, becomes due for a sync."""

from __future__ import annotations

import itertools

import pytest

from pnyx.catchup import gaps
from pnyx.catchup.gaps import (
    GAP_GRACE_S,
    GAP_MAX_TRIES,
    GAP_RETRY_MAX_S,
    GAP_SPACING_S,
    MAX_GAP_SEQS,
    GapWatch,
    retry_wait,
)

A, B = b"a" * 32, b"b" * 32


def look(watch: GapWatch, heads: dict[bytes, tuple[int, int]], now: float) -> set[bytes]:
    return watch.due(watch.take(), heads, now)


def test_a_gap_is_due_only_after_standing_still_for_the_grace() -> None:
    watch = GapWatch()
    watch.stored([A])
    assert look(watch, {A: (1, 3)}, 0.0) == set()  # first seen: wait
    assert watch.candidates == {A}  # looked at again until it closes
    assert look(watch, {A: (1, 3)}, GAP_GRACE_S - 0.1) == set()
    assert look(watch, {A: (1, 3)}, GAP_GRACE_S) == {A}
    assert watch.candidates == set()  # fetched: looked at again only when gossip stores more


def test_a_gap_that_gossip_is_filling_restarts_the_grace() -> None:
    watch = GapWatch()
    watch.stored([A])
    assert look(watch, {A: (1, 5)}, 0.0) == set()
    assert look(watch, {A: (3, 5)}, 1.5) == set()  # contiguous moved: the grace starts again
    assert look(watch, {A: (3, 5)}, 3.0) == set()  # only 1.5 s since it last moved
    assert look(watch, {A: (3, 5)}, 1.5 + GAP_GRACE_S) == {A}


def test_a_closed_gap_is_forgotten_and_never_due() -> None:
    watch = GapWatch()
    watch.stored([A, B])
    assert look(watch, {A: (1, 3), B: (4, 4)}, 0.0) == set()
    assert watch.candidates == {A}  # B has no gap
    assert look(watch, {A: (3, 3)}, 10.0) == set()
    assert watch.candidates == set()


def test_an_author_is_fetched_at_most_once_per_spacing() -> None:
    watch = GapWatch()
    watch.stored([A])
    look(watch, {A: (1, 3)}, 0.0)
    assert look(watch, {A: (1, 3)}, GAP_GRACE_S) == {A}
    watch.stored([A])  # the sync did not close it (no peer had it)
    first = GAP_GRACE_S + 0.5
    assert look(watch, {A: (1, 3)}, first) == set()
    assert look(watch, {A: (1, 3)}, first + GAP_GRACE_S) == set()  # within the spacing
    assert look(watch, {A: (1, 3)}, GAP_GRACE_S + GAP_SPACING_S) == {A}


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gaps, "MAX_GAP_MEMORY", 3)
    watch = GapWatch()
    authors = [bytes([i]) * 32 for i in range(10)]
    watch.stored(authors)
    look(watch, {a: (0, 2) for a in authors}, 0.0)
    assert len(watch._seen) == 3  # the oldest are forgotten first


def fetches_over(watch: GapWatch, head: tuple[int, int], seconds: float) -> list[float]:
    """Gossip keeps storing the author every 0.5 s while the gap stays: when is it fetched?"""
    times: list[float] = []
    now = 0.0
    while now <= seconds:
        watch.stored([A])
        if look(watch, {A: head}, now):
            times.append(now)
        now += 0.5
    return times


def test_a_gap_no_peer_fills_is_retried_with_backoff_then_given_up() -> None:
    """Issue 11 item 6: the gap sync ran every ~36 s for ever. Now: GAP_MAX_TRIES fetches, each
    wait doubling, then nothing while the contiguous head stays put."""
    watch = GapWatch()
    times = fetches_over(watch, (30, 40), 3600.0)
    assert len(times) == GAP_MAX_TRIES
    waits = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert waits == [retry_wait(n) for n in range(1, GAP_MAX_TRIES)]
    assert waits == sorted(waits) and max(waits) <= GAP_RETRY_MAX_S
    assert watch.given_up == 1 and watch.candidates == set()


def test_a_given_up_gap_is_fetched_again_once_the_head_moves() -> None:
    watch = GapWatch()
    fetches_over(watch, (30, 40), 600.0)
    watch.stored([A])
    assert look(watch, {A: (30, 41)}, 700.0) == set()  # more held beyond: still given up
    watch.stored([A])
    assert look(watch, {A: (33, 41)}, 701.0) == set()  # the head moved: a fresh grace...
    watch.stored([A])
    assert look(watch, {A: (33, 41)}, 701.0 + GAP_GRACE_S) == {A}  # ...then fetched


def test_an_absurd_gap_is_never_fetched() -> None:
    watch = GapWatch()
    assert fetches_over(watch, (30, 30 + MAX_GAP_SEQS + 1), 60.0) == []
    assert watch.too_large > 0 and watch.candidates == set()
    assert fetches_over(GapWatch(), (30, 30 + MAX_GAP_SEQS), 60.0) != []
