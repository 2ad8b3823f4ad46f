"""The trust graph and personalised PageRank on small hand-checked graphs (pnyx/trust)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pnyx.trust import pagerank
from pnyx.trust.graph import MUTUAL_WEIGHT, TrustGraph
from pnyx.trust.pagerank import INCREMENTAL_TOLERANCE, ITERATIONS, RESTART
from pnyx.trust.paths import UNREACHED, hop_distances
from pnyx.trust.state import TrustState


def test_csr_rows_are_sorted_deduplicated_and_self_follows_dropped() -> None:
    g = TrustGraph.from_pairs([("b", "a"), ("a", "c"), ("a", "b"), ("a", "b"), ("c", "c")])
    assert g.keys == ["a", "b", "c"]
    assert g.indptr.tolist() == [0, 2, 3, 3]
    assert g.src.tolist() == [0, 0, 1]
    assert g.dst.tolist() == [1, 2, 0]


def test_each_truster_spreads_one_unit_and_mutual_follows_weigh_double() -> None:
    # a follows b (who follows back) and c (who does not): b gets 2/3, c gets 1/3
    g = TrustGraph.from_pairs([("a", "b"), ("b", "a"), ("a", "c")])
    w = dict(zip(zip(g.src.tolist(), g.dst.tolist(), strict=True), g.weight.tolist(), strict=True))
    assert MUTUAL_WEIGHT == 2.0
    assert w[(0, 1)] == pytest.approx(2 / 3) and w[(0, 2)] == pytest.approx(1 / 3)
    assert w[(1, 0)] == 1.0
    # an account following 10 others gives each a tenth, however many it follows
    spray = TrustGraph.from_pairs([("s", f"t{i}") for i in range(10)])
    assert spray.weight.tolist() == [0.1] * 10


def test_pagerank_on_one_edge_matches_the_closed_form() -> None:
    # u -> v, v follows nobody (its mass returns to u): v_k = 0.85/1.85 * (1 - (-0.85)^k)
    g = TrustGraph.from_pairs([("u", "v")])
    r = pagerank.personalised_pagerank(g, g.index_of("u"))
    d = 1 - RESTART
    expect_v = d / (1 + d) * (1 - (-d) ** ITERATIONS)
    assert r[1] == pytest.approx(expect_v, abs=1e-15)
    assert r[0] == pytest.approx(1 - expect_v, abs=1e-15)


def test_pagerank_two_steps_by_hand() -> None:
    # u -> a, u -> b, a -> c. Step 1: a = b = 0.85/2. Step 2: c = 0.85 * 0.425, and u gets
    # 0.15 plus 0.85 * (mass on b, which follows nobody) = 0.15 + 0.85 * 0.425.
    g = TrustGraph.from_pairs([("u", "a"), ("u", "b"), ("a", "c")])
    u = g.index_of("u")
    r1 = pagerank.iterate(g, u, pagerank.unit(g.n, u), 1)
    assert r1.tolist() == pytest.approx([0.425, 0.425, 0.0, 0.15])  # keys a, b, c, u
    r2 = pagerank.iterate(g, u, pagerank.unit(g.n, u), 2)
    assert r2[g.index_of("c")] == pytest.approx(0.85 * 0.425)
    assert r2[u] == pytest.approx(0.15 + 0.85 * 0.425)
    assert r2[g.index_of("a")] == pytest.approx(0.85 * 0.15 / 2)
    assert math.fsum(r2.tolist()) == pytest.approx(1.0)


def test_unreachable_identities_get_nothing_and_mass_stays_one() -> None:
    g = TrustGraph.from_pairs([("u", "a"), ("a", "b"), ("x", "y"), ("y", "u")])
    s = TrustState(g, "u")
    assert s.score("x") == 0.0 and s.score("y") == 0.0
    assert s.hops("x") is None and s.hops("b") == 2
    assert math.fsum(s.scores.tolist()) == pytest.approx(1.0)
    assert s.report("nobody").known is False and s.report("nobody").score == 0.0


def _random_graph(n: int, m: int, seed: int) -> TrustGraph:
    rng = np.random.default_rng(seed)
    keys = [f"k{i:04d}" for i in range(n)]
    return TrustGraph.from_arrays(keys, rng.integers(0, n, m), rng.integers(0, n, m))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_follow_and_unfollow_land_near_a_full_recompute(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagerank, "SMALL_GRAPH_EDGES", 0)  # exercise the incremental path
    g = _random_graph(400, 3_000, seed)
    s = TrustState(g, "k0000")
    rng = np.random.default_rng(seed + 100)
    changes = [("k0000", "k0399")]  # the user's own follow moves the most mass
    changes += [(f"k{a:04d}", f"k{b:04d}") for a, b in rng.integers(0, 400, (10, 2))]
    for a, b in changes:
        s.follow(a, b)
        full = pagerank.personalised_pagerank(g, s.user_index)
        assert float(np.abs(full - s.scores).sum()) <= INCREMENTAL_TOLERANCE
        assert s.dist.tolist() == hop_distances(g, s.user_index).tolist()
        assert s.scores.min() >= 0.0
    for a, b in changes[:3]:
        s.unfollow(a, b)
        full = pagerank.personalised_pagerank(g, s.user_index)
        assert float(np.abs(full - s.scores).sum()) <= INCREMENTAL_TOLERANCE
        assert s.dist.tolist() == hop_distances(g, s.user_index).tolist()


def test_follow_of_a_new_identity_grows_the_graph_and_reaches_it() -> None:
    g = TrustGraph.from_pairs([("u", "a")])
    s = TrustState(g, "u")
    assert s.follow("a", "new") is True
    assert s.follow("a", "new") is False  # already there: nothing changes
    assert s.hops("new") == 2 and s.score("new") > 0
    assert s.report("new").paths == (("u", "a", "new"),)
    assert s.unfollow("a", "new") is True and s.hops("new") is None
    assert s.dist[g.index_of("new")] == UNREACHED


def test_trusted_set_is_direct_follows_plus_the_top_ranked() -> None:
    g = TrustGraph.from_pairs([("u", "a"), ("a", "b"), ("b", "c"), ("x", "u")])
    s = TrustState(g, "u")
    assert s.trusted() == frozenset({"a", "b", "c"})  # x is unreachable, u itself excluded
    assert [g.keys[i] for i in s.ranking()] == ["a", "b", "c"]
    assert s.report("a").rank == 1 and s.report("c").rank == 3 and s.report("u").rank is None


def test_a_follow_far_from_the_user_is_a_sparse_update_close_to_a_full_recompute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a long chain u -> c1 -> ... -> c40 plus a random graph hanging off its end: a follow
    # deep in the random part carries little trust and must not touch the whole graph
    chain = [("u", "c01")] + [(f"c{i:02d}", f"c{i + 1:02d}") for i in range(1, 40)]
    rng = np.random.default_rng(5)
    rand = [(f"r{a:04d}", f"r{b:04d}") for a, b in rng.integers(0, 3000, (15_000, 2))]
    g = TrustGraph.from_pairs([*chain, ("c40", "r0000"), *rand])
    s = TrustState(g, "u")

    def no_dense(*_: object) -> None:
        raise AssertionError("went dense")

    monkeypatch.setattr(pagerank, "refine", no_dense)
    monkeypatch.setattr(pagerank, "SMALL_GRAPH_EDGES", 0)
    assert s.follow("r0001", "r2999") and s.follow("r0002", "new")
    full = pagerank.personalised_pagerank(g, s.user_index)
    assert float(np.abs(full - s.scores).sum()) <= 1e-6
    assert math.fsum(s.scores.tolist()) == pytest.approx(1.0, abs=1e-12)
    assert s.unfollow("r0001", "r2999")
    full = pagerank.personalised_pagerank(g, s.user_index)
    assert float(np.abs(full - s.scores).sum()) <= 1e-6


def test_small_graphs_match_a_full_compute_exactly_and_never_go_negative() -> None:
    s = TrustState(TrustGraph.from_pairs([], keys=["u"]), "u")
    assert s.scores.tolist() == [1.0]
    assert s.follow("u", "a")
    assert s.scores.tolist() == pagerank.personalised_pagerank(s.graph, 0).tolist()
    assert s.unfollow("u", "a")
    assert s.scores.tolist() == [1.0, 0.0]  # keys u, a: all trust back on the user
    assert s.report("a").rank is None and s.report("a").hops is None


def test_unfollowing_on_a_large_graph_leaves_no_negative_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pagerank, "SMALL_GRAPH_EDGES", 0)
    g = _random_graph(300, 1_500, 9)
    s = TrustState(g, "k0000")
    for v in [int(x) for x in g.followees(0)][:3]:
        assert s.unfollow("k0000", g.keys[v])
        assert s.scores.min() >= 0.0
        assert math.fsum(s.scores.tolist()) == pytest.approx(1.0, abs=1e-12)
