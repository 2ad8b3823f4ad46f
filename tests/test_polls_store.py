"""Polls end to end below the front ends: the kinds' schemas, the store's tables (filled on
ingest and backfilled for polls held as an unknown kind), the reads and the operations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pnyx import ops
from pnyx.core.kinds import check_body
from pnyx.core.kinds.poll import MAX_POLL_OPEN_MS, MAX_POLL_OPTIONS
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.ops.polls import create_poll, parse_duration, vote
from pnyx.reads.polls import poll_list, poll_view
from pnyx.store import Store
from pnyx.store.polls import ballots, recent_polls
from tests.store_helpers import NOW_MS, Feed, key, pub

ME = key(1)
GOOD: dict[str, Any] = {"question": "tea?", "options": ["yes", "no"], "closes": NOW_MS}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "pnyx.db") as opened:
        yield opened


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**GOOD, "options": ["yes"]}, "holds 1, not 2..12"),
        ({**GOOD, "options": [str(i) for i in range(MAX_POLL_OPTIONS + 1)]}, "holds 13"),
        ({**GOOD, "options": ["yes", "yes"]}, "the same option twice"),
        ({**GOOD, "options": ["yes", ""]}, "is empty"),
        ({**GOOD, "options": ["yes", 2]}, "must be text"),
        ({**GOOD, "options": "yes,no"}, "must be an array"),
        ({**GOOD, "options": ["yes", "x" * 201]}, "201 bytes, limit 200"),
        ({**GOOD, "closes": 5}, "'closes' must be an int"),
        ({**GOOD, "closes": True}, "'closes' must be an int"),
        ({**GOOD, "multiple": 1}, "'multiple' must be true or false"),
        ({"options": ["a", "b"], "closes": NOW_MS}, "missing field 'question'"),
    ],
)
def test_poll_bodies_refused(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        check_body("poll", body)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"poll": b"\x01" * 32, "choices": []}, "array of 1..12"),
        ({"poll": b"\x01" * 32, "choices": [1, 0]}, "increasing"),
        ({"poll": b"\x01" * 32, "choices": [0, 0]}, "increasing"),
        ({"poll": b"\x01" * 32, "choices": [12]}, "increasing ints in 0..11"),
        ({"poll": b"\x01" * 32, "choices": [True]}, "increasing"),
        ({"poll": b"\x01" * 31, "choices": [0]}, "'poll' must be 32 bytes"),
    ],
)
def test_vote_bodies_refused(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        check_body("vote", body)


def test_polls_and_ballots_are_stored_and_deleted_ones_drop_out(store: Store) -> None:
    alice, bob = Feed(key(2)), Feed(key(3))
    poll = alice.add("poll", {**GOOD, "closes": alice.clock + 10**6, "multiple": True})
    first = bob.add("vote", {"poll": poll.id, "choices": [0, 1]})
    bob.add("vote", {"poll": poll.id, "choices": [1]})
    store.ingest_verified(alice.messages + bob.messages)
    assert [p.message.id for p in recent_polls(store)] == [poll.id]
    assert [(b.seq, b.choices) for b in ballots(store, poll.id)] == [(1, 0b11), (2, 0b10)]
    bob.delete(first.id)
    alice.delete(poll.id)
    store.ingest_verified(alice.messages + bob.messages)
    assert [(b.seq, b.choices) for b in ballots(store, poll.id)] == [(2, 0b10)]
    assert recent_polls(store) == []
    with pytest.raises(NotFoundError, match="deleted by its author"):
        poll_view(store, pub(ME), poll.id, now_ms=NOW_MS)


def test_a_poll_held_as_an_unknown_kind_is_counted_after_an_upgrade(tmp_path: Path) -> None:
    from pnyx.core import kinds

    alice = Feed(key(2))
    poll = alice.add("poll", {**GOOD, "closes": alice.clock + 10**6})
    spec = kinds.spec_of("poll")
    assert spec is not None
    kinds.unregister("poll")
    try:
        with Store.open(tmp_path / "pnyx.db") as old:
            old.ingest_verified(alice.messages)  # a store written before the kind existed
    finally:
        kinds.register(spec)
    with Store.open(tmp_path / "pnyx.db") as store:
        assert [p.message.id for p in recent_polls(store)] == [poll.id]


def test_operations_rules_and_the_tally_read(store: Store) -> None:
    from pnyx.clock import wall_clock_ms

    NOW_MS = wall_clock_ms()  # ballots are received now: none arrives "late"
    me, alice = pub(ME), Feed(key(2))
    made = create_poll(store, ME, " Tea? ", ["yes ", "no"], open_ms=3_600_000, now_ms=NOW_MS)
    assert made.kind == "poll" and made.fields["question"] == "Tea?"
    assert made.fields["options"] == ["yes", "no"]
    assert made.fields["closes_ms"] == NOW_MS + 3_600_000
    poll_id = made.id.hex()
    for options, error in (
        (["only"], "2 to 12 options, not 1"),
        (["a", "a "], "two options of this poll are the same"),
        (["a", "x" * 201], "option is 201 bytes"),
    ):
        with pytest.raises(UserError, match=error):
            create_poll(store, ME, "q", options, now_ms=NOW_MS)
    with pytest.raises(UserError, match="1 minute to 30 days"):
        create_poll(store, ME, "q", ["a", "b"], open_ms=MAX_POLL_OPEN_MS + 1, now_ms=NOW_MS)
    vote(store, ME, poll_id[:12], [1], now_ms=NOW_MS + 1)
    with pytest.raises(NothingChangedError, match="already voted 2"):
        vote(store, ME, poll_id, [1], now_ms=NOW_MS + 2)
    for choices, error in (([0, 1], "takes one choice"), ([2], "options 1 to 2"), ([], "once")):
        with pytest.raises(UserError, match=error):
            vote(store, ME, poll_id, choices, now_ms=NOW_MS + 2)
    with pytest.raises(UserError, match="is closed"):
        vote(store, ME, poll_id, [0], now_ms=NOW_MS + 3_600_001)
    with pytest.raises(NotFoundError, match="no poll"):
        vote(store, ME, ops.post(store, ME, "a post", now_ms=NOW_MS + 3).id.hex(), [0])
    # a stranger votes 0: everyone counts it, "for you" does not (not trusted)
    alice.add("vote", {"poll": made.id, "choices": [0]}, ts=NOW_MS + 5)
    store.ingest_verified(alice.messages)
    view = poll_view(store, me, made.id, now_ms=NOW_MS + 10)
    assert view.open and view.question == "Tea?" and view.options == ["yes", "no"]
    assert view.tally.everyone == (1, 1) and view.tally.for_you == (0.0, 1.0)
    found = view.to_json()
    assert found["mine"] == [1] and found["outside"] == 1 and found["voices"] == 1
    assert found["why"] == [
        "2 voters counted; for you: 1 voice from 1 you trust (you included)",
        "1 voter outside your trust: counted under everyone only",
    ]
    # following alice puts her in the trusted set: her vote counts for me too
    ops.follow(store, ME, alice.author.hex(), now_ms=NOW_MS + 11)
    assert poll_view(store, me, made.id, now_ms=NOW_MS + 12).tally.for_you == (1.0, 1.0)
    listed = poll_list(store, me, now_ms=NOW_MS + 12)
    assert [p.item.message.id for p in listed.polls] == [made.id] and listed.next is None
    assert not poll_view(store, me, made.id, now_ms=NOW_MS + 3_600_001).open


def test_durations() -> None:
    assert parse_duration("30m") == 1_800_000 and parse_duration(" 3D ") == 3 * 86_400_000
    for bad in ("3", "1w", "-1d", "1.5h", ""):
        with pytest.raises(UserError, match="not a duration"):
            parse_duration(bad)


def test_a_strangers_vote_on_a_held_poll_is_kept_like_a_reply(store: Store) -> None:
    from pnyx.node.reach import keep_replies

    alice, stranger = Feed(key(2)), Feed(key(9))
    poll = alice.add("poll", {**GOOD, "closes": alice.clock + 10**6})
    store.ingest_verified(alice.messages)
    on_held = stranger.add("vote", {"poll": poll.id, "choices": [1]})
    elsewhere = stranger.add("vote", {"poll": b"\x05" * 32, "choices": [0]})
    assert keep_replies(store, [on_held, elsewhere], pub(ME)) == [on_held]
