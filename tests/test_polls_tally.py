"""The poll tally (pnyx.polls.tally), on hand-checked ballots: who counts, once, and why."""

from __future__ import annotations

import pytest

from pnyx.polls.tally import LATE_ARRIVAL_MS, Ballot, PollSpec, choices_of, tally

ME, A, B, C, D, BOT1, BOT2, BOT3 = (bytes([n]) * 32 for n in range(1, 9))
T0, CLOSES = 1_000_000, 2_000_000
ONE = PollSpec(author=A, ts=T0, closes=CLOSES, options=3, multiple=False)
MANY = PollSpec(author=A, ts=T0, closes=CLOSES, options=3, multiple=True)


def ballot(voter: bytes, seq: int, choices: int, ts: int = T0 + 10, received: int = 0) -> Ballot:
    return Ballot(voter, seq, ts, received or ts, choices)


def test_the_latest_ballot_in_the_window_decides_and_outsiders_count_for_everyone_only() -> None:
    ballots = [
        ballot(ME, 1, 0b001),
        ballot(A, 3, 0b010),
        ballot(A, 5, 0b100),  # A changed its mind: seq 5 counts
        ballot(A, 9, 0b001, ts=CLOSES + 1),  # after the close: ignored, seq 5 still counts
        ballot(B, 2, 0b001),
        ballot(D, 1, 0b010),  # not trusted
    ]
    t = tally(ONE, ballots, me=ME, trusted=frozenset({A, B}))
    assert t.everyone == (2, 1, 1)
    assert t.for_you == (2.0, 0.0, 1.0)
    assert (t.voters, t.trusted_voters, t.voices, t.outside) == (4, 3, 3, 1)
    assert t.mine == 0b001 and t.counted[A] == 0b100
    assert t.share(0) == pytest.approx(2 / 3)
    assert t.why() == [
        "4 voters counted; for you: 3 voices from 3 you trust (you included)",
        "1 voter outside your trust: counted under everyone only",
    ]


def test_a_cluster_of_trusted_voters_is_one_voice_split_by_its_members_choices() -> None:
    bots = [ballot(BOT1, 1, 0b001), ballot(BOT2, 1, 0b001), ballot(BOT3, 1, 0b010)]
    honest = [ballot(A, 1, 0b010), ballot(B, 1, 0b100)]
    cluster = {BOT1: BOT1, BOT2: BOT1, BOT3: BOT1}
    t = tally(
        ONE, bots + honest, me=ME, trusted=frozenset({A, B, BOT1, BOT2, BOT3}), cluster_of=cluster
    )
    assert t.everyone == (2, 2, 1)
    # the three bots weigh one voice: 2/3 on option 0 and 1/3 on option 1
    assert t.for_you == pytest.approx((2 / 3, 1 + 1 / 3, 1.0))
    assert (t.voices, t.trusted_voters) == (3, 5)
    assert [(v.key, v.voters) for v in t.collapsed] == [(BOT1, (BOT1, BOT2, BOT3))]
    assert sum(t.for_you) == pytest.approx(t.voices)  # one choice each: the voices add up
    assert "3 voters who act together count as one voice" in t.why()[1]


def test_refused_ballots_are_counted_as_reasons_not_as_votes() -> None:
    ballots = [
        ballot(A, 1, 0b011),  # two choices on a one-choice poll
        ballot(B, 1, 0b1000),  # option 3 of a 3-option poll
        ballot(C, 1, 0b001, ts=CLOSES + 5),  # only after the close
        ballot(D, 1, 0b001, ts=T0 - 1),  # dated before the poll
        ballot(ME, 1, 0, ts=T0),  # no option at all
    ]
    t = tally(ONE, ballots, me=ME, trusted=frozenset({A, B, C, D}))
    assert (t.voters, t.invalid, t.after_close, t.before_open) == (0, 3, 1, 1)
    assert t.everyone == (0, 0, 0) and t.voices == 0 and t.share(0) == 0.0 and t.mine is None
    # the same two choices count on a poll that takes several
    assert tally(MANY, ballots[:1], me=ME, trusted=frozenset({A})).everyone == (1, 1, 0)


def test_a_ballot_that_arrives_long_after_the_close_counts_but_is_reported() -> None:
    late = ballot(A, 1, 0b001, ts=CLOSES - 1, received=CLOSES + LATE_ARRIVAL_MS + 1)
    on_time = ballot(B, 1, 0b001, ts=CLOSES, received=CLOSES + LATE_ARRIVAL_MS)
    t = tally(ONE, [late, on_time], me=ME, trusted=frozenset({A, B}))
    assert t.everyone == (2, 0, 0) and t.arrived_late == 1
    assert t.why()[-1] == "1 voter reached this node over an hour after the close (backdated?)"


def test_choices_of_a_mask() -> None:
    assert choices_of(0b1010) == [1, 3] and choices_of(0) == []
