"""Hop distances, shortest follow paths and one-step signals on hand-checked graphs."""

from __future__ import annotations

from pnyx.trust.graph import TrustGraph
from pnyx.trust.paths import hop_distances, shortest_paths
from pnyx.trust.signals import SignalIndex
from pnyx.trust.state import TrustState


def test_up_to_three_shortest_paths_in_key_order() -> None:
    pairs = [("u", m) for m in ("d", "b", "a", "c")] + [(m, "t") for m in ("a", "b", "c", "d")]
    pairs += [("u", "x"), ("x", "y"), ("y", "t")]  # longer: never listed
    s = TrustState(TrustGraph.from_pairs(pairs), "u")
    report = s.report("t")
    assert report.hops == 2
    assert report.paths == (("u", "a", "t"), ("u", "b", "t"), ("u", "c", "t"))
    assert report.to_json()["paths"] == [["u", "a", "t"], ["u", "b", "t"], ["u", "c", "t"]]


def test_paths_through_two_layers_branch_deterministically() -> None:
    # u -> a -> {p, q} -> t and u -> b -> q -> t: paths (u,a,p,t), (u,a,q,t), (u,b,q,t)
    pairs = [("u", "b"), ("u", "a"), ("a", "q"), ("a", "p"), ("b", "q"), ("p", "t"), ("q", "t")]
    g = TrustGraph.from_pairs(pairs)
    dist = hop_distances(g, g.index_of("u"))
    found = [[g.keys[i] for i in p] for p in shortest_paths(g, dist, g.index_of("t"))]
    assert found == [["u", "a", "p", "t"], ["u", "a", "q", "t"], ["u", "b", "q", "t"]]
    assert shortest_paths(g, dist, g.index_of("t"), limit=1) == [
        [g.index_of(k) for k in ("u", "a", "p", "t")]
    ]


def test_the_user_is_at_hop_zero_with_one_trivial_path() -> None:
    s = TrustState(TrustGraph.from_pairs([("u", "a")]), "u")
    assert s.report("u").hops == 0 and s.report("u").paths == (("u",),)


def test_signals_count_only_trusted_actors_and_never_propagate() -> None:
    # u follows a, b, c; z is followed by a, b and by outsider x. b and c mute z, x blocks z.
    pairs = [("u", "a"), ("u", "b"), ("u", "c"), ("a", "z"), ("b", "z"), ("x", "z"), ("z", "w")]
    s = TrustState(TrustGraph.from_pairs(pairs), "u")
    index = SignalIndex(mutes=[("b", "z"), ("c", "z"), ("x", "z")], blocks=[("x", "z")])
    sig = index.signals("z", "u", s.trusted(), s.graph)
    assert (sig.followed_by_trusted, sig.muted_by_trusted, sig.blocked_by_trusted) == (2, 2, 0)
    assert sig.summary() == "followed by 2 you trust, muted by 2 you trust"
    # w, followed by the muted z, is not touched by the mutes of z
    w = index.signals("w", "u", s.trusted(), s.graph)
    assert (w.muted_by_trusted, w.blocked_by_trusted) == (0, 0)
    # and the mutes never change a trust score
    before = s.scores.copy()
    index.mute("a", "z")
    assert (s.scores == before).all()
    # the user's own relation is reported apart
    index.block("u", "z")
    own = index.signals("z", "u", s.trusted(), s.graph)
    assert own.you_block and not own.you_follow and own.muted_by_trusted == 3
    assert own.summary().endswith("you block")
    assert index.signals("a", "u", s.trusted(), s.graph).you_follow


def test_top_score_is_the_highest_score_but_the_users_and_follows_changes() -> None:
    s = TrustState(TrustGraph.from_pairs([("u", "a"), ("u", "b"), ("a", "b")]), "u")
    others = {k: v for k, v in zip(s.graph.keys, s.scores.tolist(), strict=True) if k != "u"}
    assert s.top_score() == max(others.values()) == s.score("b")
    assert s.score("u") > s.top_score()  # the user's own score is never the unit
    s.follow("u", "c")
    assert s.top_score() == max(s.score(k) for k in ("a", "b", "c"))
    assert TrustState(TrustGraph.from_pairs([("u", "u2")]), "u2").top_score() == 0.0
