"""Store ingest: validation, idempotence, atomic batches, chain placement, forks, derived state."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.core import envelope
from pnyx.core.reasons import Reason
from pnyx.errors import NotFoundError, StoreError
from pnyx.store import Store, writes
from tests.store_helpers import NOW_MS, Feed, ids, key, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path) as opened:
        yield opened


def test_ingest_is_idempotent(store: Store) -> None:
    feed = Feed(key(1))
    for n in range(5):
        feed.post(f"post {n}")
    first = store.ingest(feed.raws(), NOW_MS)
    assert [m.seq for m in first.accepted] == [1, 2, 3, 4, 5]
    assert (first.duplicates, first.rejected, first.forks) == (0, [], [])
    last = store.last_rowid()
    again = store.ingest(feed.raws(), NOW_MS)
    assert again.accepted == [] and again.duplicates == 5 and again.rejected == []
    assert store.last_rowid() == last
    assert store.counts() == {
        "messages": 5,
        "authors": 1,
        "forks": 0,
        "fork_evidence": 0,
        "forks_dropped": 0,
    }
    assert store.heads() == {feed.author: (5, 5)}


def test_a_message_repeated_within_one_batch_counts_as_a_duplicate(store: Store) -> None:
    feed = Feed(key(1))
    one = feed.post("once")
    report = store.ingest([one.raw, one.raw, one.raw], NOW_MS)
    assert report.accepted == [one] and report.duplicates == 2


def test_invalid_messages_are_rejected_with_reason_and_index(store: Store) -> None:
    feed = Feed(key(1))
    good = feed.post("fine")
    bad_signature = bytes([good.raw[0] ^ 1]) + good.raw[1:]
    future = envelope.sign(
        key(2), seq=1, prev=None, ts=NOW_MS + 3_600_000, kind="post", body={"text": "later"}
    )
    report = store.ingest([b"\x00garbage", bad_signature, future.raw, good.raw], NOW_MS)
    assert report.accepted == [good]
    assert [(i, reason) for i, reason, _ in report.rejected] == [
        (0, Reason.MALFORMED),
        (1, Reason.BAD_SIGNATURE),
        (2, Reason.FUTURE_TIMESTAMP),
    ]
    assert all(detail for _, _, detail in report.rejected[1:])
    assert store.counts()["messages"] == 1


def test_a_failing_batch_commits_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = Feed(key(1))
    first = feed.post("kept")
    store.ingest([first.raw], NOW_MS)
    for n in range(20):
        feed.post(f"lost {n}")
        feed.follow(key(9).verify_key.encode())

    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(writes, "_write_chains", fail)  # after the messages were inserted
    with pytest.raises(StoreError, match=r"disk I/O error on the store .*pnyx\.db"):
        store.ingest(feed.raws(), NOW_MS)
    monkeypatch.undo()
    assert store.counts()["messages"] == 1
    assert store.heads() == {feed.author: (1, 1)}
    assert store.following(feed.author) == []
    assert ids(store.feed(feed.author).items) == [first.id]
    report = store.ingest(feed.raws(), NOW_MS)  # the store still works afterwards
    assert len(report.accepted) == 40 and report.duplicates == 1


def test_out_of_order_arrival_then_gap_filling(store: Store) -> None:
    feed = Feed(key(1))
    messages = [feed.post(f"n{n}") for n in range(1, 8)]
    store.ingest([messages[2].raw, messages[4].raw], NOW_MS)  # seq 3 and 5
    assert store.heads() == {feed.author: (0, 5)}
    assert store.missing(feed.author) == [(1, 2), (4, 4)]
    store.ingest([messages[1].raw, messages[0].raw], NOW_MS)  # seq 2 then 1
    assert store.heads() == {feed.author: (3, 5)}
    assert store.missing(feed.author, 7) == [(4, 4), (6, 7)]
    report = store.ingest([messages[3].raw, messages[6].raw, messages[5].raw], NOW_MS)
    assert len(report.accepted) == 3 and not store.is_forked(feed.author)
    assert store.heads() == {feed.author: (7, 7)}
    assert store.missing(feed.author) == []
    assert [s.seq for s in store.feed(feed.author).items] == [7, 6, 5, 4, 3, 2, 1]


def test_a_whole_feed_in_reverse_order_in_one_batch(store: Store) -> None:
    feed = Feed(key(1))
    for n in range(30):
        feed.post(f"n{n}")
    report = store.ingest(list(reversed(feed.raws())), NOW_MS)
    assert len(report.accepted) == 30 and report.rejected == []
    assert store.heads() == {feed.author: (30, 30)}


def test_a_fork_keeps_the_first_message_and_stores_evidence(store: Store) -> None:
    feed = Feed(key(1))
    for n in range(3):
        feed.post(f"n{n}")
    store.ingest(feed.raws(), NOW_MS)
    other = feed.other_at(2)
    report = store.ingest([other.raw], NOW_MS + 5)
    assert report.accepted == [] and report.forks == [feed.author]
    assert [(i, r) for i, r, _ in report.rejected] == [(0, Reason.FORK)]
    assert store.is_forked(feed.author)
    [evidence] = store.forks(feed.author)
    assert (evidence.author, evidence.seq, evidence.reason) == (feed.author, 2, Reason.FORK)
    assert evidence.kept_id == feed.messages[1].id and evidence.other_raw == other.raw
    assert evidence.seen_ms == NOW_MS + 5
    # evidence is never served
    assert store.get(other.id) is None
    assert other.id not in ids(store.feed(feed.author).items)
    assert other.raw not in list(store.export())
    assert other.raw not in [raw for _, raw in store.changes_since(0)]
    assert other.raw not in store.range(feed.author, 1, 3)
    assert store.counts() == {
        "messages": 3,
        "authors": 1,
        "forks": 1,
        "fork_evidence": 1,
        "forks_dropped": 0,
    }
    # a second conflicting message: rejected again, but the author is not "newly" forked
    again = store.ingest([feed.other_at(3, "another").raw], NOW_MS)
    assert again.forks == [] and [r for _, r, _ in again.rejected] == [Reason.FORK]
    assert len(store.forks(feed.author)) == 2


def test_both_versions_in_one_batch_keep_the_first(store: Store) -> None:
    feed = Feed(key(1))
    real = feed.post("real")
    other = feed.other_at(1)
    report = store.ingest([real.raw, other.raw], NOW_MS)
    assert report.accepted == [real] and report.forks == [feed.author]
    assert report.rejected[0][:2] == (1, Reason.FORK)


def test_broken_chain_before_and_after(store: Store) -> None:
    feed = Feed(key(1))
    for n in range(4):
        feed.post(f"n{n}")
    store.ingest([feed.raws()[0], feed.raws()[2]], NOW_MS)  # seq 1 and 3
    # seq 2 of another branch: its prev matches seq 1, but stored seq 3 points to the real seq 2
    other_two = feed.other_at(2)
    report = store.ingest([other_two.raw], NOW_MS)
    assert [r for _, r, _ in report.rejected] == [Reason.BROKEN_CHAIN]
    assert store.forks(feed.author)[0].kept_id == feed.messages[2].id
    # seq 4 whose prev is not the stored seq 3
    bad_four = envelope.sign(
        feed.key, seq=4, prev=b"\x07" * 32, ts=NOW_MS - 1, kind="post", body={"text": "x"}
    )
    report = store.ingest([bad_four.raw, feed.raws()[1], feed.raws()[3]], NOW_MS)
    assert [(i, r) for i, r, _ in report.rejected] == [(0, Reason.BROKEN_CHAIN)]
    assert report.forks == []  # already flagged
    assert store.heads() == {feed.author: (4, 4)}
    assert [f.kept_id for f in store.forks(feed.author)][1] == feed.messages[2].id


def test_ingest_verified_places_and_reports_positions(store: Store) -> None:
    feed = Feed(key(1))
    a, b = feed.post("a"), feed.post("b")
    report = store.ingest_verified([a, b, feed.other_at(2)], now_ms=NOW_MS + 1)
    assert report.accepted == [a, b] and report.rejected[0][:2] == (2, Reason.FORK)
    stored = store.get(b.id)
    assert stored is not None and stored.received_ms == NOW_MS + 1 and stored.message == b


def test_follow_state_follows_the_highest_seq_whatever_the_arrival_order(store: Store) -> None:
    alice, bob, carol = Feed(key(1)), Feed(key(2)), Feed(key(3))
    follow_bob = alice.follow(bob.author)
    unfollow_bob = alice.unfollow(bob.author)
    follow_carol = alice.follow(carol.author)
    store.ingest([unfollow_bob.raw, follow_carol.raw], NOW_MS)
    assert store.following(alice.author) == [carol.author]
    # followed keys with no messages held are not "held authors"
    assert store.heads() == {alice.author: (0, 3)} and store.counts()["authors"] == 1
    store.ingest([follow_bob.raw], NOW_MS)  # older: must not override the unfollow
    assert store.following(alice.author) == [carol.author]
    refollow = alice.follow(bob.author)
    store.ingest([refollow.raw], NOW_MS)
    assert store.following(alice.author) == sorted([bob.author, carol.author])
    assert store.wanted_authors(alice.author) == {alice.author, bob.author, carol.author}
    # follow state of any author is kept, not only the local user's
    bob.follow(carol.author)
    store.ingest(bob.raws(), NOW_MS)
    assert store.following(bob.author) == [carol.author]
    assert store.following(carol.author) == []


def test_follow_and_unfollow_in_one_batch(store: Store) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    alice.follow(bob.author)
    alice.unfollow(bob.author)
    store.ingest(list(reversed(alice.raws())), NOW_MS)
    assert store.following(alice.author) == []


def test_deleted_posts_are_hidden_even_if_the_delete_came_first(store: Store) -> None:
    alice, mallory = Feed(key(1)), Feed(key(2))
    alice.follow(mallory.author)
    gone = alice.post("regret")
    kept = alice.post("fine")
    delete = alice.delete(gone.id)
    forged = mallory.delete(kept.id)  # someone else's delete hides nothing
    store.ingest([delete.raw, forged.raw], NOW_MS)
    store.ingest(alice.raws(), NOW_MS)
    assert store.get(gone.id) is not None  # still held and served for replication
    assert gone.raw in store.range(alice.author, 1, 10)
    assert ids(store.timeline(alice.author).items) == [kept.id]
    assert [s.kind for s in store.feed(alice.author).items] == ["delete", "post", "follow"]
    with pytest.raises(NotFoundError, match="not a post"):
        store.thread(delete.id)
    assert ids(store.thread(kept.id)) == [kept.id]
    with pytest.raises(NotFoundError, match="no message"):
        store.thread(b"\x09" * 32)


def test_profile_fields_merge_from_the_latest_message_setting_each(store: Store) -> None:
    alice = Feed(key(1))
    first = alice.profile(name="Alice", bio="hi")
    second = alice.profile(bio="new bio")
    third = alice.profile(name="Alice B.")
    assert store.profile(alice.author) is None
    store.ingest([third.raw, first.raw], NOW_MS)
    profile = store.profile(alice.author)
    assert profile is not None
    assert (profile.name, profile.bio, profile.seq) == ("Alice B.", "hi", 3)
    store.ingest([second.raw], NOW_MS)
    profile = store.profile(alice.author)
    assert profile is not None
    assert (profile.author, profile.name, profile.bio, profile.seq) == (
        alice.author,
        "Alice B.",
        "new bio",
        3,
    )


def test_unknown_kinds_are_stored_and_served(store: Store) -> None:
    alice = Feed(key(1))
    odd = alice.add("event", {"question": "?"})
    assert store.ingest([odd.raw], NOW_MS).accepted == [odd]
    [item] = store.feed(alice.author).items
    assert item.kind == "event" and item.body == {"question": "?"} and item.raw == odd.raw


def test_stored_messages_round_trip_exactly(store: Store) -> None:
    alice = Feed(key(1))
    root = alice.post("root")
    reply = alice.post("re", reply_to=root)
    store.ingest(alice.raws(), NOW_MS)
    got = store.get(reply.id)
    assert got is not None
    assert got.message == reply and envelope.validate(got.raw, NOW_MS) == reply
    assert (got.author, got.seq, got.ts, got.text) == (alice.author, 2, reply.ts, "re")
    assert got.cursor.id == reply.id and dataclasses.asdict(got)["received_ms"] == NOW_MS
