"""Likes and reposts on each post (``pnyx.web.engagement``, ``pnyx.store.engagement``,
``pnyx.ops.undo``): counts hand-checked on the timeline, thread and profile pages and the JSON
API, "you liked this", Unlike and Undo repost (forms and API), and one count query per answer."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NothingChangedError
from pnyx.store.engagement import engagement
from pnyx.web import engagement as web_engagement
from pnyx.web.context import WebContext
from tests.store_helpers import key
from tests.web_kit import ORIGIN, bearer, client, ctx, login

__all__ = ["client", "ctx"]

BOB, CAROL = key(2), key(3)


def _world(ctx: WebContext) -> tuple[str, str]:
    """My posts p1 and p2: p1 liked by bob (twice: + and a fire), carol and me, reposted by
    carol; p2 liked by bob, who then unliked it. So p1: 3 likes (me among them), 1 repost;
    p2: 0 and 0."""
    assert ctx.key is not None
    p1 = ops.post(ctx.store, ctx.key, "first").id.hex()
    p2 = ops.post(ctx.store, ctx.key, "second").id.hex()
    ops.like(ctx.store, BOB, p1)
    ops.like(ctx.store, BOB, p1, reaction="🔥")
    ops.like(ctx.store, CAROL, p1)
    ops.repost(ctx.store, CAROL, p1)
    ops.like(ctx.store, ctx.key, p1)
    ops.like(ctx.store, BOB, p2)
    ops.unlike(ctx.store, BOB, p2)
    return p1, p2


def _article(page: str, post: str) -> str:
    match = re.search(rf'<article class="message[^"]*" id="m-{post}">(.*?)</article>', page, re.S)
    assert match, post
    return match.group(1)


def test_store_counts_by_hand(ctx: WebContext) -> None:
    p1, p2 = _world(ctx)
    seen = engagement(ctx.store, [bytes.fromhex(p1), bytes.fromhex(p2)], ctx.me)
    one, two = seen[bytes.fromhex(p1)], seen[bytes.fromhex(p2)]
    assert (one.likes, one.reposts, one.liked, one.reposted) == (3, 1, True, False)
    assert (two.likes, two.reposts, two.liked, two.reposted) == (0, 0, False, False)
    assert web_engagement.label(one) == "3 likes, you liked this · 1 repost"
    assert web_engagement.label(two) == "0 likes · 0 reposts"


def test_pages_show_counts_state_and_unlike(
    ctx: WebContext, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    p1, p2 = _world(ctx)
    csrf = login(ctx, client)
    calls: list[int] = []

    def counted(*args: object) -> object:
        calls.append(1)
        return engagement(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(web_engagement, "engagement", counted)
    me = encode_public_key(ctx.me)
    for path in ("/timeline", f"/thread/{p1}", f"/u/{me}"):
        calls.clear()
        page = client.get(path).text
        assert calls == [1], path  # one count query for the whole page
        assert "pnyx-engagement" not in page
        first = _article(page, p1)
        assert "3 likes, you liked this · 1 repost" in first
        assert ">Unlike</button>" in first and 'aria-pressed="true"' in first
        assert ">Repost</button>" in first
        if path != f"/thread/{p1}":
            second = _article(page, p2)
            assert "0 likes · 0 reposts" in second and ">Like</button>" in second
    # Unlike from the page, then like again, then repost and undo it.
    form = {"csrf": csrf, "id": p1, "next": f"/timeline#m-{p1}"}
    done = client.post("/unlike", data=form, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/timeline#m-{p1}"
    assert "2 likes · 1 repost" in _article(client.get("/timeline").text, p1)
    assert client.post("/unlike", data=form, headers=ORIGIN).status_code == 400
    client.post("/like", data=form, headers=ORIGIN)
    client.post("/repost", data=form, headers=ORIGIN)
    first = _article(client.get("/timeline").text, p1)
    assert "3 likes, you liked this · 2 reposts, you reposted this" in first
    assert ">Undo repost</button>" in first
    client.post("/unrepost", data=form, headers=ORIGIN)
    assert "3 likes, you liked this · 1 repost<" in _article(client.get("/timeline").text, p1)


def test_marker_in_text_is_escaped_not_filled(ctx: WebContext, client: TestClient) -> None:
    assert ctx.key is not None
    fake = f"<!--pnyx-engagement:{'ab' * 32} /timeline-->"
    ops.post(ctx.store, ctx.key, fake)
    login(ctx, client)
    page = client.get("/timeline").text
    assert "&lt;!--pnyx-engagement:" in page and fake not in page
    assert page.count('class="tally"') == 1


def test_api_carries_counts_and_undoes(ctx: WebContext, client: TestClient) -> None:
    p1, p2 = _world(ctx)
    headers = bearer(ctx, "read", "write")
    items = client.get("/api/v1/timeline", headers=headers).json()["items"]
    by_id = {item["id"]: item["engagement"] for item in items}
    assert by_id[p1] == {"likes": 3, "reposts": 1, "liked": True, "reposted": False}
    assert by_id[p2] == {"likes": 0, "reposts": 0, "liked": False, "reposted": False}
    thread = client.get(f"/api/v1/thread/{p1}", headers=headers).json()["items"]
    assert thread[0]["engagement"]["likes"] == 3
    assert client.delete(f"/api/v1/likes/{p1}", headers=headers).status_code == 201
    again = client.delete(f"/api/v1/likes/{p1}", headers=headers)
    assert again.status_code == 400 and "have not liked" in again.json()["error"]
    assert client.post("/api/v1/reposts", json={"id": p2}, headers=headers).status_code == 201
    assert client.delete(f"/api/v1/reposts/{p2}", headers=headers).status_code == 201
    items = client.get("/api/v1/timeline", headers=headers).json()["items"]
    by_id = {item["id"]: item["engagement"] for item in items if item["kind"] == "post"}
    assert by_id[p1] == {"likes": 2, "reposts": 1, "liked": False, "reposted": False}
    assert by_id[p2]["reposts"] == 0
    assert client.delete(f"/api/v1/likes/{p1}").status_code == 401


def test_ops_undo_rules(ctx: WebContext) -> None:
    assert ctx.key is not None
    post = ops.post(ctx.store, BOB, "bob's").id.hex()
    with pytest.raises(NothingChangedError):
        ops.unlike(ctx.store, ctx.key, post)
    ops.like(ctx.store, ctx.key, post)
    ops.unlike(ctx.store, ctx.key, post)
    ops.like(ctx.store, ctx.key, post)  # allowed again once undone
    ops.repost(ctx.store, ctx.key, post)
    ops.unrepost(ctx.store, ctx.key, post)
    with pytest.raises(NothingChangedError):
        ops.unrepost(ctx.store, ctx.key, post)
    seen = engagement(ctx.store, [bytes.fromhex(post)], ctx.me)[bytes.fromhex(post)]
    assert (seen.likes, seen.reposts, seen.liked, seen.reposted) == (1, 0, True, False)
