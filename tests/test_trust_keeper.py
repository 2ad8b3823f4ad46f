"""The node's trust state as derived state (pnyx.node.trust_keeper): copy-on-write incremental
updates checked by hand, and the keeper fed from Stored and interest events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from pnyx.events import InterestChanged, NodeEvents, Source, Stored
from pnyx.node.trust_keeper import TrustKeeper, apply_edges
from pnyx.reads import feed
from pnyx.reads.search import search
from pnyx.reads.trust import load_trust, trust_report
from pnyx.runtime import inline
from pnyx.store import Store
from pnyx.trust.graph import TrustGraph
from pnyx.trust.state import TrustState
from tests.store_helpers import Feed, key

ME, A, B = "00" * 32, "aa" * 32, "bb" * 32


def test_one_follow_updates_a_copy_to_the_hand_computed_scores() -> None:
    """me -> a; then me -> b. Everyone but me follows nobody, so the walk returns to me: the
    share at me after k steps from me is x_k = 0.15 + 0.85 (1 - x_(k-1)), x_0 = 1, i.e.
    x_k = 1/1.85 + (-0.85)^k 0.85/1.85; 20 steps. The rest is split evenly among my follows.
    The graph is small, so the update is exact (a full compute: pagerank.SMALL_GRAPH_EDGES)."""
    before = TrustState(TrustGraph.from_pairs([(ME, A)], [B]), ME)
    after = apply_edges(before, [((bytes.fromhex(ME), bytes.fromhex(B)), True)])
    x20 = 1 / 1.85 + 0.85**20 * 0.85 / 1.85
    assert after.score(ME) == pytest.approx(x20, abs=1e-12)
    assert after.score(A) == after.score(B) == pytest.approx((1 - x20) / 2, abs=1e-12)
    assert after.hops(B) == 1
    # the published state is untouched: copy-on-write
    assert before.score(A) == pytest.approx(1 - x20, abs=1e-12) and before.score(B) == 0.0
    assert before.hops(B) is None and not before.graph.has_edge(0, before.graph.index[B])
    back = apply_edges(after, [((bytes.fromhex(ME), bytes.fromhex(B)), False)])
    assert back.score(A) == pytest.approx(before.score(A), abs=1e-12) and back.score(B) == 0.0


def _node(store: Store, me: bytes, followed: set[bytes]) -> SimpleNamespace:
    return SimpleNamespace(
        store=store,
        me=me,
        events=NodeEvents(),
        offload=inline,
        clock_ms=lambda: 1_000,
        followed_authors=lambda: frozenset(followed | {me}),
    )


@contextmanager
def _kept(path: Path) -> Iterator[tuple[Feed, Feed, Feed, Store, SimpleNamespace, TrustKeeper]]:
    """Me following alice (stored), bob unknown, and a keeper of my trust not yet run."""
    me, alice, bob = Feed(key(1)), Feed(key(2)), Feed(key(3))
    me.follow(alice.author)
    with Store.open(path / "pnyx.db") as store:
        store.ingest_verified(me.messages)
        node = _node(store, me.author, {alice.author})
        yield me, alice, bob, store, node, TrustKeeper(node)  # type: ignore[arg-type]


async def test_the_keeper_follows_stored_follows_and_the_users_own(tmp_path: Path) -> None:
    with _kept(tmp_path) as (me, alice, bob, store, node, keeper):
        assert keeper.snapshot() is None
        await keeper.step()
        first = keeper.snapshot()
        assert first is not None and not first.incremental and keeper.recomputes == 1
        assert first.state.score(bob.author.hex()) == 0.0
        node.events.interest.publish(InterestChanged(frozenset()))  # remembers the follows
        # alice follows bob (received): an incremental update, as a full compute gives
        alice.follow(bob.author)
        store.ingest_verified(alice.messages)
        node.events.stored.publish(Stored(alice.messages, Source.GOSSIP))
        await keeper.step()
        second = keeper.snapshot()
        assert second is not None and second.incremental and keeper.updates == 1
        full = load_trust(store, me.author)
        assert second.state.score(bob.author.hex()) == pytest.approx(
            full.score(bob.author.hex()), abs=1e-12
        )
        assert second.state.hops(bob.author.hex()) == 2
        assert first.state.score(bob.author.hex()) == 0.0  # the old snapshot is unchanged
        assert second.age_ms(1_500) == 500
        # the user follows bob (their own message: an interest change, not a Stored event)
        me.follow(bob.author)
        store.ingest_verified(me.messages)
        node.followed_authors = lambda: frozenset({me.author, alice.author, bob.author})
        node.events.interest.publish(InterestChanged(frozenset()))
        await keeper.step()
        third = keeper.snapshot()
        assert third is not None and third.state.hops(bob.author.hex()) == 1
        # the reads take the kept state
        view = trust_report(store, me.author, bob.author, trust=third.state)
        assert view.report.hops == 1
        assert search(store, me.author, "nothing", trust=third.state).posts == []
        page = feed.ranked_timeline(store, me.author, "for-you", trust=third.state)
        assert page.items == []


async def test_a_node_process_freezes_its_heap_after_full_computes_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from pnyx import runtime

    frozen: list[int] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(1))
    with _kept(tmp_path) as (_me, alice, bob, store, node, keeper):
        await keeper.step()
        assert frozen == []  # not a node process (a test): nothing frozen
        monkeypatch.setitem(runtime._FREEZING, "on", True)  # as `pnyx run` turns it on
        keeper._full = True
        await keeper.step()
        assert frozen == [1] and keeper.recomputes == 2
        snap = keeper.snapshot()
        assert snap is not None and snap.state._score_map is not None  # warmed in the worker
        node.events.interest.publish(InterestChanged(frozenset()))
        alice.follow(bob.author)
        store.ingest_verified(alice.messages)
        node.events.stored.publish(Stored(alice.messages, Source.GOSSIP))
        await keeper.step()
        assert keeper.updates == 1 and frozen == [1]  # an incremental update freezes nothing
