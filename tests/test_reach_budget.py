"""The storage budget (pnyx/node/reach, pnyx/store/budget): a flood of strangers cannot fill the
store, own and followed feeds survive, and eviction keeps every derived table consistent."""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from pnyx.node.reach import compute_plan, enforce_budget, keep_replies
from pnyx.store import Store
from pnyx.trust.admission import STRANGER_QUOTA_BYTES, AdmissionConfig, Horizon
from tests.store_helpers import NOW_MS, Feed, key, open_store

#: Strangers flooding the store, a count; posts each, and the text of each post.
STRANGERS = 60
POSTS_EACH = 80
FILLER = "x" * 900


def _ingest(store: Store, feed: Feed) -> None:
    report = store.ingest(feed.raws(), NOW_MS)
    assert not report.rejected


def _integrity(path: Path) -> None:
    """The full-text indexes match their content, and the totals match the rows."""
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')")
        held = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        total = conn.execute("SELECT value FROM stats WHERE name = 'messages'").fetchone()[0]
        assert held == total
        per_author = conn.execute("SELECT coalesce(sum(held), 0) FROM authors").fetchone()[0]
        assert per_author == held
        posts = conn.execute("SELECT value FROM stats WHERE name = 'posts'").fetchone()[0]
        assert posts == conn.execute("SELECT coalesce(sum(posts), 0) FROM authors").fetchone()[0]


def test_a_flood_of_strangers_stays_within_the_budget(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    me, friend, far = Feed(key(1)), Feed(key(2)), Feed(key(3))
    me.follow(friend.author)
    mine = me.post("hello")
    friend.follow(far.author)
    for i in range(40):
        me.post(f"mine {i} {FILLER}")
        friend.post(f"friend {i} {FILLER}")
        far.post(f"far {i} {FILLER}")
    for feed in (me, friend, far):
        _ingest(store, feed)
    pinned_bytes = sum(len(m.raw) for m in (*me.messages, *friend.messages))
    far_bytes = sum(len(m.raw) for m in far.messages)
    budget = pinned_bytes + far_bytes + 30_000  # room for the 2-hop feed and some replies
    config = AdmissionConfig(hops=2, budget_bytes=budget)
    plan = compute_plan(store, me.author, config)
    assert plan.horizon == {far.author}
    assert enforce_budget(store, plan) == []

    flooded = 0
    replies = []
    for n in range(STRANGERS):
        # a flooder: a reply to my post, then a feed well over a stranger's quota
        flooder = Feed(key(10 + n))
        reply = flooder.post("a flooder's reply", reply_to=mine)
        for i in range(POSTS_EACH):
            flooder.post(f"flooder {n} post {i} {FILLER}")
        flooded += sum(len(m.raw) for m in flooder.messages)
        assert keep_replies(store, flooder.messages, me.author) == [reply]  # only the reply answers
        _ingest(store, flooder)  # worst case: as if all of it had been admitted
        # a replier: one reply, at seq 1 of its feed, as gossip brings it
        replier = Feed(key(100 + n))
        replies.append(replier.post(f"replier {n} answers", reply_to=mine))
        assert store.ingest_verified(keep_replies(store, replier.messages, me.author)).accepted
        enforce_budget(store, compute_plan(store, me.author, config))
        assert sum(store.usage().values()) <= budget
    assert flooded > 10 * budget  # the flood was more than ten budgets

    # own, followed and (here) the 2-hop feed are whole
    assert len(store.feed(me.author, limit=500).items) == len(me.messages)
    assert len(store.feed(friend.author, limit=500).items) == len(friend.messages)
    assert len(store.feed(far.author, limit=500).items) == len(far.messages)
    # every flooder went whole (over quota, first to go); the repliers' replies fit and stay
    assert store.search_posts("flooder") == []
    thread = store.thread(mine.id)
    assert {t.message.id for t in thread} == {mine.id, *(r.id for r in replies)}
    usage = store.usage()
    assert all(usage[r.author] <= STRANGER_QUOTA_BYTES for r in replies)
    assert store.timeline(me.author, limit=10).items
    _integrity(store.path)
    store.close()


def test_eviction_drops_the_lowest_trust_and_keeps_tables_consistent(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    me, b, c, e = Feed(key(1)), Feed(key(2)), Feed(key(3)), Feed(key(4))
    f = Feed(key(5))
    me.follow(b.author)
    me.follow(f.author)
    b.follow(c.author)
    f.follow(c.author)
    b.follow(e.author)
    e.profile(name="eve")
    e.follow(me.author)
    for i in range(10):
        c.post(f"c {i} {FILLER}")
        e.post(f"e {i} {FILLER}")
    for feed in (me, b, c, e, f):
        _ingest(store, feed)
    plan = compute_plan(store, me.author, AdmissionConfig(hops=2))
    assert plan.horizon == {c.author, e.author}
    assert plan.score(c.author) > plan.score(e.author)  # c is followed by two of my follows
    usage = store.usage()
    tight = replace_budget(plan, sum(usage.values()) - 1)
    assert enforce_budget(store, tight) == [e.author]  # the least trusted horizon author
    assert store.feed(e.author).items == [] and store.profile(e.author) is None
    assert store.search_profiles("eve") == [] and store.search_posts("e") == []
    assert e.author not in store.usage()
    assert store.counts()["authors"] == 4
    _integrity(store.path)
    # the evicted author's messages can arrive again (a new chain from what arrives)
    _ingest(store, e)
    assert len(store.feed(e.author, limit=100).items) == len(e.messages)
    _integrity(store.path)
    store.close()


def replace_budget(plan: Horizon, budget: int) -> Horizon:
    return replace(plan, budget_bytes=budget)


@pytest.mark.parametrize("hops", [1, 3])
def test_hops_bound_the_horizon(tmp_path: Path, hops: int) -> None:
    store = open_store(tmp_path)
    chain = [Feed(key(n)) for n in range(1, 6)]  # 1 -> 2 -> 3 -> 4 -> 5
    for left, right in itertools.pairwise(chain):
        left.follow(right.author)
    for feed in chain:
        _ingest(store, feed)
    plan = compute_plan(store, chain[0].author, AdmissionConfig(hops=hops))
    assert plan.horizon == {feed.author for feed in chain[2 : hops + 1]}
    store.close()
