"""Community notes below the front ends: the kinds' schemas, the store's tables, the operations'
rules and the read that scores a post's notes for the user (only raters the user trusts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pnyx import ops
from pnyx.core.kinds import check_body
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.notes.score import MIN_RATER_RATINGS
from pnyx.ops.notes import rate_note, write_note
from pnyx.reads.notes import post_notes
from pnyx.store import Store
from pnyx.store.notes import all_notes, all_ratings, notes_on
from tests.store_helpers import NOW_MS, Feed, key, pub, rating_camps

ME = key(1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "pnyx.db") as opened:
        yield opened


@pytest.mark.parametrize(
    ("kind", "body", "reason"),
    [
        ("note", {"post": b"\x01" * 32, "text": ""}, "is empty"),
        ("note", {"post": b"\x01" * 32, "text": "x" * 1025}, "1025 bytes, limit 1024"),
        ("note", {"post": b"\x01" * 31, "text": "x"}, "'post' must be 32 bytes"),
        ("note", {"post": b"\x01" * 32, "text": "x", "misleading": 0}, "true or false"),
        ("note-rating", {"note": b"\x01" * 32, "helpful": "maybe"}, "yes, somewhat or no"),
        ("note-rating", {"note": b"\x01" * 32, "helpful": 1.0}, "yes, somewhat or no"),
        ("note-rating", {"helpful": "yes"}, "missing field 'note'"),
    ],
)
def test_bodies_refused(kind: str, body: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        check_body(kind, body)


def test_the_latest_rating_counts_and_deleted_ones_drop_out(store: Store) -> None:
    alice, bob = Feed(key(2)), Feed(key(3))
    post = alice.post("the moon is cheese")
    note = bob.add("note", {"post": post.id, "text": "It is rock."})
    first = alice.add("note-rating", {"note": note.id, "helpful": "no"})
    alice.add("note-rating", {"note": note.id, "helpful": "somewhat"})
    store.ingest_verified(alice.messages + bob.messages)
    assert [n.message.id for n in notes_on(store, post.id)] == [note.id]
    assert all_notes(store) == {note.id: bob.author}
    assert [(r.rater, r.value) for r in all_ratings(store)] == [(alice.author, 0.5)]
    alice.delete(alice.messages[-1].id)  # takes back "somewhat": "no" counts again
    store.ingest_verified(alice.messages)
    assert [r.value for r in all_ratings(store)] == [0.0]
    del first
    bob.delete(note.id)
    store.ingest_verified(bob.messages)
    assert notes_on(store, post.id) == [] and all_notes(store) == {}


def test_operations_rules(store: Store) -> None:
    alice = Feed(key(2))
    post = alice.post("a claim")
    store.ingest_verified(alice.messages)
    mine = ops.post(store, ME, "my own", now_ms=NOW_MS)
    with pytest.raises(UserError, match="not on your own post"):
        write_note(store, ME, mine.id.hex(), "context", now_ms=NOW_MS)
    made = write_note(store, ME, post.id.hex()[:12], " Context. ", now_ms=NOW_MS)
    assert made.kind == "note" and made.fields["note_text"] == "Context."
    with pytest.raises(UserError, match="already"):
        write_note(store, ME, post.id.hex(), "again", now_ms=NOW_MS)
    with pytest.raises(UserError, match="cannot rate your own note"):
        rate_note(store, ME, made.id.hex(), "yes", now_ms=NOW_MS)
    other = alice.add("note", {"post": mine.id, "text": "about you"})
    store.ingest_verified(alice.messages)
    rate_note(store, ME, other.id.hex()[:12], "yes", now_ms=NOW_MS)
    with pytest.raises(NothingChangedError, match="already"):
        rate_note(store, ME, other.id.hex(), "yes", now_ms=NOW_MS)
    rate_note(store, ME, other.id.hex(), "no", now_ms=NOW_MS + 1)  # a new rating replaces it
    with pytest.raises(UserError, match="yes, somewhat or no"):
        rate_note(store, ME, other.id.hex(), "meh", now_ms=NOW_MS)
    with pytest.raises(NotFoundError, match="no note"):
        rate_note(store, ME, post.id.hex(), "yes", now_ms=NOW_MS)


def test_only_raters_the_user_trusts_decide(store: Store) -> None:
    """Twelve raters the user follows, two camps of six that disagree on sixteen partisan notes,
    all find the "bridge" note helpful; thirty strangers rate it unhelpful and change nothing."""
    author, writer = Feed(key(2)), Feed(key(3))
    post = author.post("a claim")
    bridge, partisan, raters = rating_camps(writer, post, "context both sides accept")
    strangers = [Feed(key(100 + i)) for i in range(30)]
    for rater in strangers:
        for n in [bridge, *partisan]:
            rater.add("note-rating", {"note": n.id, "helpful": "no" if n is bridge else "yes"})
    everyone = [author, writer, *raters, *strangers]
    store.ingest_verified([m for f in everyone for m in f.messages])
    me = pub(ME)
    alone = post_notes(store, me, post.id)
    assert alone.raters == 0 and {n.score.status for n in alone.notes} == {"needs more ratings"}
    for rater in raters:
        ops.follow(store, ME, rater.author.hex(), now_ms=NOW_MS)
    found = post_notes(store, me, post.id)
    assert found.raters == 12 >= MIN_RATER_RATINGS
    top = found.notes[0]
    assert top.item.message.id == bridge.id and top.score.status == "helpful"  # helpful first
    assert {n.score.status for n in found.notes[1:]} == {"needs more ratings"}
    record = found.to_json()
    assert record["raters"] == 12
    assert record["notes"][0]["status"] == "helpful"  # type: ignore[index]
    with pytest.raises(UserError, match="not a post"):
        post_notes(store, me, bridge.id)


def test_a_note_a_rating_and_a_vote_can_be_taken_back(store: Store) -> None:
    from pnyx.ops.polls import create_poll, vote
    from pnyx.reads.polls import poll_view

    alice = Feed(key(2))
    post = alice.post("a claim")
    other = alice.add("note", {"post": post.id, "text": "alice's note"})
    store.ingest_verified(alice.messages)
    note = write_note(store, ME, post.id.hex(), "first try", now_ms=NOW_MS)
    ops.delete(store, ME, note.id.hex(), now_ms=NOW_MS + 1)
    again = write_note(store, ME, post.id.hex(), "second try", now_ms=NOW_MS + 2)
    assert [n.message.id for n in notes_on(store, post.id)] == [other.id, again.id]
    rating = rate_note(store, ME, other.id.hex(), "no", now_ms=NOW_MS + 3)
    ops.delete(store, ME, rating.id.hex(), now_ms=NOW_MS + 4)
    assert [r for r in all_ratings(store) if r.rater == pub(ME)] == []
    with pytest.raises(UserError, match="already deleted"):
        ops.delete(store, ME, rating.id.hex(), now_ms=NOW_MS + 5)
    poll = create_poll(store, ME, "q?", ["a", "b"], now_ms=NOW_MS + 6)
    vote(store, ME, poll.id.hex(), [0], now_ms=NOW_MS + 7)
    second = vote(store, ME, poll.id.hex(), [1], now_ms=NOW_MS + 8)
    ops.delete(store, ME, second.id.hex(), now_ms=NOW_MS + 9)  # back to the first vote
    assert poll_view(store, pub(ME), poll.id, now_ms=NOW_MS + 10).tally.mine == 0b01
