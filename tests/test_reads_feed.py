"""The ranked reads over small stores checked by hand: ranked_timeline, why, clusters, recipes.

The people (every edge a signed follow held in the store):

    me -> alice, bob        alice -> carol        mal: followed by no one

"Now" is NOW_MS. The test recipe ``buzz`` has no trust term, so every score is checkable by hand:

    engagement (weight 1; reply 3, repost 2, reaction 1)   recency (weight 2, half-life 6 h)
    out_of_network = 0.5

* alice's post, 6 h old: reactions by bob (trusted), by mal (not trusted: ignored) and by alice
  (the author: ignored), a repost by me: log2(1 + 2 + 1) = 2, recency 0.5 * 2 = 1: **3**;
* carol's post, posted now, no engagement: 0 + 1 * 2 = 2, out of network takes 0.5 * 2: **1**;
* my post, 12 h old: recency 0.25 * 2: **0.5**;
* mal's post: neither followed nor trusted, so not a candidate.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pnyx.core.envelope import Message
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NotFoundError, UserError
from pnyx.rank.builtins import BUILTINS
from pnyx.rank.recipe import MAX_RECIPE_BYTES, RecipeError
from pnyx.reads import clusters, feeds, ranked_timeline, why
from pnyx.reads.trust import load_trust
from pnyx.store import Cursor, Store
from tests.store_helpers import NOW_MS, Feed, key, open_store

HOUR_MS = 3600 * 1000
BUZZ = """\
name = "buzz"
authors = "trusted"
[terms.engagement]
weight = 1
[terms.recency]
weight = 2
[modifiers]
out_of_network = 0.5
"""


def _ref(post: Message) -> dict[str, Any]:
    return {"id": post.id, "author": post.author}


def _like(feed: Feed, post: Message, ts: int) -> Message:
    return feed.add("reaction", {**_ref(post), "reaction": "+"}, ts=ts)


World = tuple[Store, dict[str, Feed], dict[str, Message], Path]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    f = {name: Feed(key(n)) for n, name in enumerate(("me", "alice", "bob", "carol", "mal"), 1)}
    f["alice"].profile(name="Alice")
    f["carol"].profile(name="Carol")
    f["me"].follow(f["alice"].author)
    f["me"].follow(f["bob"].author)
    f["alice"].follow(f["carol"].author)
    p = {
        "alice": f["alice"].post("from alice", ts=NOW_MS - 6 * HOUR_MS),
        "carol": f["carol"].post("from carol", ts=NOW_MS),
        "me": f["me"].post("from me", ts=NOW_MS - 12 * HOUR_MS),
        "mal": f["mal"].post("from mal", ts=NOW_MS),
    }
    for name in ("bob", "mal", "alice"):
        _like(f[name], p["alice"], NOW_MS - HOUR_MS)
    f["me"].add("repost", _ref(p["alice"]), ts=NOW_MS - HOUR_MS)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "buzz.toml").write_text(BUZZ, encoding="utf-8")
    with open_store(tmp_path) as store:
        report = store.ingest([raw for feed in f.values() for raw in feed.raws()], NOW_MS)
        assert not report.rejected
        yield store, f, p, recipes


def test_ranked_feed_scores_by_hand(world: World) -> None:
    store, f, p, recipes = world
    page = ranked_timeline(store, f["me"].author, "buzz", 10, recipes_dir=recipes, now_ms=NOW_MS)
    assert [i.item.id for i in page.items] == [p["alice"].id, p["carol"].id, p["me"].id]
    assert [i.score for i in page.items] == [3.0, 1.0, 0.5]
    assert page.next is None and page.recipe.name == "buzz"
    top = page.items[0].explanation
    assert top is not None
    assert [(t.name, t.value, t.weight, t.contribution) for t in top.terms] == [
        ("engagement", 2.0, 1.0, 2.0),
        ("recency", 0.5, 2.0, 1.0),
    ]
    carol = page.items[1].explanation
    assert carol is not None and [(d.name, d.contribution) for d in carol.discounts] == [
        ("out_of_network", -1.0)
    ]


def test_following_is_exactly_the_timeline(world: World) -> None:
    store, f, _, _ = world
    me = f["me"].author
    for limit in (1, 2, 20):
        page = ranked_timeline(store, me, "following", limit)
        plain = store.timeline(me, limit=limit)
        assert [i.item for i in page.items] == plain.items and page.next == plain.next
        assert all(i.explanation is None and i.score is None for i in page.items)


def test_why_sums_to_the_score_and_names_the_source(world: World) -> None:
    store, f, p, recipes = world
    me = f["me"].author
    view = why(store, me, p["carol"].id, "buzz", recipes_dir=recipes, now_ms=NOW_MS)
    assert view.explanation.score == 1.0 and view.explanation.position == 1
    assert math.fsum(view.explanation.contributions()) == view.explanation.score
    view.explanation.check()
    assert view.source.hops == 2 and view.source.text(view.names) == "2 hops via Alice"
    text = view.text()
    assert text.splitlines()[0] == f"post {p['carol'].id.hex()[:12]} by Carol: position 2"
    assert text.splitlines()[1] == "source: 2 hops via Alice"
    data = view.to_json()
    assert data["author"] == encode_public_key(f["carol"].author) and data["score"] == 1.0
    own = why(store, me, p["alice"].id, "buzz", recipes_dir=recipes, now_ms=NOW_MS)
    assert own.source.text(own.names) == "in-network" and own.explanation.score == 3.0
    for_you = why(store, me, p["carol"].id, "for-you", now_ms=NOW_MS)
    for_you.explanation.check()
    assert for_you.explanation.recipe_hash == BUILTINS["for-you"].hash
    with pytest.raises(UserError, match="not in the feed 'buzz'"):
        why(store, me, p["mal"].id, "buzz", recipes_dir=recipes, now_ms=NOW_MS)


def test_for_you_explanations_add_up(world: World) -> None:
    """alice and bob share the top trust (one half of the user's vote each), so alice's trust
    term is 1: 3 + engagement 2 + recency 0.5 * 2 + negative 0 = 6. The user's own post: trust 1
    (own) * 3 + recency 0.25 * 2 = 3.5. carol's trust is a fraction (checked against the state)."""
    store, f, p, _ = world
    page = ranked_timeline(store, f["me"].author, "for-you", 10, now_ms=NOW_MS)
    assert {i.item.id for i in page.items} == {p["alice"].id, p["carol"].id, p["me"].id}
    scores = {i.item.id: i.score for i in page.items}
    assert page.items[0].item.id == p["alice"].id
    assert scores[p["alice"].id] == 6.0 and scores[p["me"].id] == 3.5
    for item in page.items:
        assert item.explanation is not None
        assert math.fsum(item.explanation.contributions()) == item.score
    carol = next(i.explanation for i in page.items if i.item.id == p["carol"].id)
    assert carol is not None
    state = load_trust(store, f["me"].author)
    expected = state.score(f["carol"].author.hex()) / state.score(f["alice"].author.hex())
    assert 0 < expected < 1
    assert [t.value for t in carol.terms if t.name == "trust"] == [expected]


def test_recipe_files_are_checked(world: World) -> None:
    store, f, _, recipes = world
    (recipes / "for-you.toml").write_text(BUZZ.replace("buzz", "for-you"), encoding="utf-8")
    with pytest.raises(RecipeError, match=re.escape("'for-you' is a built-in")):
        feeds(recipes)
    (recipes / "for-you.toml").unlink()
    with pytest.raises(RecipeError, match=re.escape("no feed '../buzz'")):
        ranked_timeline(store, f["me"].author, "../buzz", recipes_dir=recipes)
    (recipes / "big.toml").write_bytes(b"#" * (MAX_RECIPE_BYTES + 1))
    with pytest.raises(RecipeError, match=re.escape("big.toml: recipe: file is larger than")):
        ranked_timeline(store, f["me"].author, "big", recipes_dir=recipes)
    (recipes / "big.toml").unlink()
    assert [x.recipe.name for x in feeds(None)] == ["following", "for-you"]
    assert feeds(recipes)[2].to_json()["source"] == str(recipes / "buzz.toml")
    with pytest.raises(UserError, match=re.escape("1..500 posts")):
        ranked_timeline(store, f["me"].author, "buzz", 501, recipes_dir=recipes)


def test_before_bounds_the_candidates(world: World) -> None:
    store, f, p, recipes = world
    me = f["me"].author
    cursor = Cursor(p["alice"].ts, p["alice"].id)  # only posts older than alice's
    page = ranked_timeline(store, me, "buzz", 10, cursor, recipes_dir=recipes, now_ms=NOW_MS)
    assert [i.item.id for i in page.items] == [p["me"].id]


def test_unknown_feed_lists_the_feeds(world: World) -> None:
    store, f, _, recipes = world
    with pytest.raises(RecipeError, match="the feeds are: buzz, following, for-you"):
        ranked_timeline(store, f["me"].author, "nope", recipes_dir=recipes)
    assert [x.recipe.name for x in feeds(recipes)] == ["following", "for-you", "buzz"]
    (recipes / "other.toml").write_text(BUZZ, encoding="utf-8")
    with pytest.raises(RecipeError, match="differs from the file name"):
        feeds(recipes)


def test_a_cluster_counts_once(tmp_path: Path) -> None:
    f = {name: Feed(key(n)) for n, name in enumerate(("me", "alice", "c1", "c2"), 1)}
    for name in ("alice", "c1", "c2"):
        f["me"].follow(f[name].author)
    posts = [f["alice"].post(f"post {i}", ts=NOW_MS - (20 - i) * HOUR_MS) for i in range(10)]
    for post in posts:  # c1 and c2 repost all ten posts in the same 20-minute windows
        for name in ("c1", "c2"):
            f[name].add("repost", _ref(post), ts=post.ts + 60_000)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "loud.toml").write_text(
        'name = "loud"\n[terms.engagement]\nweight = 1\nrepost = 3\n', encoding="utf-8"
    )
    with open_store(tmp_path) as store:
        store.ingest([raw for feed in f.values() for raw in feed.raws()], NOW_MS)
        me = f["me"].author
        view = why(store, me, posts[0].id, "loud", recipes_dir=recipes, now_ms=NOW_MS)
        (term,) = view.explanation.terms
        assert term.value == 2.0  # log2(1 + 3 * one voice), not log2(1 + 3 * 2)
        (collapsed,) = view.explanation.collapsed
        c1, c2 = sorted([f["c1"].author, f["c2"].author])
        assert collapsed.kind == "repost" and collapsed.actors == (c1.hex(), c2.hex())
        assert collapsed.cluster == c1.hex()
        found = clusters(store, me, now_ms=NOW_MS)
        assert found.groups() == [(c1, (c1, c2))] and found.actions == 20
        assert found.to_json()["clusters"] == [
            {
                "cluster": encode_public_key(c1),
                "members": [encode_public_key(c1), encode_public_key(c2)],
            }
        ]
        later = clusters(store, me, now_ms=NOW_MS + 8 * 24 * HOUR_MS)  # outside the window
        assert later.groups() == [] and later.actions == 0


