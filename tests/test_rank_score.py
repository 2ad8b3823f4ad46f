"""Scoring by recipe, the ``why`` and coordinated-amplification clusters, checked by hand.

The worked example here is the one in docs/ranking.md: every number is a binary fraction, so
the expected scores are exact."""

from __future__ import annotations

import dataclasses
import math

import pytest

from pnyx.rank.builtins import builtin
from pnyx.rank.clusters import MIN_POSTS, WINDOW_S, find_clusters, npmi
from pnyx.rank.model import Context, Engagement, Post
from pnyx.rank.recipe import parse
from pnyx.rank.score import HOUR_S, diversity_factor, rank, trust_reference

NOW = 100 * HOUR_S


def _example() -> tuple[list[Post], list[Engagement], Context]:
    posts = [
        Post("p1", "bob", NOW - 6 * HOUR_S),
        Post("p2", "bob", NOW - 12 * HOUR_S, reply_to="p0"),
        Post("p3", "alice", NOW),
        Post("p4", "mallory", NOW),  # neither followed nor trusted: not a candidate
    ]
    engagements = [
        Engagement("tom", "p1", "reaction", NOW - 3600),
        Engagement("c1", "p1", "repost", NOW - 3600),
        Engagement("c2", "p1", "repost", NOW - 3500),  # same cluster as c1: one voice
        Engagement("x", "p1", "reaction", NOW - 3600),  # not trusted: ignored
        Engagement("bob", "p1", "reaction", NOW - 3600),  # the author: ignored
        Engagement("alice", "p2", "reaction", NOW - 3600),
    ]
    ctx = Context(
        user="me",
        now=NOW,
        trust={"me": 0.4, "alice": 0.2, "bob": 0.1, "tom": 0.05, "c1": 0.01, "c2": 0.01},
        trusted=frozenset({"alice", "bob", "tom", "c1", "c2"}),
        following=frozenset({"alice"}),
        cluster_of={"c1": "c1", "c2": "c1"},
        negative={"bob": 1},
    )
    return posts, engagements, ctx


def test_worked_example_scores_exactly_as_by_hand() -> None:
    posts, engagements, ctx = _example()
    page = rank(builtin("for-you"), posts, engagements, ctx)
    assert [e.post for e in page] == ["p3", "p1", "p2"]
    p3, p1, p2 = page
    # p3: alice (followed), trust 0.2/0.2 = 1 (x3), just posted: recency 1 (x2)
    assert p3.score == 5.0 and p3.discounts == ()
    # p1: trust 0.1/0.2 = 0.5 -> 1.5; engagement log2(1 + 2*1 repost voice + 1*1 reaction) = 2;
    # recency 0.5**(6/6) = 0.5 -> 1.0; negative 1 -> -2.0; base 2.5; out of network x0.75
    terms = {t.name: (t.value, t.weight, t.contribution) for t in p1.terms}
    assert terms == {
        "engagement": (2.0, 1.0, 2.0),
        "negative": (1.0, -2.0, -2.0),
        "recency": (0.5, 2.0, 1.0),
        "trust": (0.5, 3.0, 1.5),
    }
    assert [(d.name, d.factor, d.contribution) for d in p1.discounts] == [
        ("out_of_network", 0.75, -0.625)
    ]
    assert p1.score == 1.875
    assert [(c.cluster, c.kind, c.actors) for c in p1.collapsed] == [("c1", "repost", ("c1", "c2"))]
    # p2: 1.5 + log2(2) + 0.5 - 2 = 1.0; reply x0.75 -> 0.75; out of network -> 0.5625;
    # second post of bob on the page: diversity 0.75 * 0.5 + 0.25 = 0.625 -> 0.3515625
    assert [(d.name, d.contribution) for d in p2.discounts] == [
        ("reply", -0.25),
        ("out_of_network", -0.1875),
        ("diversity", -0.2109375),
    ]
    assert p2.score == 0.3515625
    for e in page:
        e.check()
        assert math.fsum(e.contributions()) == e.score
        assert e.recipe_hash == builtin("for-you").hash
    assert "cluster c1: 2 reposts counted as one" in p1.text()
    assert p1.to_json()["score"] == 1.875


