"""The square's kinds (polls, notes, labels) flooded through honest peers, and by sybil sets.

What must hold: what ``keep_replies`` keeps of strangers' votes fits each stranger's quota and the
budget once the budget is enforced, and a vote is kept only on a poll held; strangers' notes,
ratings and labels are not kept at all; labels by keys the user does not subscribe to change
nothing the user sees; a thousand fresh keys voting on a poll and rating a note move neither the
"for you" tally nor the notes' statuses of a user who trusts none of them. The costs of a poll with
50,000 ballots and a note with 50,000 ratings are measured (``slow``; run with ``-s``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from pnyx.core.kinds.poll import MAX_POLL_OPTIONS
from pnyx.node.reach import compute_plan, enforce_budget, keep_replies
from pnyx.notes.score import MIN_RATER_RATINGS, Rating, fit
from pnyx.polls.tally import Ballot, PollSpec, tally
from pnyx.reads.notes import post_notes
from pnyx.reads.policy import load_policy
from pnyx.reads.polls import poll_view
from pnyx.store import labels as label_store
from pnyx.store.polls import ballots
from pnyx.trust.admission import STRANGER_QUOTA_BYTES, AdmissionConfig
from tests.store_helpers import NOW_MS, Feed, key, open_store

#: Fresh keys in a sybil set, a count.
SYBILS = 1_000
#: Strangers flooding votes, a count; votes each (well over a stranger's quota).
FLOODERS = 12
VOTES_EACH = 400
#: Where the others' feeds start, in ms: after the poll, so their votes fall in its window.
LATER_MS = NOW_MS - 10**7


def fresh(n: int) -> nacl.signing.SigningKey:
    """A key none of ``key(0..255)`` is (the sybils' and the cost tests' voters)."""
    return nacl.signing.SigningKey((10**9 + n).to_bytes(32, "big"))


def poll_body(closes: int, **extra: Any) -> dict[str, Any]:
    options = [f"option {i}" for i in range(MAX_POLL_OPTIONS)]
    return {"question": "which?", "options": options, "closes": closes, **extra}


def test_a_strangers_vote_flood_fits_its_quota_and_the_budget(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    me, friend = Feed(key(1)), Feed(key(2))
    me.follow(friend.author)
    poll = me.add("poll", poll_body(NOW_MS + 10**9, multiple=True))
    post = me.post("not a poll")
    for i in range(40):
        friend.post(f"friend {i} " + "x" * 900)
    assert not store.ingest([m.raw for m in me.messages + friend.messages], NOW_MS).rejected
    # room for one stranger's quota: a quota decides who goes first when the budget is exceeded
    budget = sum(store.usage().values()) + STRANGER_QUOTA_BYTES
    config = AdmissionConfig(hops=2, budget_bytes=budget)
    honest = Feed(key(3), LATER_MS)
    honest_vote = honest.add("vote", {"poll": poll.id, "choices": [0]})
    assert keep_replies(store, honest.messages, me.author) == [honest_vote]
    store.ingest_verified(honest.messages)
    flooded = 0
    for n in range(FLOODERS):
        flooder = Feed(key(10 + n), LATER_MS)
        pad = {"pad": "p" * 7_000} if n % 2 else {}  # the largest envelope a vote can be
        for i in range(VOTES_EACH if not pad else 40):
            flooder.add("vote", {"poll": poll.id, "choices": [i % MAX_POLL_OPTIONS], **pad})
        on_post = flooder.add("vote", {"poll": post.id, "choices": [0]})
        kept = keep_replies(store, flooder.messages, me.author)
        assert on_post not in kept and len(kept) == len(flooder.messages) - 1
        flooded += sum(len(m.raw) for m in kept)
        store.ingest_verified(kept)
        enforce_budget(store, compute_plan(store, me.author, config))
        usage = store.usage()
        assert sum(usage.values()) <= budget
        assert all(usage.get(a, 0) <= STRANGER_QUOTA_BYTES for a in (flooder.author, honest.author))
    assert flooded > 20 * STRANGER_QUOTA_BYTES
    # every flooder went whole; the honest stranger's one vote stays and counts under everyone
    assert {b.voter for b in ballots(store, poll.id)} == {honest.author}
    view = poll_view(store, me.author, poll.id, now_ms=NOW_MS)
    assert view.tally.everyone[0] == 1 and view.tally.for_you == (0.0,) * MAX_POLL_OPTIONS
    store.close()


def test_strangers_notes_ratings_labels_and_votes_on_deleted_polls_are_not_kept(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path)
    me, friend = Feed(key(1)), Feed(key(2))
    post = me.post("a claim")
    gone = me.add("poll", poll_body(NOW_MS + 10**9))
    me.delete(gone.id)
    note = friend.add("note", {"post": post.id, "text": "context"})
    store.ingest_verified(me.messages + friend.messages)
    stranger = Feed(key(9), LATER_MS)
    stranger.add("note", {"post": post.id, "text": "my context"})
    stranger.add("note-rating", {"note": note.id, "helpful": "no"})
    stranger.add("label", {"post": post.id, "value": "!hide"})
    stranger.add("label", {"key": me.author, "value": "spam"})
    stranger.add("vote", {"poll": gone.id, "choices": [0]})
    assert keep_replies(store, stranger.messages, me.author) == []
    reply = stranger.post("but a reply is kept", reply_to=post)
    assert keep_replies(store, stranger.messages, me.author) == [reply]
    store.close()


def test_labels_by_keys_not_subscribed_change_nothing(tmp_path: Path) -> None:
    """Labels held (by a followed key, or an author of the horizon) hide and warn nothing until the
    user subscribes to their labeller."""
    store = open_store(tmp_path)
    me, friend, far = Feed(key(1)), Feed(key(2)), Feed(key(3))
    me.follow(friend.author)
    friend.follow(far.author)
    post = friend.post("hello")
    mine = me.post("mine")
    for labeller in (friend, far):
        for value in ("!hide", "spam", "!warn", "nsfw"):
            labeller.add("label", {"post": post.id, "value": value})
            labeller.add("label", {"post": mine.id, "value": value})
            labeller.add("label", {"key": friend.author, "value": value})
            labeller.add("label", {"key": me.author, "value": value})
    store.ingest_verified(me.messages + friend.messages + far.messages)
    before = store.timeline(me.author, limit=50).items
    policy = load_policy(store, me.author)
    assert not policy.labels
    assert policy.hidden(post) is None and policy.hidden(mine) is None
    label_store.subscribe(store, far.author, {}, NOW_MS)  # the test can see a label
    assert load_policy(store, me.author).hidden(post) is not None
    label_store.unsubscribe(store, far.author)
    assert not load_policy(store, me.author).labels
    assert store.timeline(me.author, limit=50).items == before
    store.close()


def _honest_ratings(raters: list[bytes], notes: list[bytes]) -> list[Rating]:
    """Raters who agree the first note helps and split on the others (enough for statuses)."""
    return [
        Rating(u, n, 1.0 if j == 0 else float((i + j) % 2))
        for i, u in enumerate(raters)
        for j, n in enumerate(notes)
    ]


def test_a_sybil_set_moves_nothing_for_you_sans_io() -> None:
    me = b"\x01" * 32
    friends = [bytes([2 + i]) * 32 for i in range(6)]
    sybils = [(10**6 + i).to_bytes(32, "big") for i in range(SYBILS)]
    trusted = frozenset(friends)
    spec = PollSpec(me, 0, 10**6, MAX_POLL_OPTIONS, False)
    honest = [Ballot(f, 1, 10, 10, 1 << (i % 3)) for i, f in enumerate(friends)]
    flood = [Ballot(s, 1, 10, 10, 1 << (MAX_POLL_OPTIONS - 1)) for s in sybils]
    clean = tally(spec, honest, me=me, trusted=trusted)
    flooded = tally(spec, honest + flood, me=me, trusted=trusted)
    assert (flooded.for_you, flooded.voices, flooded.trusted_voters) == (
        clean.for_you,
        clean.voices,
        clean.trusted_voters,
    )
    assert flooded.everyone[-1] == SYBILS and flooded.outside == SYBILS
    # the sybils even merged into one cluster change nothing: none of them is trusted
    one = dict.fromkeys(sybils, sybils[0])
    assert tally(spec, honest + flood, me=me, trusted=trusted, cluster_of=one).for_you == (
        clean.for_you
    )

    notes = [bytes([200 + j]) * 32 for j in range(MIN_RATER_RATINGS)]
    ratings = _honest_ratings(friends, notes)
    against = [Rating(s, n, 0.0) for s in sybils for n in notes]  # each would enter the model
    model = fit(ratings)
    counted = [r for r in ratings + against if r.rater in trusted]  # as score_notes keeps them
    assert fit(counted).notes == model.notes
    # a cheap flood (one rating per fresh key) would not even enter an unfiltered model
    cheap = [Rating(s, notes[0], 0.0) for s in sybils]
    assert fit(ratings + cheap).notes == model.notes


def test_a_sybil_set_moves_nothing_for_you_in_the_store(tmp_path: Path) -> None:
    """1,000 fresh keys that follow the user and each other, vote on the user's poll and rate
    every note (ten each: enough to enter the model), all stored as if admitted."""
    store = open_store(tmp_path)
    me = Feed(key(1))
    friends = [Feed(key(2 + i), LATER_MS) for i in range(6)]
    poster, writer = Feed(key(20), LATER_MS), Feed(key(21), LATER_MS)
    for friend in (*friends, writer):
        me.follow(friend.author)
    poll = me.add("poll", poll_body(NOW_MS + 10**9))
    posts = [poster.post(f"claim {j}") for j in range(MIN_RATER_RATINGS)]
    notes = [
        writer.add("note", {"post": p.id, "text": f"context {j}"}) for j, p in enumerate(posts)
    ]
    for i, friend in enumerate(friends):
        friend.add("vote", {"poll": poll.id, "choices": [i % 3]})
        for j, note in enumerate(notes):
            helpful = "yes" if j == 0 else ("yes", "no")[(i + j) % 2]
            friend.add("note-rating", {"note": note.id, "helpful": helpful})
    feeds = [me, *friends, poster, writer]
    store.ingest_verified([m for f in feeds for m in f.messages])
    before_poll = poll_view(store, me.author, poll.id, now_ms=NOW_MS).tally
    before_notes = post_notes(store, me.author, posts[0].id, now_ms=NOW_MS)
    assert before_notes.raters == len(friends)
    assert [n.score.status for n in before_notes.notes] == ["helpful"]

    sybils = [Feed(fresh(n), LATER_MS) for n in range(SYBILS)]
    for n, sybil in enumerate(sybils):
        sybil.follow(me.author)
        sybil.follow(sybils[(n + 1) % SYBILS].author)
        sybil.add("vote", {"poll": poll.id, "choices": [MAX_POLL_OPTIONS - 1]})
        for note in notes:
            sybil.add("note-rating", {"note": note.id, "helpful": "no"})
    store.ingest_verified([m for s in sybils for m in s.messages])

    after_poll = poll_view(store, me.author, poll.id, now_ms=NOW_MS).tally
    assert after_poll.for_you == before_poll.for_you and after_poll.voices == before_poll.voices
    assert after_poll.everyone[-1] == SYBILS and after_poll.outside == SYBILS
    after_notes = post_notes(store, me.author, posts[0].id, now_ms=NOW_MS)
    assert [(n.score.status, n.score.intercept) for n in after_notes.notes] == [
        (n.score.status, n.score.intercept) for n in before_notes.notes
    ]
    assert after_notes.raters == before_notes.raters
    store.close()


#: Ballots on one poll and ratings of one note in the cost tests, counts.
COST_VOTERS = 50_000
#: Ceilings of the reads at COST_VOTERS, in seconds (measured ~0.5 s and ~1.5 s on the reference
#: machine: the ceilings leave room for a loaded one).
MAX_POLL_VIEW_S = 10.0
MAX_POST_NOTES_S = 15.0


@pytest.mark.slow
def test_the_cost_of_a_poll_with_50000_ballots_and_a_note_with_50000_ratings(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path)
    me, writer = Feed(key(1)), Feed(key(2))
    me.follow(writer.author)
    poll = me.add("poll", poll_body(NOW_MS + 10**9, multiple=True))
    post = me.post("a claim")
    note = writer.add("note", {"post": post.id, "text": "context"})
    store.ingest_verified(me.messages + writer.messages)
    figures: dict[str, float] = {}
    start = 0
    for count in (COST_VOTERS // 4, COST_VOTERS):
        started = time.perf_counter()
        batch = []
        for n in range(start, count):
            voter = Feed(fresh(n), LATER_MS)
            voter.add("vote", {"poll": poll.id, "choices": [n % 11, 11]})
            voter.add("note-rating", {"note": note.id, "helpful": ("yes", "no")[n % 2]})
            batch += voter.messages
        store.ingest_verified(batch)
        start = count
        figures[f"ingest {count}"] = time.perf_counter() - started
        started = time.perf_counter()
        view = poll_view(store, me.author, poll.id, now_ms=NOW_MS)
        figures[f"poll_view {count}"] = time.perf_counter() - started
        assert view.tally.voters == count and view.tally.for_you == (0.0,) * MAX_POLL_OPTIONS
        started = time.perf_counter()
        found = post_notes(store, me.author, post.id, now_ms=NOW_MS)
        figures[f"post_notes {count}"] = time.perf_counter() - started
        assert [n.score.status for n in found.notes] == ["needs more ratings"]
    print({k: round(v, 3) for k, v in figures.items()})
    assert figures[f"poll_view {COST_VOTERS}"] <= MAX_POLL_VIEW_S
    assert figures[f"post_notes {COST_VOTERS}"] <= MAX_POST_NOTES_S
    # linear, not worse: four times the ballots cost at most about four times as much
    for read in ("poll_view", "post_notes"):
        small, big = figures[f"{read} {COST_VOTERS // 4}"], figures[f"{read} {COST_VOTERS}"]
        assert big <= 8 * small + 0.2, (read, small, big)
    store.close()


def test_notes_the_users_policy_hides_are_not_shown(tmp_path: Path) -> None:
    """A blocked or muted author's note, or one a subscribed labeller hides, is left out of the
    post's notes as out of every read (it was shown before)."""
    store = open_store(tmp_path)
    me, poster, rude, spammy, fine = (Feed(key(n)) for n in range(1, 6))
    labeller = Feed(key(6))
    post = poster.post("a claim")
    rude_note = rude.add("note", {"post": post.id, "text": "rude"})
    spam_note = spammy.add("note", {"post": post.id, "text": "buy now"})
    fine_note = fine.add("note", {"post": post.id, "text": "context"})
    labeller.add("label", {"post": spam_note.id, "value": "spam"})
    me.add("mute", {"key": rude.author})
    store.ingest_verified(
        [m for f in (me, poster, rude, spammy, fine, labeller) for m in f.messages]
    )
    shown = [n.item.message.id for n in post_notes(store, me.author, post.id, now_ms=NOW_MS).notes]
    assert set(shown) == {spam_note.id, fine_note.id}  # the muted author's note is left out
    label_store.subscribe(store, labeller.author, {}, NOW_MS)
    shown = [n.item.message.id for n in post_notes(store, me.author, post.id, now_ms=NOW_MS).notes]
    assert shown == [fine_note.id] and rude_note.id not in shown
    store.close()
