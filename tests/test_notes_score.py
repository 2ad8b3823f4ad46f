"""The community-notes scorer (pnyx.notes.score) on hand-built ratings: bridging makes a note
helpful, one side alone does not, a cluster is one rater, and the result is deterministic."""

from __future__ import annotations

import pytest

from pnyx.notes.score import (
    HELPFUL_INTERCEPT,
    MIN_NOTE_RATINGS,
    MIN_RATER_RATINGS,
    Rating,
    fit,
    status_of,
)

LEFT = [bytes([1, i]) * 16 for i in range(6)]
RIGHT = [bytes([2, i]) * 16 for i in range(6)]


def note(name: str) -> bytes:
    return name.encode().ljust(32, b".")


def camps() -> list[Rating]:
    """Two camps that disagree on 16 partisan notes (so each rater has 18 ratings), agree that
    "bridge" helps and "bad" does not, and split on "left"."""
    found: list[Rating] = []
    for k in range(8):
        for side, other, name in ((LEFT, RIGHT, f"l{k}"), (RIGHT, LEFT, f"r{k}")):
            found += [Rating(u, note(name), 1.0) for u in side]
            found += [Rating(u, note(name), 0.0) for u in other]
    for u in LEFT + RIGHT:
        found += [Rating(u, note("bridge"), 1.0), Rating(u, note("bad"), 0.0)]
    found += [Rating(u, note("left"), 1.0) for u in LEFT]
    found += [Rating(u, note("left"), 0.0) for u in RIGHT]
    return found


def test_helpful_only_when_both_sides_find_it_helpful() -> None:
    model = fit(camps())
    bridge, bad, left = (model.notes[note(n)] for n in ("bridge", "bad", "left"))
    assert bridge.status == "helpful" and bridge.ratings == 12
    assert bridge.intercept is not None and bridge.intercept > HELPFUL_INTERCEPT
    assert bridge.factor is not None and abs(bridge.factor) < 0.05
    assert bad.status == "not helpful"
    # liked by one camp only: the factor explains it, the intercept stays low
    assert left.status == "needs more ratings"
    assert left.factor is not None and abs(left.factor) > 0.5
    assert left.intercept is not None and left.intercept < 0.2
    assert bridge.why().startswith("helpful: intercept +0.60")
    assert "raters who usually disagree both found it helpful" in bridge.why()
    assert left.why().startswith("needs more ratings: intercept +0.10")


def test_the_fit_is_deterministic() -> None:
    first, second = fit(camps()), fit(list(reversed(camps())))
    assert first.notes == second.notes and first.mu == pytest.approx(second.mu, abs=1e-12)


def test_a_cluster_is_one_rater_and_authors_cannot_rate_their_own_note() -> None:
    ratings = camps()
    bots = [bytes([9, i]) * 16 for i in range(30)]
    # thirty co-acting accounts rate every note as the left camp does
    for k in range(8):
        ratings += [Rating(b, note(f"l{k}"), 1.0) for b in bots]
        ratings += [Rating(b, note(f"r{k}"), 0.0) for b in bots]
    ratings += [Rating(b, note("left"), 1.0) for b in bots]
    ratings += [Rating(b, note("bridge"), 1.0) for b in bots]
    merged = fit(ratings, cluster_of={b: bots[0] for b in bots})
    assert merged.merged == {bots[0]: tuple(sorted(bots))}
    assert merged.notes[note("left")].ratings == 13  # 12 people and one voice for the bots
    assert merged.notes[note("left")].status == "needs more ratings"
    # the author of "bridge" rating it does not count
    authored = fit(camps(), authors={note("bridge"): LEFT[0]})
    assert authored.notes[note("bridge")].ratings == 11


def test_raters_and_notes_below_the_minimums() -> None:
    few = [Rating(LEFT[0], note(f"n{k}"), 1.0) for k in range(MIN_RATER_RATINGS - 1)]
    model = fit(few, notes=[note("n0")])
    assert model.raters == {} and model.notes[note("n0")].status == "needs more ratings"
    assert model.notes[note("n0")].why().startswith(f"0 of the {MIN_NOTE_RATINGS} ratings")
    assert status_of(0.9, 0.0, MIN_NOTE_RATINGS - 1) == "needs more ratings"
    assert status_of(0.9, 0.0, MIN_NOTE_RATINGS) == "helpful"
    assert status_of(0.9, 0.6, MIN_NOTE_RATINGS) == "needs more ratings"
    assert status_of(-0.5, 0.2, MIN_NOTE_RATINGS) == "not helpful"
