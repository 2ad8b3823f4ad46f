""" "Show less like this": the marks' weights, the ``negative`` term fed from the store, ``why``
adding up, ``pnyx less``, the API and the why page's button. Numbers checked by hand.

The people: me -> alice, bob. Posts ("now" is NOW_MS):

    a: alice, 6 h old, starts thread a      b: bob, now, replies to a (thread a)
    c: bob, 6 h old, its own thread         d: bob, now, its own thread

Recipe ``calm``: recency (weight 2, half-life 6 h) and negative (weight -2, cap 2.5).
Marks: a, 60 days ago (two half-lives: 0.25 on alice and on thread a); c and d now (1 each on
bob, and on threads c and d). So negative = author marks + thread marks, capped:

    a: alice 0.25 + thread a 0.25 = 0.5;  recency 0.5 * 2 = 1;  1 - 1 = **0**
    b: bob 2 + thread a 0.25 = 2.25;      recency 1 * 2 = 2;    2 - 4.5 = **-2.5**
    d: bob 2 + thread d 1 = 3 -> cap 2.5; recency 2;            2 - 5 = **-3**
    c: bob 2 + thread c 1 = 3 -> cap 2.5; recency 1;            1 - 5 = **-4**
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pnyx.core.envelope import Message
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.ops.less import less, less_list, undo_less
from pnyx.rank.model import Context, Post
from pnyx.rank.negative import DAY_S, HALF_LIFE_DAYS, MAX_MARKS, Mark, weight, weights
from pnyx.rank.recipe import parse
from pnyx.rank.score import rank
from pnyx.reads import ranked_timeline, why
from pnyx.store import Store
from pnyx.store.less import add_mark, marks
from pnyx.web.app import build_app
from pnyx.web.auth import TOKEN_FILE, TokenBook
from pnyx.web.context import WebContext
from tests.conftest import Cli
from tests.store_helpers import NOW_MS, Feed, key, open_store
from tests.web_kit import BASE, PORT, bearer, login

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
CALM = """\
name = "calm"
authors = "following"
[terms.recency]
weight = 2
[terms.negative]
weight = -2
cap = 2.5
"""

World = tuple[Store, dict[str, Message], Path]


def test_weights_by_hand() -> None:
    now = 1000 * DAY_S
    assert weight(now, now) == 1.0
    assert weight(now + 5, now) == 1.0  # a mark from the future weighs 1
    assert weight(now - HALF_LIFE_DAYS * DAY_S, now) == 0.5
    assert weight(now - 2 * HALF_LIFE_DAYS * DAY_S, now) == 0.25
    found = weights(
        [
            Mark("author", "bob", "p1", now),
            Mark("author", "bob", "p2", now - HALF_LIFE_DAYS * DAY_S),
            Mark("thread", "t", "p1", now),
        ],
        now,
    )
    assert found == ({"bob": 1.5}, {"t": 1.0})


def test_the_term_adds_author_and_thread_marks_and_caps() -> None:
    recipe = parse(CALM)
    ctx = Context(
        user="me",
        now=0.0,
        following=frozenset({"bob"}),
        negative={"bob": 1.5},
        negative_thread={"t": 0.75, "p2": 2.0},
    )
    posts = [Post("p1", "bob", 0.0, "t", "t"), Post("p2", "bob", 0.0)]
    page = {e.post: e for e in rank(recipe, posts, [], ctx, 10)}
    neg = {p: next(t for t in e.terms if t.name == "negative") for p, e in page.items()}
    assert (neg["p1"].value, neg["p1"].contribution) == (2.25, -4.5)  # 1.5 + 0.75
    assert (neg["p2"].value, neg["p2"].contribution) == (2.5, -5.0)  # 1.5 + 2 = 3.5, capped
    assert page["p1"].score == -2.5 and page["p2"].score == -3.0
    for e in page.values():
        e.check()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    f = {name: Feed(key(n)) for n, name in enumerate(("me", "alice", "bob"), 1)}
    f["me"].follow(f["alice"].author)
    f["me"].follow(f["bob"].author)
    a = f["alice"].post("a", ts=NOW_MS - 6 * HOUR_MS)
    p = {
        "a": a,
        "b": f["bob"].post("b", reply_to=a, ts=NOW_MS),
        "c": f["bob"].post("c", ts=NOW_MS - 6 * HOUR_MS),
        "d": f["bob"].post("d", ts=NOW_MS),
    }
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "calm.toml").write_text(CALM, encoding="utf-8")
    with open_store(tmp_path) as store:
        report = store.ingest([raw for feed in f.values() for raw in feed.raws()], NOW_MS)
        assert not report.rejected
        yield store, p, recipes


def _mark_world(store: Store, p: dict[str, Message]) -> None:
    less(store, p["a"].id.hex(), now_ms=NOW_MS - 2 * int(HALF_LIFE_DAYS) * DAY_MS)
    less(store, p["c"].id.hex()[:10], now_ms=NOW_MS)
    less(store, p["d"].id.hex(), now_ms=NOW_MS)


def test_marks_rank_by_hand_and_why_adds_up(world: World) -> None:
    store, p, recipes = world
    me = key(1).verify_key.encode()
    _mark_world(store, p)
    page = ranked_timeline(store, me, "calm", 10, recipes_dir=recipes, now_ms=NOW_MS)
    got = [(i.item.id, i.score) for i in page.items]
    assert got == [(p["a"].id, 0.0), (p["b"].id, -2.5), (p["d"].id, -3.0), (p["c"].id, -4.0)]
    view = why(store, me, p["b"].id, "calm", recipes_dir=recipes, now_ms=NOW_MS)
    terms = {t.name: (t.value, t.contribution) for t in view.explanation.terms}
    assert terms == {"negative": (2.25, -4.5), "recency": (1.0, 2.0)}
    assert math.fsum(t.contribution for t in view.explanation.terms) == view.explanation.score
    view.explanation.check()
    # following (time order) ignores marks; undoing a mark takes it out of the sum
    undo_less(store, p["d"].id.hex())
    page = ranked_timeline(store, me, "calm", 10, recipes_dir=recipes, now_ms=NOW_MS)
    assert dict((i.item.id, i.score) for i in page.items)[p["b"].id] == 2 - 2 * 1.25


def test_ops_rules_and_the_list(world: World) -> None:
    store, p, _ = world
    _mark_world(store, p)
    with pytest.raises(NothingChangedError, match="marked already"):
        less(store, p["a"].id.hex())
    with pytest.raises(NotFoundError):
        less(store, "ab" * 32)
    follow = next(m for m in store.feed(key(1).verify_key.encode()).items if m.kind == "follow")
    with pytest.raises(UserError, match="is a follow, not a post"):
        less(store, follow.id.hex())
    listed = less_list(store, now_ms=NOW_MS)
    assert [m.post for m in listed.items][-1] == p["a"].id  # newest first
    assert listed.items[-1].weight == 0.25 and listed.items[-1].thread == p["a"].id
    assert less_list(store, now_ms=NOW_MS).to_json()["max_marks"] == MAX_MARKS
    assert undo_less(store, p["a"].id.hex()) == p["a"].id
    with pytest.raises(NothingChangedError, match="not marked"):
        undo_less(store, p["a"].id.hex())
    # the reply's thread mark names the thread's first post
    less(store, p["b"].id.hex(), now_ms=NOW_MS)
    thread = {m.kind: m.target for m in marks(store) if m.via == p["b"].id.hex()}
    assert thread["thread"] == p["a"].id.hex()


def test_the_cap_on_marks_drops_the_oldest(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _, _ = world
    monkeypatch.setattr("pnyx.store.less.MAX_MARKS", 3)
    for n in range(5):
        assert add_mark(store, bytes([n]) * 32, b"a" * 32, bytes([n]) * 32, NOW_MS + n)
    assert sorted({m.via for m in marks(store)}) == [bytes([n]).hex() * 32 for n in (2, 3, 4)]


def test_cli_less(cli: Cli) -> None:
    cli.ok("init")
    post = json.loads(cli.ok("post", "hello", "--json").out.strip().splitlines()[-1])["id"]
    assert "showing less like" in cli.ok("less", post[:12]).out
    assert "marked already" in cli.ok("less", post).err
    listed = json.loads(cli.ok("less", "--list", "--json").out)
    assert listed["post"] == post and listed["thread"] == post
    assert 0.999 < listed["weight"] <= 1.0  # a few ms old
    assert f"{post[:12]}  by you" in cli.ok("less", "--list").out
    assert "taken back" in cli.ok("less", "--undo", post).out
    assert "no marks" in cli.ok("less", "--list").err
    assert cli("less").code == 2


def _web(store: Store, tmp_path: Path, recipes: Path) -> WebContext:
    me = key(1)
    return WebContext(
        store=store,
        me=me.verify_key.encode(),
        key=me,
        tokens=TokenBook(tmp_path / TOKEN_FILE),
        port=PORT,
        recipes_dir=recipes,
    )


def test_api_and_the_why_button(world: World, tmp_path: Path) -> None:
    store, p, recipes = world
    ctx = _web(store, tmp_path, recipes)
    a = p["a"].id.hex()
    with TestClient(build_app(ctx), base_url=BASE, backend="trio") as client:
        url = "/api/v1/less"
        assert client.post(url, json={"id": a}, headers=bearer(ctx, "read")).status_code == 403
        done = client.post(url, json={"id": a}, headers=bearer(ctx, "write"))
        assert done.status_code == 201 and done.json()["post"] == a and done.json()["marked"]
        again = client.post(url, json={"id": a}, headers=bearer(ctx, "write"))
        assert again.status_code == 409
        assert (
            client.post(url, json={"id": "ab" * 32}, headers=bearer(ctx, "write")).status_code
            == 404
        )
        listed: Any = client.get(url, headers=bearer(ctx, "read")).json()
        assert [m["post"] for m in listed["items"]] == [a]
        gone = client.delete(f"{url}/{a}", headers=bearer(ctx, "write"))
        assert gone.status_code == 200 and gone.json() == {"post": a, "marked": False}
        assert client.delete(f"{url}/{a}", headers=bearer(ctx, "write")).status_code == 409
        # the why page's button marks the post; the page then offers to undo
        csrf = login(ctx, client)
        page = client.get(f"/why/{a}?feed=for-you")
        assert page.status_code == 200 and "Show less like this" in page.text
        back = f"/why/{a}?feed=for-you"
        form = {"csrf": csrf, "id": a, "next": back}
        answer = client.post("/less", data=form, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == back
        page = client.get(back)
        assert 'Undo "show less"' in page.text
        negative = page.text.split(">negative<", 1)[1]
        assert "<td>2</td><td>-2</td>" in negative.replace("\n", "")[:200]
        client.post("/less", data={**form, "undo": "on"}, follow_redirects=False)
        assert "Show less like this" in client.get(back).text