def test_following_is_time_order_of_followed_authors_and_the_user() -> None:
    posts = [
        Post("old", "alice", 10.0),
        Post("mine", "me", 30.0),
        Post("new", "alice", 40.0),
        Post("stranger", "bob", 50.0),
        Post("tie-b", "alice", 20.0),
        Post("tie-a", "carol", 20.0),
    ]
    ctx = Context(user="me", now=60.0, following=frozenset({"alice", "carol"}))
    page = rank(builtin("following"), posts, [], ctx)
    assert [e.post for e in page] == ["new", "mine", "tie-a", "tie-b", "old"]
    assert all(e.discounts == () for e in page)
    assert page[0].terms[0].value == 40.0 / HOUR_S


def test_author_diversity_discounts_each_further_post() -> None:
    assert [diversity_factor(builtin("for-you"), k) for k in range(4)] == [
        1.0,
        0.625,
        0.4375,
        0.34375,
    ]
    recipe = parse('name = "d"\n[terms.trust]\nweight = 1\n[modifiers]\ndiversity_floor = 0.25\n')
    posts = [Post(f"a{i}", "a", float(i)) for i in range(3)] + [Post("b0", "b", 0.0)]
    ctx = Context(user="me", now=10.0, trust={"a": 1.0, "b": 0.5})
    page = rank(recipe, posts, [], ctx)
    # a: 1, then 0.625 < b's 0.5? no: a2 -> 0.625 beats b0 0.5, then b0 0.5 beats a's 0.4375
    assert [(e.post, e.score) for e in page] == [
        ("a2", 1.0),
        ("a1", 0.625),
        ("b0", 0.5),
        ("a0", 0.4375),
    ]


def test_a_discount_never_raises_a_negative_score_and_hidden_posts_go() -> None:
    recipe = parse('name = "n"\n[terms.negative]\nweight = -1\n[modifiers]\nreply = 0.5\n')
    posts = [Post("r", "a", 0.0, reply_to="x"), Post("h", "a", 0.0)]
    ctx = Context(user="me", now=0.0, negative={"a": 2}, hidden=frozenset({"h"}))
    (only,) = rank(recipe, posts, [], ctx)
    assert only.post == "r" and only.score == -3.0  # -2, then the reply discount: -1 more


def test_npmi_by_hand() -> None:
    # 5 shared of 40 items, 10 each: ln((5/40) / (10/40)^2) / -ln(5/40) = ln 2 / ln 8
    assert npmi(5, 10, 10, 40) == pytest.approx(1 / 3)
    assert npmi(10, 10, 10, 10) == 1.0
    assert npmi(0, 10, 10, 40) == -1.0


def _acts(actor: str, posts: range, offset: float = 0.0, kind: str = "repost") -> list[Engagement]:
    return [
        Engagement(actor, f"p{i}", kind, i * WINDOW_S + offset)  # type: ignore[arg-type]
        for i in posts
    ]


def test_identities_acting_together_form_one_cluster_named_by_the_smallest_key() -> None:
    acts = _acts("s2", range(12)) + _acts("s1", range(12), 60) + _acts("s3", range(6, 18), 30)
    acts += _acts("h1", range(100, 112)) + _acts("h2", range(200, 212), kind="reaction")
    found = find_clusters(acts)
    # 42 items: s1, s2 share 12 (npmi = ln(42/12)/ln(42/12) = 1); s3 shares 6 with each:
    # ln((6/42)/((12/42)^2)) / -ln(6/42) = ln(1.75)/ln(7) = 0.2876 < 0.55: s3 stays apart
    assert found.members == {"s1": ("s1", "s2")}
    assert found.cluster_of == {"s1": "s1", "s2": "s1"}
    assert [(a, b) for a, b, _ in found.pairs] == [("s1", "s2")]


def test_union_find_joins_chains_and_windows_and_minimum_posts_matter() -> None:
    # a on p0..p11, b on p0..p17, c on p6..p17: a~b and b~c pass, a~c (6 shared) does not,
    # yet all three are one cluster through b
    acts = _acts("a", range(12)) + _acts("b", range(18)) + _acts("c", range(6, 18))
    acts += _acts("d", range(12), offset=WINDOW_S)  # same posts, the next window: apart
    acts += _acts("e", range(MIN_POSTS - 1))  # too few posts to judge
    acts += _acts("f", range(50, 74))
    found = find_clusters(acts)
    total = 18 + 12 + 24  # items: p0..p17 in their windows, d's 12 shifted ones, f's 24
    assert npmi(12, 12, 18, total) >= 0.55 and npmi(12, 18, 12, total) >= 0.55
    assert npmi(6, 12, 12, total) < 0.55
    assert found.members == {"a": ("a", "b", "c")}
    assert "d" not in found.cluster_of and "e" not in found.cluster_of
    assert find_clusters(reversed(acts)) == found  # the input order does not matter
    replies = [Engagement(x.actor, x.post, "reply", x.at) for x in acts]
    assert find_clusters(replies).members == {}


