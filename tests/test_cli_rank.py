"""``pnyx timeline --feed``, ``pnyx why``, ``pnyx recipes`` and ``pnyx clusters`` through
``main(argv)``.

The user follows alice and bob (with ``pnyx follow``); alice follows carol; carol and alice post,
bob likes alice's post, and mal (whom no one follows) posts too. Their messages are put straight
into the user's store, as sync would.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest

from pnyx.core.envelope import Message
from pnyx.crypto.keytext import encode_public_key
from pnyx.rank.builtins import BUILTINS
from pnyx.store import Store
from tests.conftest import Cli
from tests.store_helpers import Feed, key

ESC = "\x1b"
#: Age of the fixture's messages: shown as "2 days ago" for hours, so two runs print the same.
DAYS_AGO_MS = 60 * 3600 * 1000


def _ref(post: Message) -> dict[str, Any]:
    return {"id": post.id, "author": post.author}


@pytest.fixture
def world(cli: Cli) -> dict[str, Message]:
    cli.ok("init")
    now = time.time_ns() // 1_000_000
    f = {
        name: Feed(key(n), now - DAYS_AGO_MS)
        for n, name in enumerate(("alice", "bob", "carol", "mal"), 1)
    }
    for name in ("alice", "bob", "carol"):
        f[name].profile(name=name.capitalize())
    f["alice"].follow(f["carol"].author)
    posts = {name: f[name].post(f"hello from {name}") for name in ("alice", "carol", "mal")}
    f["bob"].add("reaction", {**_ref(posts["alice"]), "reaction": "+"})
    with Store.open(cli.home / "pnyx.db") as store:
        report = store.ingest([raw for feed in f.values() for raw in feed.raws()], now)
        assert not report.rejected
    for name in ("alice", "bob"):
        cli.ok("follow", encode_public_key(f[name].author))
    return posts


def test_following_feed_is_the_plain_timeline(cli: Cli, world: dict[str, Message]) -> None:
    plain = cli.ok("timeline").out
    assert cli.ok("timeline", "--feed", "following").out == plain
    assert "hello from alice" in plain and "hello from carol" not in plain
    assert (
        cli.ok("timeline", "--json").out == cli.ok("timeline", "--feed", "following", "--json").out
    )
    assert "score" not in json.loads(cli.ok("timeline", "--json").lines[0])


def test_for_you_ranks_trusted_posts_with_scores(cli: Cli, world: dict[str, Message]) -> None:
    shown = cli.ok("timeline", "--feed", "for-you").out
    assert "hello from carol" in shown and "hello from mal" not in shown
    assert shown.splitlines()[0].startswith("Alice (pnyx1")  # followed, liked by bob: first
    rows = [json.loads(line) for line in cli.ok("timeline", "--feed", "for-you", "--json").lines]
    assert [r["text"] for r in rows] == ["hello from alice", "hello from carol"]
    assert rows[0]["score"] > rows[1]["score"] > 0


def test_why_explains_each_term_and_the_source(cli: Cli, world: dict[str, Message]) -> None:
    carol = world["carol"].id.hex()
    shown = cli.ok("why", carol[:12], "--feed", "for-you")
    assert shown.lines[0].startswith(f"post {carol[:12]} by Carol (pnyx1")
    assert shown.lines[1].startswith("source: 2 hops via Alice (pnyx1")
    assert shown.lines[2] == f"recipe for-you {BUILTINS['for-you'].hash}"
    assert any(line.split()[0] == "out_of_network" for line in shown.lines[3:])
    data = json.loads(cli.ok("why", carol, "--feed", "for-you", "--json").out)
    parts = [t["contribution"] for t in data["terms"]] + [
        d["contribution"] for d in data["discounts"]
    ]
    assert math.fsum(parts) == data["score"] and data["source"]["hops"] == 2
    assert data["author"] == encode_public_key(world["carol"].author)
    mal = cli("why", world["mal"].id.hex(), "--feed", "for-you")
    assert mal.code == 2 and mal.err.count("\n") == 1 and "not in the feed 'for-you'" in mal.err


def test_unknown_feed_is_one_line_naming_the_feeds(cli: Cli, world: dict[str, Message]) -> None:
    for argv in (("timeline", "--feed", "nope"), ("why", world["alice"].id.hex(), "--feed", "x")):
        result = cli(*argv)
        assert result.code == 2 and result.err.count("\n") == 1
        assert "the feeds are: following, for-you" in result.err


def test_recipes_lists_builtins_and_user_files(cli: Cli, world: dict[str, Message]) -> None:
    rows = [json.loads(line) for line in cli.ok("recipes", "--json").lines]
    assert [(r["name"], r["hash"]) for r in rows] == [
        (name, BUILTINS[name].hash) for name in ("following", "for-you")
    ]
    recipes = cli.home / "recipes"
    recipes.mkdir()
    (recipes / "latest.toml").write_text(
        'name = "latest"\ndescription = "new \\u001b[2J"\nauthors = "any"\n'
        "[terms.time]\nweight = 1\n",
        encoding="utf-8",
    )
    shown = cli.ok("recipes").out
    assert "latest  " in shown and ESC not in shown and "\\u001b" in shown
    latest = [json.loads(line) for line in cli.ok("timeline", "--feed", "latest", "--json").lines]
    assert {r["text"] for r in latest} == {f"hello from {n}" for n in ("alice", "carol", "mal")}
    (recipes / "bad.toml").write_text('name = "bad"\n[terms.paid]\nweight = 4\n', encoding="utf-8")
    bad = cli("recipes")
    assert bad.code == 2 and "bad.toml: recipe: terms.paid is not a known term" in bad.err


def test_clusters_shows_co_acting_identities(cli: Cli, world: dict[str, Message]) -> None:
    assert "no clusters" in cli.ok("clusters").err
    now = time.time_ns() // 1_000_000
    c1, c2, author = Feed(key(11), now - 50_000), Feed(key(12), now - 50_000), Feed(key(13))
    posts = [author.post(f"post {i}", ts=now - 40_000_000 + i * 3_600_000) for i in range(10)]
    for post in posts:
        for feed in (c1, c2):
            feed.add("repost", _ref(post), ts=post.ts + 60_000)
    with Store.open(cli.home / "pnyx.db") as store:
        store.ingest([raw for feed in (c1, c2, author) for raw in feed.raws()], now)
    shown = cli.ok("clusters")
    assert shown.lines[0].startswith("1 cluster(s) over 21 reposts and reactions")  # and bob's like
    first, second = sorted([c1.author, c2.author])
    assert shown.lines[1].count("pnyx1") == 2
    data = json.loads(cli.ok("clusters", "--json").out)
    assert data["clusters"] == [
        {
            "cluster": encode_public_key(first),
            "members": [encode_public_key(k) for k in (first, second)],
        }
    ]


def test_why_escapes_names_from_others(cli: Cli, world: dict[str, Message]) -> None:
    """A name stored before the name rule (escape sequence, bidi override) is shown escaped."""
    now = time.time_ns() // 1_000_000
    erin = Feed(key(14), now - DAYS_AGO_MS)
    erin.add_unchecked("profile", {"name": f"Erin{ESC}[2J\u202e"})
    post = erin.post("hello from erin")
    bob = Feed(key(2), now - DAYS_AGO_MS)  # bob (followed) follows erin: erin is trusted
    with Store.open(cli.home / "pnyx.db") as store:
        held = store.feed(bob.author, limit=10).items  # bob's chain so far, newest first
        bob.messages, bob.clock = [item.message for item in reversed(held)], held[0].ts
        store.ingest_verified(erin.messages, now_ms=now)  # stored before the name rule
        assert not store.ingest([bob.follow(erin.author).raw], now).rejected
    shown = cli.ok("why", post.id.hex(), "--feed", "for-you")
    assert ESC not in shown.out and "\u202e" not in shown.out
    assert "by Erin\\u001b[2J\\u202e (pnyx1" in shown.lines[0]
    assert shown.lines[1].startswith("source: 2 hops via Bob (pnyx1")