def test_deleted_posts_and_other_kinds_are_not_explained(world: World) -> None:
    store, f, p, recipes = world
    me = f["me"].author
    follow = f["me"].messages[0]
    with pytest.raises(UserError, match="is a follow, not a post"):
        why(store, me, follow.id, "buzz", recipes_dir=recipes, now_ms=NOW_MS)
    with pytest.raises(NotFoundError, match="no message"):
        why(store, me, bytes(32), "buzz", recipes_dir=recipes, now_ms=NOW_MS)
    gone = f["carol"].delete(p["carol"].id)
    store.ingest([gone.raw], NOW_MS)
    with pytest.raises(NotFoundError, match="deleted by its author"):
        why(store, me, p["carol"].id, "buzz", recipes_dir=recipes, now_ms=NOW_MS)
    page = ranked_timeline(store, me, "buzz", 10, recipes_dir=recipes, now_ms=NOW_MS)
    assert [i.item.id for i in page.items] == [p["alice"].id, p["me"].id]


def test_a_recipe_without_engagement_reads_no_engagements(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, f, p, recipes = world
    (recipes / "latest.toml").write_text(
        'name = "latest"\nauthors = "any"\n[terms.time]\nweight = 1\n', encoding="utf-8"
    )

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("engagements read for a recipe without an engagement term")

    monkeypatch.setattr(store, "actions", refuse)
    page = ranked_timeline(store, f["me"].author, "latest", 10, recipes_dir=recipes)
    newest_first = sorted(p.values(), key=lambda m: (-m.ts, m.id))  # ties: the smaller id
    assert [i.item.id for i in page.items] == [m.id for m in newest_first]
    with pytest.raises(AssertionError, match="engagements read"):
        ranked_timeline(store, f["me"].author, "buzz", 10, recipes_dir=recipes)