@pytest.mark.parametrize("seed", range(5))
def test_random_pages_are_ordered_and_every_why_adds_up(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    authors = [f"a{i}" for i in range(8)]
    posts = [
        Post(
            f"p{i}",
            rnd.choice(authors),
            NOW - rnd.uniform(0, 48 * HOUR_S),
            reply_to="x" if rnd.random() < 0.3 else None,
        )
        for i in range(60)
    ]
    kinds = ("reply", "repost", "reaction")
    engagements = [
        Engagement(rnd.choice(authors), rnd.choice(posts).id, rnd.choice(kinds), NOW)  # type: ignore[arg-type]
        for _ in range(200)
    ]
    ctx = Context(
        user="me",
        now=NOW,
        trust={a: rnd.random() for a in authors},
        trusted=frozenset(authors[:6]),
        following=frozenset(authors[:3]),
        cluster_of={"a4": "a4", "a5": "a4"},
        negative={"a1": rnd.randint(0, 5)},
    )
    page = rank(builtin("for-you"), posts, engagements, ctx, limit=1_000)
    eligible = {p.id for p in posts if p.author in authors[:6]}
    assert {e.post for e in page} == eligible and len(page) == len(eligible)
    scores = [e.score for e in page]
    assert scores == sorted(scores, reverse=True)
    for e in page:
        assert math.fsum(e.contributions()) == e.score
        assert all(d.contribution <= 0 for d in e.discounts)


@pytest.mark.parametrize("seed", range(6))
def test_place_is_the_full_pages_entry(seed: int) -> None:
    """``place`` (``pnyx why``) gives exactly ``rank``'s entry: position, terms, discounts
    (diversity, reply, out of network) and clusters collapsed."""
    import dataclasses
    import random

    from pnyx.rank.score import MAX_PAGE, place

    rnd = random.Random(seed)
    authors = [f"a{i}" for i in range(6)]
    posts = [
        Post(
            f"p{i}",
            rnd.choice(authors),
            NOW - rnd.uniform(0, 48 * HOUR_S),
            "x" if i % 3 == 0 else None,
        )
        for i in range(80)
    ]
    kinds = ("reply", "repost", "reaction")
    engagements = [
        Engagement(rnd.choice(authors), rnd.choice(posts).id, rnd.choice(kinds), NOW)  # type: ignore[arg-type]
        for _ in range(400)
    ]
    ctx = Context(
        user="me",
        now=NOW,
        trust={a: rnd.random() for a in authors},
        trusted=frozenset(authors),
        following=frozenset(authors[:3]),
        cluster_of={"a4": "a4", "a5": "a4"},
    )
    base = builtin("for-you")
    mods = {**base.modifiers, "reply": 0.5, "out_of_network": 0.75, "diversity_floor": 0.25}
    for recipe in (base, dataclasses.replace(base, authors="any", modifiers=mods)):
        page = rank(recipe, posts, engagements, ctx, limit=MAX_PAGE)
        assert any(e.collapsed for e in page) and any(e.discounts for e in page)
        for e in page[:3] + rnd.sample(page, 10) + page[-3:]:
            assert place(recipe, posts, engagements, ctx, e.post) == e
        assert place(recipe, posts, engagements, ctx, "unknown") is None


def test_a_kept_trust_unit_gives_the_same_page_as_the_scan() -> None:
    recipe = parse('name = "t"\n[terms.trust]\nweight = 1\n')
    posts = [Post("p1", "a", 0.0), Post("p2", "b", 0.0), Post("p3", "me", 0.0)]
    trust = {"a": 0.4, "b": 0.2, "me": 0.9}  # the user's own score is never the unit
    scanned = Context(user="me", now=0.0, trust=trust)
    kept = dataclasses.replace(scanned, trust_max=0.4)
    assert trust_reference(scanned) == trust_reference(kept) == 0.4
    assert rank(recipe, posts, [], kept) == rank(recipe, posts, [], scanned)
    assert [e.score for e in rank(recipe, posts, [], kept)] == [1.0, 1.0, 0.5]
