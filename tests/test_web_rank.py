"""Ranking in the web app, in process: the feed switcher on the timeline page, the ranked API
page with scores, "why" (contributions summing to the score, the source path), the clusters and
feeds pages and routes; hostile names escaped; unknown feeds 400, unknown or deleted posts 404;
scopes.

The people (every edge a signed follow in the store); "now" is the wall clock, as the routes'::

    me -> bob, c1, c2        bob -> carol        bob's name and carol's, c1's, c2's are hostile

bob posts ten posts; c1 and c2 repost each of them within a minute (a cluster); carol posts one
(two hops away, via bob); I post one; bob's last post is deleted.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from pnyx.clock import wall_clock_ms
from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import encode_public_key
from pnyx.rank.builtins import BUILTINS
from pnyx.store import Store
from pnyx.web.app import build_app
from pnyx.web.auth import TOKEN_FILE, TokenBook
from pnyx.web.context import WebContext
from tests.store_helpers import Feed, key, pub
from tests.web_kit import BASE, ORIGIN, PORT, bearer, login

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "onerror=alert(1)&gt;"
HOUR_MS = 3600 * 1000
MINUTE_MS = 60 * 1000
#: A user recipe without a term of time (so the API and the page score alike), with a discount.
QUIET = """\
name = "quiet"
authors = "trusted"
[terms.trust]
weight = 3
[terms.engagement]
weight = 1
[modifiers]
out_of_network = 0.5
"""
NAMES = ("me", "bob", "carol", "c1", "c2")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[WebContext, dict[str, Any]]]:
    now = wall_clock_ms()
    f = {name: Feed(key(n), start_ms=now - 48 * HOUR_MS) for n, name in enumerate(NAMES, 1)}
    for name in ("bob", "carol", "c1", "c2"):
        f[name].profile(name=f"{name} {HOSTILE}")
    for name in ("bob", "c1", "c2"):
        f["me"].follow(f[name].author)
    f["bob"].follow(f["carol"].author)
    posts = [f["bob"].post(f"bob {i}", ts=now - (20 - i) * HOUR_MS) for i in range(10)]
    for post in posts:
        for name in ("c1", "c2"):
            f[name].add("repost", {"id": post.id, "author": post.author}, ts=post.ts + MINUTE_MS)
    carol = f["carol"].post("from carol", ts=now - HOUR_MS)
    mine = f["me"].post("from me", ts=now - 2 * HOUR_MS)
    gone = f["bob"].post("gone", ts=now - 3 * HOUR_MS)
    f["bob"].delete(gone.id)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "quiet.toml").write_text(QUIET, encoding="utf-8")
    with Store.open(tmp_path / "pnyx.db") as store:
        report = store.ingest([raw for feed in f.values() for raw in feed.raws()], now)
        assert not report.rejected
        me = key(1)
        ctx = WebContext(
            store=store,
            me=pub(me),
            key=me,
            tokens=TokenBook(tmp_path / TOKEN_FILE),
            port=PORT,
            recipes_dir=recipes,
        )
        yield ctx, {"f": f, "posts": posts, "carol": carol, "mine": mine, "gone": gone}


@pytest.fixture
def client(world: tuple[WebContext, dict[str, Any]]) -> Iterator[TestClient]:
    with TestClient(build_app(world[0]), base_url=BASE, backend="trio") as test_client:
        yield test_client


def test_the_feed_switcher(world: tuple[WebContext, Any], client: TestClient) -> None:
    ctx, w = world
    csrf = login(ctx, client)
    following = client.get("/timeline")
    assert following.status_code == 200
    assert 'href="/timeline?feed=for-you"' in following.text
    assert 'href="/timeline?feed=quiet"' in following.text
    assert 'data-live="/events"' in following.text and 'id="new-posts"' in following.text
    assert "why am I seeing this" not in following.text  # (its reposts may fill a second page)
    assert client.get("/timeline?feed=following").text == following.text
    ranked = client.get("/timeline?feed=for-you")
    assert ranked.status_code == 200
    assert "refresh to re-rank" in ranked.text and BUILTINS["for-you"].hash[:16] in ranked.text
    assert 'data-live="/events"' not in ranked.text and 'id="new-posts"' not in ranked.text
    assert ranked.text.count("why am I seeing this") == ranked.text.count('class="message')
    assert 'href="/why/' in ranked.text and "?feed=for-you" in ranked.text
    assert HOSTILE not in ranked.text and ESCAPED in ranked.text
    top = w["posts"][-1].id.hex()
    liked = client.post(
        "/like",
        data={"csrf": csrf, "id": top, "next": "/timeline?feed=for-you"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert liked.status_code == 303 and liked.headers["location"] == "/timeline?feed=for-you"
    unknown = client.get("/timeline?feed=nope")
    assert unknown.status_code == 400
    assert "for-you" in unknown.text and "quiet" in unknown.text


def test_the_chosen_feed_is_remembered(world: tuple[WebContext, Any], client: TestClient) -> None:
    ctx, _ = world
    login(ctx, client)
    plain = client.get("/timeline")
    assert "set-cookie" not in plain.headers  # nothing chosen yet: following
    chosen = client.get("/timeline?feed=for-you")
    cookie = chosen.headers["set-cookie"]
    assert cookie.startswith("feed=for-you;") and "samesite=strict" in cookie.lower()
    again = client.get("/timeline")  # the next visit opens the feed chosen last
    assert "refresh to re-rank" in again.text and 'aria-current="page" class="current">for-you' in (
        again.text
    )
    assert 'href="/timeline?feed=following"' in again.text  # following is one click away
    back = client.get("/timeline?feed=following")
    assert back.headers["set-cookie"].startswith("feed=following;")
    assert 'data-live="/events"' in client.get("/timeline").text
    client.cookies.set("feed", "gone")  # a recipe file since removed
    fallback = client.get("/timeline")
    assert fallback.status_code == 200 and 'data-live="/events"' in fallback.text
    assert 'The feed you chose last, <bdi dir="auto">gone</bdi>, is not available' in (
        fallback.text
    )
    assert fallback.headers["set-cookie"].startswith("feed=following;")
    assert client.get("/timeline?feed=gone").status_code == 400  # asked for by name: refused


def test_the_ranked_api_page(world: tuple[WebContext, Any], client: TestClient) -> None:
    ctx, w = world
    headers = bearer(ctx, "read")
    plain = client.get("/api/v1/timeline", headers=headers).json()
    assert all("score" not in item for item in plain["items"])
    assert plain == client.get("/api/v1/timeline?feed=following", headers=headers).json()
    ranked = client.get("/api/v1/timeline?feed=for-you&limit=5", headers=headers)
    assert ranked.status_code == 200, ranked.text
    body = ranked.json()
    assert body["feed"] == "for-you" and body["recipe_hash"] == BUILTINS["for-you"].hash
    assert body["next_cursor"].startswith("r.") and len(body["items"]) == 5
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    everything = client.get("/api/v1/timeline?feed=for-you&limit=50", headers=headers).json()
    assert everything["next_cursor"] is None  # one window, all shown
    paged, cursor = list(body["items"]), body["next_cursor"]
    while cursor is not None:  # the pages of one snapshot: no repeats, no gaps
        more = client.get(f"/api/v1/timeline?feed=for-you&limit=5&before={cursor}", headers=headers)
        paged, cursor = paged + more.json()["items"], more.json()["next_cursor"]
    assert [i["id"] for i in paged] == [i["id"] for i in everything["items"]]
    shown = {item["id"] for item in everything["items"]}
    assert w["carol"].id.hex() in shown and w["gone"].id.hex() not in shown
    unknown = client.get("/api/v1/timeline?feed=nope", headers=headers)
    assert unknown.status_code == 400
    assert unknown.json()["feeds"] == ["following", "for-you", "quiet"]
    assert "nope" in unknown.json()["error"]


def test_why_adds_up_and_escapes(world: tuple[WebContext, Any], client: TestClient) -> None:
    ctx, w = world
    f = w["f"]
    carol = w["carol"].id.hex()
    found = client.get(f"/api/v1/why/{carol}?feed=quiet", headers=bearer(ctx, "read"))
    assert found.status_code == 200, found.text
    why = found.json()
    parts = [t["contribution"] for t in why["terms"]] + [
        d["contribution"] for d in why["discounts"]
    ]
    assert math.fsum(parts) == why["score"] and why["recipe"] == "quiet"
    assert [d["name"] for d in why["discounts"]] == ["out_of_network"]
    assert why["source"]["hops"] == 2 and not why["source"]["in_network"]
    assert why["source"]["path"][1] == encode_public_key(f["bob"].author)
    login(ctx, client)
    page = client.get(f"/why/{carol}?feed=quiet")
    assert page.status_code == 200, page.text
    assert HOSTILE not in page.text and ESCAPED in page.text
    assert "2 hops via" in page.text and fingerprint(f["bob"].author) in page.text
    assert fingerprint(f["carol"].author) in page.text and why["recipe_hash"] in page.text
    assert f"{why['score']:.10g}" in page.text
    for part in parts:
        assert f"{part:+.10g}" in page.text
    # bob's first post: reposted by the c1 + c2 cluster, counted as one voice
    first = w["posts"][0].id.hex()
    collapsed = client.get(f"/why/{first}?feed=for-you")
    assert collapsed.status_code == 200 and "counted as one voice" in collapsed.text
    assert fingerprint(f["c1"].author) in collapsed.text and HOSTILE not in collapsed.text
    assert "in-network" in collapsed.text


def test_why_errors(world: tuple[WebContext, Any], client: TestClient) -> None:
    ctx, w = world
    headers = bearer(ctx, "read")
    carol, gone = w["carol"].id.hex(), w["gone"].id.hex()
    unknown = "ab" * 32
    for path in (f"/api/v1/why/{unknown}", f"/api/v1/why/{gone}?feed=for-you"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404 and "error" in response.json(), path
    bad_feed = client.get(f"/api/v1/why/{carol}?feed=nope", headers=headers)
    assert bad_feed.status_code == 400 and "quiet" in bad_feed.json()["feeds"]
    not_admitted = client.get(f"/api/v1/why/{carol}?feed=following", headers=headers)
    assert not_admitted.status_code == 400
    login(ctx, client)
    assert client.get(f"/why/{unknown}?feed=for-you").status_code == 404
    assert client.get(f"/why/{gone}?feed=for-you").status_code == 404
    assert client.get(f"/why/{carol}?feed=nope").status_code == 400


def test_clusters_and_feeds(world: tuple[WebContext, Any], client: TestClient) -> None:
    ctx, w = world
    f = w["f"]
    headers = bearer(ctx, "read")
    c1, c2 = sorted([f["c1"].author, f["c2"].author])
    found = client.get("/api/v1/clusters", headers=headers).json()
    assert found["clusters"] == [
        {
            "cluster": encode_public_key(c1),
            "members": [encode_public_key(c1), encode_public_key(c2)],
        }
    ]
    assert found["actions"] == 20
    feeds = client.get("/api/v1/feeds", headers=headers).json()["items"]
    assert [x["name"] for x in feeds] == ["following", "for-you", "quiet"]
    assert feeds[1]["hash"] == BUILTINS["for-you"].hash and feeds[0]["source"] == "built in"
    login(ctx, client)
    page = client.get("/clusters")
    assert page.status_code == 200
    assert fingerprint(c1) in page.text and fingerprint(c2) in page.text
    assert HOSTILE not in page.text and ESCAPED in page.text
    listing = client.get("/feeds")
    assert listing.status_code == 200
    for feed in feeds:
        assert feed["hash"] in listing.text
    assert 'href="/timeline?feed=quiet"' in listing.text


def test_scopes(world: tuple[WebContext, Any], client: TestClient) -> None:
    ctx, w = world
    carol = w["carol"].id.hex()
    paths = ("/api/v1/timeline?feed=for-you", f"/api/v1/why/{carol}", "/api/v1/clusters")
    for path in (*paths, "/api/v1/feeds"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=bearer(ctx, "write")).status_code == 403, path
        assert client.get(path, headers=bearer(ctx, "read")).status_code in (200, 400), path
    for page in ("/timeline?feed=for-you", f"/why/{carol}?feed=for-you", "/clusters", "/feeds"):
        assert client.get(page).status_code == 401, page


def test_a_bad_recipe_file_does_not_break_the_timeline(
    world: tuple[WebContext, Any], client: TestClient
) -> None:
    ctx, _ = world
    assert ctx.recipes_dir is not None
    (ctx.recipes_dir / "broken.toml").write_text(QUIET, encoding="utf-8")  # named quiet
    login(ctx, client)
    page = client.get("/timeline")
    assert page.status_code == 200 and "differs from the file name" in page.text
    assert 'href="/timeline?feed=for-you"' in page.text
    assert client.get("/timeline?feed=for-you").status_code == 200
    assert client.get("/feeds").status_code == 400
    answer = client.get("/api/v1/feeds", headers=bearer(ctx, "read"))
    assert answer.status_code == 400 and "broken.toml" in answer.json()["error"]


def test_the_node_s_kept_trust_is_used_and_its_age_shown(
    world: tuple[WebContext, Any], client: TestClient
) -> None:
    from pnyx.node.trust_keeper import TrustSnapshot
    from pnyx.reads.trust import load_trust
    from pnyx.web.api_rank import keep_trust

    ctx, w = world
    f = w["f"]
    carol = w["carol"].id.hex()
    url = f"/api/v1/why/{carol}?feed=quiet"

    def trust_term(why: dict[str, Any]) -> float:
        return float(next(t["value"] for t in why["terms"] if t["name"] == "trust"))

    own = client.get(url, headers=bearer(ctx, "read")).json()
    assert own["trust_age_ms"] is None  # no node: the read computed its own
    # the kept state differs from the store's follows (I also follow carol there), so it shows
    kept = load_trust(ctx.store, ctx.me).copy()
    kept.follow(ctx.me.hex(), f["carol"].author.hex())
    snapshot = TrustSnapshot(kept, wall_clock_ms() - 3000, incremental=True)
    keep_trust(ctx, lambda: snapshot)
    why = client.get(url, headers=bearer(ctx, "read")).json()
    assert 3000 <= why["trust_age_ms"] < 60_000
    assert trust_term(why) > trust_term(own)
    page = client.get("/api/v1/timeline?feed=quiet", headers=bearer(ctx, "read")).json()
    assert 3000 <= page["trust_age_ms"] < 60_000
    login(ctx, client)
    html = client.get(f"/why/{carol}?feed=quiet")
    assert html.status_code == 200 and "trust as of " in html.text and " s ago" in html.text
    assert f"{trust_term(why):.8g}" in html.text


def test_trust_age_text() -> None:
    from pnyx.web.api_rank import trust_age_text

    assert trust_age_text(None) == "trust computed for this read"
    assert trust_age_text(3400) == "trust as of 3 s ago"
    assert trust_age_text(150_000) == "trust as of 2 min ago"
