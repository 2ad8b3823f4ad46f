"""Mute and block on the web, in process: the API (scopes: a read token cannot mute; the CLI's
``--json`` views; 409 when nothing changes), the profile's buttons and lines, the private-mute
choice, the "Muted and blocked" page, and the thread's collapsed placeholder (escaped)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key
from pnyx.web.context import WebContext
from tests.store_helpers import key, pub
from tests.web_kit import ORIGIN, bearer, client, ctx, login

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
BOB, CAROL = key(2), key(3)

__all__ = ["client", "ctx"]  # the kit's fixtures


def text_of(k: Any) -> str:
    return encode_public_key(pub(k))


def test_the_api_mutes_and_blocks_with_the_moderate_scope(
    ctx: WebContext, client: TestClient
) -> None:
    reader, writer = bearer(ctx, "read"), bearer(ctx, "write")
    moderator = {**bearer(ctx, "moderate"), **ORIGIN}
    body = {"key": text_of(BOB)}
    for headers in (reader, writer):  # neither read nor write may mute
        refused = client.post("/api/v1/mutes", json=body, headers={**headers, **ORIGIN})
        assert refused.status_code == 403 and "moderate" in refused.json()["error"]
    assert client.post("/api/v1/mutes", json=body, headers=ORIGIN).status_code == 401
    done = client.post("/api/v1/mutes", json=body, headers=moderator)
    assert done.status_code == 201 and done.json()["kind"] == "mute"
    again = client.post("/api/v1/mutes", json=body, headers=moderator)
    assert again.status_code == 409 and "already muted" in again.json()["error"]
    private = client.post(
        "/api/v1/mutes", json={"key": text_of(CAROL), "private": True}, headers=moderator
    )
    assert private.json() == {"private": True, "action": "mute", "key": text_of(CAROL)}
    assert client.post("/api/v1/blocks", json=body, headers=moderator).json()["kind"] == "block"
    listed = client.get("/api/v1/mutes", headers=reader).json()["items"]
    assert [(e["why"], e["key"]) for e in listed] == [
        ("block", text_of(BOB)),
        ("mute", text_of(BOB)),
        ("private mute", text_of(CAROL)),
    ]
    assert client.get("/api/v1/mutes", headers={**bearer(ctx, "write")}).status_code == 403
    gone = client.delete(f"/api/v1/blocks/{text_of(BOB)}", headers=moderator)
    assert gone.status_code == 201 and gone.json()["kind"] == "unblock"
    assert client.delete(f"/api/v1/mutes/{text_of(BOB)}", headers=moderator).json()["kind"] == (
        "unmute"
    )
    assert client.delete(f"/api/v1/mutes/{text_of(BOB)}", headers=moderator).status_code == 409
    bad = client.post("/api/v1/mutes", json={"key": "pnyx1nope"}, headers=moderator)
    assert bad.status_code == 400
    me = client.post("/api/v1/blocks", json={"key": text_of(key(1))}, headers=moderator)
    assert me.status_code == 400 and "yourself" in me.json()["error"]
    spec = client.get("/api/v1/openapi.json").json()["paths"]
    assert spec["/api/v1/mutes"]["post"]["security"] == [{"bearer": ["moderate"]}]
    assert spec["/api/v1/mutes"]["get"]["security"] == [{"bearer": ["read"]}]
    assert spec["/api/v1/blocks/{key}"]["delete"]["security"] == [{"bearer": ["moderate"]}]
    session_write = client.post("/api/v1/mutes", json=body, headers=ORIGIN)
    assert session_write.status_code in (401, 403)


def test_profile_buttons_mute_privately_block_and_list(ctx: WebContext, client: TestClient) -> None:
    ops.profile(ctx.store, BOB, name=HOSTILE)
    ops.post(ctx.store, BOB, "bob's post")
    csrf = login(ctx, client)
    here = f"/u/{text_of(BOB)}"
    page = client.get(here).text
    assert 'action="/mute"' in page and 'name="private"' in page and 'action="/block"' in page
    assert 'href="/mutes"' in page
    form = {"csrf": csrf, "key": text_of(BOB), "next": here, "private": "on"}
    done = client.post("/mute", data=form, headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == here
    assert pub(BOB) in ctx.store.private_mutes() and not ctx.store.moderated("mute", ctx.me)
    page = client.get(here).text
    assert "You mute this key (privately" in page and 'action="/unmute"' in page
    assert "bob&#39;s post" in page  # as on Bluesky: the profile visited still shows them
    assert client.post("/mute", data=form, headers=ORIGIN).status_code == 200  # holds: back
    assert client.post("/mute", data={**form, "csrf": "x"}, headers=ORIGIN).status_code == 403
    client.post("/block", data=form, headers=ORIGIN)
    assert "You block this key and mute it" in client.get(here).text
    listing = client.get("/mutes").text
    assert HOSTILE not in listing and "onerror=alert(1)&gt;" in listing
    assert "private mute" in listing and 'action="/unblock"' in listing
    client.post("/unblock", data=form, headers=ORIGIN)
    client.post("/unmute", data=form, headers=ORIGIN)
    assert "You mute and block nobody" in client.get("/mutes").text


def test_muted_by_those_you_trust_on_the_profile(ctx: WebContext, client: TestClient) -> None:
    ops.follow(ctx.store, key(1), text_of(CAROL))
    ops.mute(ctx.store, CAROL, text_of(BOB))
    login(ctx, client)
    assert "muted by 1 you trust" in client.get(f"/u/{text_of(BOB)}").text


def test_the_thread_shows_a_hidden_reply_as_an_escaped_placeholder(
    ctx: WebContext, client: TestClient
) -> None:
    root = ops.post(ctx.store, key(1), "my root post")
    ops.post(ctx.store, BOB, "bob's muted reply", reply_to=root.id.hex())
    ops.post(ctx.store, CAROL, "carol's reply", reply_to=root.id.hex())
    ops.profile(ctx.store, BOB, name=HOSTILE)
    ops.mute(ctx.store, key(1), text_of(BOB))
    login(ctx, client)
    page = client.get(f"/thread/{root.id.hex()}").text
    assert "hidden: <bdi" in page and "you muted &lt;script&gt;" in page
    assert HOSTILE not in page and "muted reply" not in page and "carol&#39;s reply" in page
    items = client.get(f"/api/v1/thread/{root.id.hex()}", headers=bearer(ctx, "read")).json()
    assert [i["text"] for i in items["items"]] == ["my root post", "carol's reply"]
