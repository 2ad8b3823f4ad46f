"""The web app's second slice in process: profile, search, suggestions, notifications, network
pages and their API routes; hostile names and bios escaped, scopes, 404s and 400s, the offline
notice and the onboarding box."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import encode_public_key
from pnyx.web.context import WebContext
from tests.store_helpers import key, pub
from tests.web_kit import ORIGIN, bearer, client, ctx, login, status_with

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
BOB, CAROL = key(2), key(3)


__all__ = ["client", "ctx"]  # the kit's fixtures


def text_of(k: Any) -> str:
    return encode_public_key(pub(k))


def test_profile_page_escapes_a_hostile_name_and_bio(ctx: WebContext, client: TestClient) -> None:
    ops.profile(ctx.store, BOB, name="bob", bio=HOSTILE)
    ops.post(ctx.store, BOB, "bob says " + HOSTILE)
    login(ctx, client)
    page = client.get(f"/u/{text_of(BOB)}")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "onerror=alert(1)&gt;" in page.text
    assert text_of(BOB) in page.text and fingerprint(pub(BOB)) in page.text
    assert 'data-copy="profile-key"' in page.text and 'class="follow"' in page.text
    assert "<script>" not in page.text.replace('<script src="/static/app.js" defer></script>', "")
    assert client.get("/u/pnyx1nope").status_code == 400
    assert client.get("/u/").status_code == 404


def test_follow_and_unfollow_from_the_profile(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    here = f"/u/{text_of(BOB)}"
    form = {"csrf": csrf, "key": text_of(BOB), "next": here}
    done = client.post("/follow", data=form, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == here
    assert ctx.store.following(ctx.me) == [pub(BOB)]
    assert 'class="unfollow"' in client.get(here).text
    done = client.post("/unfollow", data=form, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and ctx.store.following(ctx.me) == []
    again = client.post("/unfollow", data=form, headers=ORIGIN)
    assert again.status_code == 400 and "do not follow" in again.text
    wrong = client.post("/unfollow", data={**form, "csrf": "x"}, headers=ORIGIN)
    assert wrong.status_code == 403


def test_set_your_name_and_bio_on_your_profile(ctx: WebContext, client: TestClient) -> None:
    csrf = login(ctx, client)
    mine = f"/u/{text_of(key(1))}"
    assert 'action="/profile"' in client.get(mine).text
    form = {"csrf": csrf, "name": "me", "bio": "line one\r\nline two", "next": mine}
    assert client.post("/profile", data=form, headers=ORIGIN).status_code == 200
    held = ctx.store.profile(ctx.me)
    assert held is not None and held.name == "me" and held.bio == "line one\nline two"
    bad = client.post("/profile", data={**form, "name": "a\u202eb"}, headers=ORIGIN)
    assert bad.status_code == 400
    assert 'action="/profile"' not in client.get(f"/u/{text_of(BOB)}").text


def test_profile_trust_and_writes_through_the_api(ctx: WebContext, client: TestClient) -> None:
    ops.follow(ctx.store, BOB, text_of(CAROL))
    ops.profile(ctx.store, CAROL, name=HOSTILE)
    reader, writer = bearer(ctx, "read"), bearer(ctx, "write")
    headers = {**writer, **ORIGIN}
    assert client.post("/api/v1/follows", json={"key": text_of(BOB)}, headers=headers).is_success
    found = client.get(f"/api/v1/profiles/{text_of(CAROL)}", headers=reader).json()
    assert found["name"] == HOSTILE and found["followed"] is False
    assert found["fingerprint"] == fingerprint(pub(CAROL))
    trust = client.get(f"/api/v1/trust/{text_of(CAROL)}", headers=reader).json()
    assert trust["hops"] == 2 and trust["paths"] == [
        [text_of(key(1)), text_of(BOB), text_of(CAROL)]
    ]
    assert "followed by 1 you trust" in trust["summary"]
    assert client.get("/api/v1/trust/pnyx1bad", headers=reader).status_code == 400
    missing = client.get("/api/v1/profiles/", headers=reader)
    assert missing.status_code == 404 and "error" in missing.json()
    assert client.get(f"/api/v1/trust/{text_of(CAROL)}", headers=writer).status_code == 403
    assert client.get(f"/api/v1/profiles/{text_of(CAROL)}").status_code == 401
    put = client.put("/api/v1/profile", json={"name": "me", "bio": "hi"}, headers=headers)
    assert put.status_code == 201 and put.json()["kind"] == "profile"
    assert client.put("/api/v1/profile", json={}, headers=headers).status_code == 400
    assert client.put("/api/v1/profile", json={"name": "x"}, headers=reader).status_code == 403
    gone = client.delete(f"/api/v1/follows/{text_of(BOB)}", headers=headers)
    assert gone.status_code == 201 and gone.json()["kind"] == "unfollow"
    assert client.delete(f"/api/v1/follows/{text_of(BOB)}", headers=headers).status_code == 400
    page = client.get("/api/v1/profiles/" + text_of(key(1)), headers=reader).json()
    assert page["name"] == "me" and page["is_me"] is True


def test_search_and_suggestions(ctx: WebContext, client: TestClient) -> None:
    ops.follow(ctx.store, key(1), text_of(BOB))
    ops.follow(ctx.store, BOB, text_of(CAROL))
    ops.profile(ctx.store, CAROL, name=HOSTILE)
    ops.post(ctx.store, CAROL, "zebras everywhere <b>now</b>")
    ops.post(ctx.store, BOB, "zebras are fine")
    reader = bearer(ctx, "read")
    found = client.get("/api/v1/search?q=zebras", headers=reader).json()
    assert {p["text"] for p in found["posts"]} == {
        "zebras everywhere <b>now</b>",
        "zebras are fine",
    }
    only = client.get(f"/api/v1/search?q=zebras&author={text_of(BOB)}", headers=reader).json()
    assert [p["text"] for p in only["posts"]] == ["zebras are fine"]
    assert client.get("/api/v1/search?q=", headers=reader).status_code == 400
    assert client.get("/api/v1/search?q=x&author=pnyx1no", headers=reader).status_code == 400
    assert client.get("/api/v1/search?q=x&limit=abc", headers=reader).status_code == 400
    suggested = client.get("/api/v1/suggest", headers=reader).json()["items"]
    assert [s["key"] for s in suggested] == [text_of(CAROL)]
    assert suggested[0]["reason"].startswith("followed by")
    login(ctx, client)
    page = client.get("/search?q=zebras")
    assert page.status_code == 200 and "zebras are fine" in page.text
    assert "zebras everywhere &lt;b&gt;now&lt;/b&gt;" in page.text and HOSTILE not in page.text
    assert "People you may know" in page.text and "followed by" in page.text
    assert client.get("/search").status_code == 200


def test_notifications(ctx: WebContext, client: TestClient) -> None:
    mine = ops.post(ctx.store, key(1), "my post")
    ops.profile(ctx.store, BOB, name=HOSTILE)
    ops.follow(ctx.store, BOB, text_of(key(1)))
    ops.post(ctx.store, BOB, "a reply", reply_to=mine.id.hex())
    ops.post(ctx.store, CAROL, "hi " + fingerprint(ctx.me))
    found = client.get("/api/v1/notifications", headers=bearer(ctx, "read")).json()["items"]
    # newest first; the three may share a millisecond, and then their order is by id
    assert sorted(n["kind"] for n in found) == ["follow", "mention", "reply"]
    assert (
        client.get("/api/v1/notifications?limit=0", headers=bearer(ctx, "read")).status_code == 400
    )
    login(ctx, client)
    page = client.get("/notifications")
    assert "replied to you" in page.text and "mentioned you" in page.text
    assert "followed you" in page.text and HOSTILE not in page.text


def test_network_page_peers_and_the_offline_notice(ctx: WebContext, client: TestClient) -> None:
    status: dict[str, Any] = status_with([])

    async def node_status() -> dict[str, Any]:
        return status

    ctx.status = node_status
    csrf = login(ctx, client)
    page = client.get("/network")
    assert "No peers connected" in page.text and "/ip4/127.0.0.1/tcp/4001/p2p/" in page.text
    assert "<progress" in page.text
    client.post("/post", data={"csrf": csrf, "text": "alone"}, headers=ORIGIN)
    assert "will be sent when connected" in client.get("/timeline").text
    api = client.post("/api/v1/posts", json={"text": "x"}, headers=bearer(ctx, "write"))
    assert api.json()["queued"] is True
    peers = client.get("/api/v1/peers", headers=bearer(ctx, "read")).json()
    assert peers["peers"] == [] and peers["sync"]["held"] == 2
    status = status_with([{"peer_id": "12D3KooWpeer", "direction": "outbound", "address": None}])
    assert "will be sent when connected" not in client.get("/timeline").text
    assert "we dialled them" in client.get("/network").text
    assert not ctx.queued
    online = client.post("/api/v1/posts", json={"text": "y"}, headers=bearer(ctx, "write"))
    assert "queued" not in online.json()


def test_onboarding_when_following_nobody(ctx: WebContext, client: TestClient) -> None:
    login(ctx, client)
    page = client.get("/timeline").text
    assert "Follow a first person" in page and text_of(key(1)) in page
    ops.follow(ctx.store, key(1), text_of(BOB))
    assert "Follow a first person" not in client.get("/timeline").text
