"""``GapWatch``: when a gap in a followed feed, seen in gossip, becomes due for a sync."""

from __future__ import annotations

import pytest

from pnyx.catchup import gaps
from pnyx.catchup.gaps import GAP_GRACE_S, GAP_SPACING_S, GapWatch

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
